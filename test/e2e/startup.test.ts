/**
 * What the CLI loads to answer without a cluster: --help, --version, a command's --help and shell
 * completion never load the Kubernetes client library (about a second of start-up on its own); the
 * commands load it only when they connect. A module hook registered with `node --import` reports every
 * module resolved.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { repoRoot } from '../testbed/harness.js';

const cliPath = path.join(repoRoot, 'bin/flannel2calico.js');
let dir: string;
let register: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-startup-'));
  const hook = path.join(dir, 'hook.mjs');
  fs.writeFileSync(
    hook,
    `export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  process._rawDebug('resolved ' + resolved.url);
  return resolved;
}
`,
  );
  register = path.join(dir, 'register.mjs');
  fs.writeFileSync(
    register,
    `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hook}`)});\n`,
  );
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function modulesLoaded(args: string[]): { status: number; modules: string[] } {
  const r = spawnSync(process.execPath, ['--import', register, cliPath, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: path.join(dir, 'no-kubeconfig') },
    timeout: 60_000,
  });
  const modules = (r.stderr ?? '')
    .split('\n')
    .filter((l) => l.startsWith('resolved '))
    .map((l) => l.slice('resolved '.length));
  return { status: r.status ?? 1, modules };
}

describe('start-up', () => {
  it.each(['--help', '--version', 'plan --help', 'migrate --help', 'status --help', 'completion bash'])(
    '`flannel2calico %s` answers without loading the Kubernetes client',
    (line) => {
      const { status, modules } = modulesLoaded(line.split(' '));
      expect(status).toBe(0);
      expect(modules.some((m) => m.includes('/dist/cli/main.js'))).toBe(true);
      expect(modules.filter((m) => m.includes('@kubernetes/client-node'))).toEqual([]);
    },
  );

  it('a command that reads the cluster loads it (the hook sees it)', () => {
    const { modules } = modulesLoaded(['detect']);
    expect(modules.some((m) => m.includes('@kubernetes/client-node'))).toBe(true);
  });
});
