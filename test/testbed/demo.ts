/**
 * `npm run demo`: a whole migration on the test bed, with the commands an operator would type.
 * Starts a 4-node cluster (1 control plane) with flannel and workloads, then runs detect, plan,
 * a canary node, the remaining batches, status, finalize and report, and stops the cluster.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  binDir,
  fixturesDir,
  installFlannel,
  installWorkloads,
  repoRoot,
  scaleDeployment,
  startTestbed,
  testbedDir,
  waitForPdb,
  type Testbed,
} from './harness.js';

const NAME = 'flannel2calico-demo';
const demoDir = path.join(testbedDir, 'demo');
const reportDir = path.join(demoDir, 'report');
const manifest = path.join(fixturesDir, 'calico-v3.32.1', 'flannel-migration-calico.yaml');
const tty = Boolean(process.stdout.isTTY);
const bold = (s: string) => (tty && !process.env.NO_COLOR ? `\x1b[1m${s}\x1b[22m` : s);

function say(text: string): void {
  process.stdout.write(`\n${bold(`## ${text}`)}\n`);
}

/** Runs the CLI as a user would, in this terminal; returns its exit code. */
function run(tb: Testbed, args: string[], capture = false): { status: number; stdout: string; stderr: string } {
  const shown = args.map((a) => (a === manifest ? path.relative(process.cwd(), manifest) : a)).join(' ');
  process.stdout.write(`${bold(`$ flannel2calico ${shown}`)}\n`);
  const r = spawnSync(
    process.execPath,
    [path.join(repoRoot, 'bin', 'flannel2calico.js'), '--kubeconfig', tb.kubeconfig, ...args],
    {
      stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      encoding: 'utf8',
      env: { ...process.env, XDG_STATE_HOME: path.join(demoDir, 'state') },
    },
  );
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function must(r: { status: number }, what: string, allowed: number[] = [0]): void {
  if (!allowed.includes(r.status)) throw new Error(`${what} exited with ${r.status}; the demo stops here`);
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(binDir, 'kube-apiserver'))) {
    process.stdout.write(
      `The test bed's control plane is not built yet (${binDir}): building it once (about 8 ` +
        `minutes, needs Go ≥ 1.24)…\n`,
    );
    must(
      { status: spawnSync('bash', [path.join(repoRoot, 'test/testbed/prepare.sh')], { stdio: 'inherit' }).status ?? 1 },
      'test/testbed/prepare.sh',
    );
  }
  fs.rmSync(demoDir, { recursive: true, force: true });
  fs.mkdirSync(demoDir, { recursive: true });
  const started = Date.now();
  say('A test cluster: 1 control-plane node and 3 workers (a real API server; kwok plays the kubelets)');
  const tb = await startTestbed({ name: NAME, nodes: 4, controlPlane: 1, persistent: true });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nStopping the test cluster…\n');
    await tb.down();
  };
  process.once('SIGINT', () => {
    void stop().then(() => process.exit(130));
  });
  try {
    process.stdout.write('Installing flannel (kube-flannel.yml, VXLAN) and workloads with PodDisruptionBudgets…\n');
    await installFlannel(tb);
    await installWorkloads(tb);
    // The api Deployment's PDB (minAvailable 2) allows a disruption only with a third replica.
    await scaleDeployment(tb, 'apps', 'api', 3);
    await waitForPdb(tb, 'apps', 'api');
    process.stdout.write(
      `Cluster ready in ${((Date.now() - started) / 1000).toFixed(0)} s. Its kubeconfig: ${tb.kubeconfig}\n`,
    );

    say('1. What is installed, and can it be migrated?');
    must(run(tb, ['detect']), 'detect');

    say('2. The plan: node order, batches, what each drain evicts (nothing is changed)');
    const planFile = path.join(demoDir, 'plan.json');
    must(run(tb, ['plan', '--max-parallel', '3', '--force', '--delete-emptydir-data', '--out', planFile]), 'plan');

    say('3. A canary node first: one worker, then check it');
    must(
      run(tb, [
        'migrate',
        '--yes',
        '--no-finalize',
        '--nodes',
        'worker-0',
        '--force',
        '--delete-emptydir-data',
        '--calico-manifest',
        manifest,
      ]),
      'migrate (canary)',
    );
    const status = run(tb, ['status'], true);
    if (/not available/.test(status.stderr))
      process.stdout.write('(`status` is not available in this version: skipped)\n');
    else process.stdout.write(status.stdout + status.stderr);

    say('4. The other workers together (--max-parallel 3), then the control-plane node on its own');
    must(
      run(tb, ['migrate', '--yes', '--no-finalize', '--max-parallel', '3', '--force', '--delete-emptydir-data']),
      'migrate',
    );
    const after = run(tb, ['status'], true);
    if (!/not available/.test(after.stderr)) process.stdout.write(after.stdout + after.stderr);

    say('5. Finalize: remove flannel and the migration labels');
    must(run(tb, ['migrate', '--yes', '--finalize']), 'migrate --finalize');

    say('6. The report for the change ticket');
    must(run(tb, ['report', '--out-dir', reportDir]), 'report');
    const md = fs.readFileSync(path.join(reportDir, 'report.md'), 'utf8');
    process.stdout.write(`\n${md.split('\n## Where time went')[0].split('## Node by node')[1] ?? ''}`);
    process.stdout.write(
      `\n${bold('Done')} in ${((Date.now() - started) / 1000).toFixed(0)} s. The report: ${path.relative(process.cwd(), path.join(reportDir, 'report.md'))}` +
        ` (timeline: ${path.relative(process.cwd(), path.join(reportDir, 'timeline.svg'))}); the ` +
        `audit log: ${path.relative(process.cwd(), path.join(demoDir, 'state', 'flannel2calico', 'audit.ndjson'))}\n`,
    );
  } finally {
    await stop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`demo failed: ${err.message}\n`);
  process.exitCode = 1;
});
