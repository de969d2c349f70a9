// Times buildPlan on a synthetic large cluster: 1,000 nodes (3 control-plane), 30,000 pods
// (DaemonSet pods on every node, Deployments, StatefulSets, finished Jobs, emptyDir and bare pods),
// 120 PodDisruptionBudgets. Runs against the compiled planner: `npx tsc -p tsconfig.json` first.
// Usage: npm run bench:plan [-- --runs N]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { buildPlan } from '../../dist/plan/planner.js';
import { stateHash } from '../../dist/plan/fingerprint.js';
import { CONTROL_PLANE, makeSnapshot } from './synthetic-cluster.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const RUNS = Math.max(1, Number(values.runs));

const { snapshot, detection } = makeSnapshot();
const options = { maxParallel: '10%', force: true, deleteEmptyDirData: true };
console.log(
  `synthetic cluster: ${snapshot.nodes.length} nodes (${CONTROL_PLANE} control-plane), ${snapshot.pods.length} pods, ${snapshot.pdbs.length} PDBs`,
);

const times = [];
let plan;
for (let i = 0; i < RUNS; i++) {
  const started = performance.now();
  plan = buildPlan(snapshot, detection, options);
  times.push(performance.now() - started);
}
const hashStarted = performance.now();
stateHash(snapshot);
const hashMs = performance.now() - hashStarted;

const sorted = [...times].sort((a, b) => a - b);
const median =
  sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
const ms = (v) => `${v.toFixed(0)} ms`;
const levels = plan.preflight.reduce((acc, f) => ({ ...acc, [f.level]: (acc[f.level] ?? 0) + 1 }), {});
console.log(
  `plan: ${plan.nodes.length} nodes in ${plan.batches.length} batches, ${plan.nodes.reduce((n, x) => n + x.ipam.blocks.length, 0)} blocks, ` +
    `${plan.nodes.reduce((n, x) => n + x.pods.length, 0)} pod dispositions, findings ${JSON.stringify(levels)}, ${(JSON.stringify(plan).length / 1e6).toFixed(1)} MB as JSON`,
);
console.log(
  `buildPlan over ${RUNS} runs: median ${ms(median)}, min ${ms(sorted[0])}, max ${ms(sorted[sorted.length - 1])} (first run ${ms(times[0])})`,
);
console.log(`stateHash alone: ${ms(hashMs)}`);
