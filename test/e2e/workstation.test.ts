/**
 * The operator's workstation: the package installed from its tarball into a clean prefix, run as
 * `flannel2calico` and as the kubectl plugin; shell completion loaded in bash; and what the CLI
 * writes on a real terminal, in a pipe, under CI, without colour, and on a terminal of 0 columns.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { binDir, installFlannel, kubectlOk, repoRoot, startTestbed, type Testbed } from '../testbed/harness.js';

const cliPath = path.join(repoRoot, 'bin/flannel2calico.js');
// eslint-disable-next-line no-control-regex
const CONTROL = /\x1b\[/;
const SPINNER_FRAME = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000): Run {
  const base: Record<string, string | undefined> = { ...process.env };
  delete base.NO_COLOR;
  delete base.FORCE_COLOR;
  delete base.CI;
  const r = spawnSync(cmd, args, { cwd: repoRoot, encoding: 'utf8', env: { ...base, ...env }, timeout: timeoutMs });
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Runs the CLI in a pseudo-terminal of the given size; the transcript mixes stdout and stderr. */
function inPty(
  args: string[],
  env: Record<string, string | undefined> = {},
  size = '40,160',
): { status: number; output: string } {
  const r = run(
    'python3',
    [path.join(repoRoot, 'test/e2e/pty-run.py'), '60', '[]', '--', process.execPath, cliPath, ...args],
    { TERM: 'xterm-256color', PTY_SIZE: size, ...env },
    90_000,
  );
  return { status: r.status, output: r.stdout + r.stderr };
}

describe('on the workstation', () => {
  let tb: Testbed;
  let work = '';

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-workstation-'));
    tb = await startTestbed({ nodes: 2 });
    await installFlannel(tb);
  }, 180_000);

  afterAll(async () => {
    await tb?.down();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  describe('the package', () => {
    let prefix = '';
    let tarball = '';

    beforeAll(() => {
      // dist/ is built by `npm test`; --ignore-scripts skips the prepack rebuild.
      const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work]);
      expect(pack.status).toBe(0);
      tarball = path.join(work, (JSON.parse(pack.stdout) as Array<{ filename: string }>)[0].filename);
      prefix = path.join(work, 'prefix');
      // From the npm cache when it has every dependency (as after `npm ci`), else from the registry.
      let install = run(
        'npm',
        ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball],
        {},
        300_000,
      );
      if (install.status !== 0)
        install = run(
          'npm',
          ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball],
          {},
          300_000,
        );
      expect(install.stderr).not.toMatch(/ERR!/);
      expect(install.status).toBe(0);
    }, 320_000);

    it('holds the CLI, its host scripts and its docs, and no tests or TypeScript sources', () => {
      const list = run('tar', ['-tzf', tarball]).stdout.split('\n').filter(Boolean);
      expect(list).toEqual(
        expect.arrayContaining([
          'package/bin/flannel2calico.js',
          'package/dist/cli/main.js',
          'package/src/host/cleanup.sh',
          'package/docs/quickstart.md',
          'package/README.md',
        ]),
      );
      expect(
        list.filter((f) => f.startsWith('package/test/') || (f.startsWith('package/src/') && f.endsWith('.ts'))),
      ).toEqual([]);
    });

    it('installs flannel2calico and kubectl-flannel2calico into the prefix; --help runs', () => {
      for (const name of ['flannel2calico', 'kubectl-flannel2calico'])
        expect(fs.existsSync(path.join(prefix, 'bin', name))).toBe(true);
      const help = run(path.join(prefix, 'bin', 'flannel2calico'), ['--help']);
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(/Usage: flannel2calico/);
      for (const command of ['detect', 'plan', 'migrate', 'status', 'revert', 'report', 'completion'])
        expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    });

    it('runs detect against a cluster, installed', () => {
      const r = run(path.join(prefix, 'bin', 'flannel2calico'), [
        '--kubeconfig',
        tb.kubeconfig,
        'detect',
        '-o',
        'json',
      ]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc).toMatchObject({
        kind: 'Detection',
        ok: true,
        flavour: 'flannel',
        daemonSet: { namespace: 'kube-flannel', name: 'kube-flannel-ds' },
      });
    });

    it('runs as a kubectl plugin: `kubectl flannel2calico …` finds it on PATH', () => {
      const env = {
        PATH: `${path.join(prefix, 'bin')}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
        KUBECONFIG: tb.kubeconfig,
      };
      const kubectl = path.join(binDir, 'kubectl');
      const list = run(kubectl, ['plugin', 'list'], env);
      expect(list.stdout).toContain(path.join(prefix, 'bin', 'kubectl-flannel2calico'));
      const detect = run(kubectl, ['flannel2calico', 'detect'], env);
      expect(detect.status).toBe(0);
      expect(detect.stdout).toMatch(/flannel DaemonSet kube-flannel\/kube-flannel-ds/);
      const help = run(kubectl, ['flannel2calico', 'status', '--help'], env);
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(/Usage: flannel2calico status[\s\S]*Global Options:[\s\S]*--kubeconfig/);
      const status = run(kubectl, ['flannel2calico', 'status', '-o', 'json'], env);
      expect(status.stderr).toBe('');
      expect(status.status).toBe(0);
      const doc = JSON.parse(status.stdout) as { nodes: Array<{ name: string }> };
      expect(doc.nodes.map((n) => n.name).sort()).toEqual([...tb.nodeNames].sort());
    });
  });

  describe('shell completion', () => {
    function complete(line: string): string[] {
      const words = line.split(' ');
      const script = `source <(${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)} completion bash)
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; COMP_LINE='${line}'; COMP_POINT=\${#COMP_LINE}
_flannel2calico; printf '%s\\n' "\${COMPREPLY[@]}"; complete -p kubectl-flannel2calico >/dev/null && echo '(plugin registered)'`;
      const r = run('bash', ['--norc', '--noprofile', '-c', script]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      return r.stdout.split('\n').filter(Boolean);
    }

    it('loads in bash and completes subcommands, their options and option values', () => {
      expect(complete('flannel2calico ')).toEqual(
        expect.arrayContaining([
          'detect',
          'plan',
          'migrate',
          'status',
          'revert',
          'report',
          'completion',
          '(plugin registered)',
        ]),
      );
      expect(complete('flannel2calico st')).toEqual(['status', '(plugin registered)']);
      expect(complete('flannel2calico --kubeconfig /tmp/kc mig')).toEqual(['migrate', '(plugin registered)']);
      expect(complete('flannel2calico migrate --calico-m')).toEqual(['--calico-manifest', '(plugin registered)']);
      expect(complete('flannel2calico plan -o j')).toEqual(['json', '(plugin registered)']);
      expect(complete('flannel2calico status --kube')).toEqual(['--kubeconfig', '(plugin registered)']);
    });

    it('prints a zsh script that registers both names, and refuses other shells with exit 2', () => {
      const zsh = run(process.execPath, [cliPath, 'completion', 'zsh']);
      expect(zsh.status).toBe(0);
      expect(zsh.stdout).toMatch(/^#compdef flannel2calico kubectl-flannel2calico/);
      expect(zsh.stdout).toMatch(/migrate\) _arguments \$globals .*'--calico-manifest\[/);
      // zsh loads it and registers the completion function for both command names.
      const script =
        `autoload -U compinit && compinit -u -D; source <(${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)} ` +
        `completion zsh); print -r -- "\${_comps[flannel2calico]} ` +
        `\${_comps[kubectl-flannel2calico]}"`;
      const loaded = run('zsh', ['-f', '-c', script]);
      expect(loaded.stderr).toBe('');
      expect(loaded.stdout.trim()).toBe('_flannel2calico _flannel2calico');
      const fish = run(process.execPath, [cliPath, 'completion', 'fish']);
      expect(fish.status).toBe(2);
      expect(fish.stderr).toMatch(/Allowed choices are bash, zsh/);
    });
  });

  describe('terminal behaviour', () => {
    it('on a terminal: a spinner while reading, and colour', () => {
      const r = inPty(['--kubeconfig', tb.kubeconfig, 'detect']);
      expect(r.status).toBe(0);
      expect(r.output).toMatch(SPINNER_FRAME);
      expect(r.output).toMatch(/\x1b\[32m✔/); // eslint-disable-line no-control-regex
    });

    it('piped: plain lines without control codes', () => {
      const r = run(process.execPath, [cliPath, '--kubeconfig', tb.kubeconfig, 'detect']);
      expect(r.status).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(CONTROL);
      expect(r.stdout).toMatch(/✔ migration can proceed/);
    });

    it.each([
      ['CI=true', { CI: 'true' }, []],
      ['NO_COLOR=1', { NO_COLOR: '1' }, []],
      ['--no-color', {}, ['--no-color']],
    ])('on a terminal with %s: no colour codes', (_name, env, flags) => {
      const r = inPty([...flags, '--kubeconfig', tb.kubeconfig, 'detect'], env);
      expect(r.status).toBe(0);
      expect(r.output).toMatch(/✔ migration can proceed/);
      expect(r.output).not.toMatch(/\x1b\[3\dm/); // eslint-disable-line no-control-regex
      if (_name === 'CI=true') expect(r.output).not.toMatch(CONTROL);
    });

    it('a terminal reporting 0 columns does not hang, and gets plain lines', () => {
      const r = inPty(['--kubeconfig', tb.kubeconfig, 'detect'], {}, '0,0');
      expect(r.status).toBe(0);
      expect(r.output).toMatch(/migration can proceed/);
      expect(r.output).not.toMatch(SPINNER_FRAME);
    });

    it('errors say what happened and what to do, in red on a terminal, plain in a pipe', () => {
      const kc = path.join(work, 'unreachable.kubeconfig');
      fs.writeFileSync(
        kc,
        `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: ` +
          `"https://127.0.0.1:9"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, ` +
          `context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
      );
      const piped = run(process.execPath, [cliPath, '--kubeconfig', kc, 'detect']);
      expect(piped.status).toBe(1);
      expect(piped.stderr).toMatch(/^error: .*127\.0\.0\.1:9/m);
      expect(piped.stderr).toMatch(/^hint: /m);
      expect(piped.stderr).not.toMatch(CONTROL);
      const tty = inPty(['--kubeconfig', kc, 'detect']);
      expect(tty.output).toMatch(/\x1b\[31merror:/); // eslint-disable-line no-control-regex
    });

    describe('reading a large cluster', () => {
      beforeAll(() => {
        // 1,100 pods that never get a node: three pages of the pod list, without load on the nodes.
        const pods = Array.from({ length: 1100 }, (_, i) => ({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `pending-${i}`, namespace: 'default' },
          spec: { nodeSelector: { 'example.com/no-such-node': 'true' }, containers: [{ name: 'c', image: 'busybox' }] },
        }));
        kubectlOk(tb, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }));
      }, 180_000);

      it('plan shows how many objects it has read: a spinner on a terminal', () => {
        const r = inPty(['--kubeconfig', tb.kubeconfig, 'plan']);
        expect([0, 3]).toContain(r.status);
        expect(r.output).toMatch(/reading .*nodes, pods.*: .*\d+ Pods/);
        expect(r.output).toMatch(/read .*110\d Pods/);
      });

      it('plan shows how many objects it has read: a line per long list in a pipe', () => {
        const r = run(process.execPath, [cliPath, '--kubeconfig', tb.kubeconfig, 'plan']);
        expect([0, 3]).toContain(r.status);
        expect(r.stderr).toMatch(/^\d\d:\d\d:\d\d read 110\d Pods$/m);
        expect(r.stderr).not.toMatch(CONTROL);
      });
    });
  });
});
