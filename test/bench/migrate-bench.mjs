// Times a whole migration on the test bed, in the shape Calico's own controller was measured in:
// N nodes (node 0 the control plane), (N-1) Deployments of 3 pods, each with a PDB maxUnavailable 1.
// Prints wall time and time per node for --max-parallel 1 (and, with --parallel P, for P at once).
// Usage: npm run bench:migrate [-- --nodes 10 --parallel 3]
// Needs the test-bed binaries (npm run testbed:build) and a build (npm run build).
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
execFileSync('npx', ['tsc', '-p', 'test/testbed/tsconfig.json'], { cwd: repo, stdio: 'inherit' });
const { startTestbed, installFlannel, kubectlOk, waitForDeployment, fixturesDir } = await import(path.join(repo, '.testbed/build/harness.js'));

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '10' }, parallel: { type: 'string', default: '' } } });
const nodes = Number(values.nodes);
const manifest = path.join(fixturesDir, 'calico-v3.32.1/flannel-migration-calico.yaml');

function workloads(count) {
  const docs = [];
  for (let i = 0; i < count; i++) {
    docs.push(`apiVersion: apps/v1
kind: Deployment
metadata: {name: app-${i}, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: app-${i}}}
  template:
    metadata: {labels: {app: app-${i}}}
    spec: {containers: [{name: app, image: nginx}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: app-${i}, namespace: default}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: app-${i}}}}`);
  }
  return docs.join('\n---\n');
}

async function run(maxParallel) {
  const tb = await startTestbed({ nodes, controlPlane: 1 });
  try {
    await installFlannel(tb);
    kubectlOk(tb, ['apply', '-f', '-'], workloads(nodes - 1));
    for (let i = 0; i < nodes - 1; i++) await waitForDeployment(tb, 'default', `app-${i}`, 120_000);
    const started = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [path.join(repo, 'bin/flannel2calico.js'), '--kubeconfig', tb.kubeconfig, 'migrate', '--yes', '--finalize',
      '--max-parallel', String(maxParallel), '--calico-manifest', manifest], { cwd: repo, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (r.status !== 0) throw new Error(`migrate failed (exit ${r.status}):\n${r.stderr}`);
    const perNode = [...r.stderr.matchAll(/: migrated in ([\d.]+) s/g)].map((m) => Number(m[1]));
    console.log(`${nodes} nodes, --max-parallel ${maxParallel}: ${seconds.toFixed(1)} s wall, ${(seconds / nodes).toFixed(2)} s per node` +
      ` (node steps: median ${perNode.sort((a, b) => a - b)[Math.floor(perNode.length / 2)]?.toFixed(1)} s, max ${Math.max(...perNode).toFixed(1)} s)`);
  } finally {
    await tb.down();
  }
}

await run(1);
if (values.parallel) await run(Number(values.parallel));
