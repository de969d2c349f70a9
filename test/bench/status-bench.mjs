// Times the status read model and its text rendering on a synthetic 1,000-node cluster in the middle
// of a migration (migrated, failed, in-progress and pending nodes, flannel and calico-node pods).
// Runs against the compiled code: `npm run build` first. Usage: npm run bench:status [-- --runs N]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Chalk } from 'chalk';
import { buildStatus } from '../../dist/engine/status.js';
import { renderStatusText } from '../../dist/cli/status-render.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '7' }, nodes: { type: 'string', default: '1000' } },
});
const RUNS = Math.max(1, Number(values.runs));
const NODES = Number(values.nodes);
const LABEL = 'projectcalico.org/node-network-during-migration';
const now = new Date();
const iso = (s) => new Date(now.getTime() - s * 1000).toISOString();
const done = ['cordon', 'drain', 'stop-flannel', 'host-cleanup', 'start-calico', 'probe', 'uncordon', 'done'];

const nodes = [];
const flannelPods = [];
const calicoPods = [];
for (let i = 0; i < NODES; i++) {
  const name = `worker-${String(i).padStart(4, '0')}`;
  let network = 'flannel';
  let state;
  if (i < NODES * 0.6) {
    network = 'calico';
    state = {
      step: 'done',
      completed: done,
      wasUnschedulable: false,
      startedAt: iso(10000 - i * 5),
      updatedAt: iso(10000 - i * 5 - 4),
    };
  } else if (i < NODES * 0.6 + 5) {
    network = 'none';
    state = {
      step: 'host-cleanup',
      completed: done.slice(0, 3),
      wasUnschedulable: false,
      startedAt: iso(30),
      updatedAt: iso(5),
    };
  } else if (i === NODES - 1) {
    state = {
      step: 'drain',
      completed: ['cordon'],
      wasUnschedulable: false,
      startedAt: iso(600),
      updatedAt: iso(500),
      error: 'PodDisruptionBudget apps/api allows 0 disruption(s)',
    };
  }
  nodes.push({
    metadata: {
      name,
      labels: { [LABEL]: network },
      annotations: state ? { 'flannel2calico.io/state': JSON.stringify(state) } : {},
    },
    spec: { unschedulable: Boolean(state && !state.completed.includes('done')) },
  });
  const podOf = () => ({
    metadata: { name: `p-${name}` },
    spec: { nodeName: name },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  });
  if (network === 'flannel') flannelPods.push(podOf());
  if (network === 'calico') calicoPods.push(podOf());
}
const record = {
  phase: 'migrating',
  planHash: 'x',
  flavour: 'flannel',
  flannelDaemonSet: { name: 'kube-flannel-ds', namespace: 'kube-flannel' },
  calicoDaemonSet: 'calico-node',
  settings: {},
  nodeOrder: [],
  startedAt: iso(20000),
  updatedAt: iso(1),
};
const lease = { spec: { holderIdentity: 'ops@bastion/pid-1', leaseDurationSeconds: 30, renewTime: iso(2) } };
const chalk = new Chalk({ level: 1 });

const times = [];
let lines = 0;
for (let r = 0; r < RUNS; r++) {
  const t0 = performance.now();
  const doc = buildStatus({ now, record, lease, nodes, flannelPods, calicoPods });
  const text = renderStatusText(doc, chalk, { all: true });
  times.push(performance.now() - t0);
  lines = text.split('\n').length;
}
times.sort((a, b) => a - b);
console.log(
  `status: buildStatus + text render (--all, ${lines} lines) of ${NODES} nodes: median ${times[Math.floor(times.length / 2)].toFixed(1)} ms, min ${times[0].toFixed(1)} ms, max ${times[times.length - 1].toFixed(1)} ms over ${RUNS} runs (target 2,000 ms)`,
);
