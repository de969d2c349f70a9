/**
 * Every node step checks the cluster before it acts: it acts when its work is not done, does not
 * write again when the cluster already shows the work done (a crash between the act and its
 * record), and is not started at all once recorded as done. A rerun of a finished run changes nothing.
 */
import { describe, expect, it } from '@jest/globals';
import { MIGRATION_LABEL } from '../../src/names.js';
import { NODE_STEPS, type NodeStep } from '../../src/engine/events.js';
import {
  cleanupJob,
  fakeCluster,
  migrate,
  nodeEvents,
  nodeObject,
  nodeState,
  plan,
  stepsStarted,
  workloadPod,
  FLANNEL_DS,
} from './engine-fixtures.js';
import type { Call, FakeCluster } from './fake-cluster.js';

const NODE = 'worker-1';

const nodePatches = (calls: Call[], test: (body: any) => boolean) =>
  calls.filter((c) => c.ok && c.verb === 'patch' && c.kind === 'Node' && c.name === NODE && test(c.body));
const patchesNode = (calls: Call[], test: (body: any) => boolean) => nodePatches(calls, test).length > 0;
const STATE = 'flannel2calico.io/state';

interface StepRow {
  step: NodeStep;
  /** The step's own write, seen in the calls of a run. */
  acted: (calls: Call[]) => boolean;
  /**
   * Makes the cluster show the step's work as done although it is not recorded (undefined: the step has nothing to
   * check).
   */
  alreadyDone?: (cluster: FakeCluster) => void;
  /**
   * The step's node patch is also the record of its state (one write, not a check then a write): when
   * the cluster already shows it done, that one patch is sent, unchanged in effect, and nothing else.
   */
  recordedInPatch?: boolean;
}

const label = (value: string) => (b: any) => b?.metadata?.labels?.[MIGRATION_LABEL] === value;
const withLabel = (cluster: FakeCluster, value: string) => {
  const node = cluster.peek('Node', NODE)!;
  cluster.put({
    ...node,
    metadata: { ...node.metadata, labels: { ...node.metadata!.labels, [MIGRATION_LABEL]: value } },
  });
};

const ROWS: StepRow[] = [
  {
    step: 'cordon',
    recordedInPatch: true,
    acted: (calls) => patchesNode(calls, (b) => b?.spec?.unschedulable === true),
    alreadyDone: (cluster) => cluster.put({ ...cluster.peek('Node', NODE)!, spec: { unschedulable: true } }),
  },
  {
    step: 'drain',
    acted: (calls) => calls.some((c) => c.ok && c.verb === 'evict' && c.name === `web-${NODE}`),
    alreadyDone: (cluster) => cluster.remove('Pod', `web-${NODE}`, 'default'),
  },
  {
    step: 'stop-flannel',
    recordedInPatch: true,
    acted: (calls) => patchesNode(calls, label('none')),
    alreadyDone: (cluster) => withLabel(cluster, 'none'),
  },
  {
    step: 'host-cleanup',
    acted: (calls) =>
      calls.some((c) => c.ok && c.verb === 'create' && c.kind === 'Job' && c.name === cleanupJob(NODE).metadata!.name),
    alreadyDone: (cluster) => cluster.put(cleanupJob(NODE)),
  },
  {
    step: 'start-calico',
    recordedInPatch: true,
    acted: (calls) => patchesNode(calls, label('calico')),
    alreadyDone: (cluster) => withLabel(cluster, 'calico'),
  },
  // A proof, not a change: it runs again until it is recorded as done.
  {
    step: 'probe',
    acted: (calls) =>
      calls.some((c) => c.ok && c.verb === 'create' && c.kind === 'Pod' && c.name!.startsWith('f2c-probe-server-')),
  },
  {
    step: 'uncordon',
    recordedInPatch: true,
    acted: (calls) => patchesNode(calls, (b) => b?.spec?.unschedulable === false),
    alreadyDone: (cluster) => cluster.put({ ...cluster.peek('Node', NODE)!, spec: {} }),
  },
  {
    step: 'done',
    acted: (calls) =>
      patchesNode(calls, (b) =>
        JSON.parse(b?.metadata?.annotations?.['flannel2calico.io/state'] ?? '{}').completed?.includes('done'),
      ),
  },
];

/** The cluster as it is when every step before `step` is done and recorded. */
function clusterAt(step: NodeStep, recorded: NodeStep[] = NODE_STEPS.slice(0, NODE_STEPS.indexOf(step))): FakeCluster {
  const done = (s: NodeStep) => NODE_STEPS.indexOf(s) < NODE_STEPS.indexOf(step);
  const networkLabel = done('start-calico') ? 'calico' : done('stop-flannel') ? 'none' : 'flannel';
  const node = nodeObject(NODE, {
    label: networkLabel,
    unschedulable: done('cordon') && !done('uncordon'),
    state: { step, completed: recorded },
  });
  const peer = nodeObject('peer', { label: 'flannel' });
  const cluster = fakeCluster([node, peer], { pods: false });
  if (!done('drain')) cluster.put(workloadPod(NODE, `web-${NODE}`));
  if (done('host-cleanup')) cluster.put(cleanupJob(NODE));
  return cluster;
}

describe.each(ROWS)('step $step', ({ step, acted, alreadyDone, recordedInPatch }) => {
  it('acts when it is not done', async () => {
    const cluster = clusterAt(step);
    const { outcome, recorded } = await migrate(cluster, plan([[NODE]]));
    expect(outcome).toMatchObject({ status: 'completed', migrated: [NODE] });
    // `done` is recorded by the uncordon step's node patch; it runs alone only after an older record.
    expect(stepsStarted(recorded, NODE)).toEqual(
      NODE_STEPS.slice(NODE_STEPS.indexOf(step)).filter((s) => s !== 'done' || step === 'done'),
    );
    expect(acted(cluster.calls)).toBe(true);
    expect(nodeState(cluster, NODE)?.completed).toEqual(NODE_STEPS);
  });

  it('is not started once recorded as done', async () => {
    const next = NODE_STEPS[NODE_STEPS.indexOf(step) + 1];
    const cluster = clusterAt(step, NODE_STEPS.slice(0, NODE_STEPS.indexOf(step) + 1));
    const { outcome, recorded } = await migrate(cluster, plan([[NODE]]));
    expect(outcome).toMatchObject({ status: 'completed', migrated: [NODE] });
    expect(stepsStarted(recorded, NODE)).not.toContain(step);
    expect(stepsStarted(recorded, NODE)[0]).toBe(next);
  });

  if (alreadyDone && !recordedInPatch) {
    it('checks first: no second write when the cluster already shows it done', async () => {
      const cluster = clusterAt(step);
      alreadyDone(cluster);
      const { outcome, recorded } = await migrate(cluster, plan([[NODE]]));
      expect(outcome).toMatchObject({ status: 'completed', migrated: [NODE] });
      expect(stepsStarted(recorded, NODE)[0]).toBe(step);
      expect(acted(cluster.calls)).toBe(false);
    });
  }

  if (alreadyDone && recordedInPatch) {
    it('writes once when the cluster already shows it done: the patch that records the state', async () => {
      const cluster = clusterAt(step);
      alreadyDone(cluster);
      const { outcome, recorded } = await migrate(cluster, plan([[NODE]]));
      expect(outcome).toMatchObject({ status: 'completed', migrated: [NODE] });
      expect(stepsStarted(recorded, NODE)[0]).toBe(step);
      const patches = nodePatches(cluster.calls, (b) =>
        acted([{ verb: 'patch', kind: 'Node', name: NODE, ok: true, body: b } as Call]),
      );
      expect(patches).toHaveLength(1);
      expect(JSON.parse((patches[0].body as any).metadata.annotations[STATE]).step).toBe(step);
      expect(nodeState(cluster, NODE)?.completed).toEqual(NODE_STEPS);
    });
  }
});

describe('rerunning a finished migration', () => {
  it('changes no node and starts no step', async () => {
    const cluster = fakeCluster([nodeObject('a'), nodeObject('b')]);
    await migrate(cluster, plan([['a', 'b']]));
    const before = cluster.calls.length;
    const { outcome, recorded } = await migrate(cluster, plan([['a', 'b']]));
    expect(outcome).toMatchObject({ status: 'completed', migrated: ['a', 'b'] });
    expect(recorded.events.filter((e) => e.type === 'step-start')).toEqual([]);
    const rerun = cluster.calls.slice(before);
    expect(rerun.filter((c) => c.ok && c.kind === 'Node' && !['get', 'list', 'watch'].includes(c.verb))).toEqual([]);
    expect(rerun.filter((c) => c.ok && (c.verb === 'evict' || (c.verb === 'create' && c.kind === 'Job')))).toEqual([]);
    expect(rerun.filter((c) => c.kind === 'Event')).toEqual([]);
    for (const n of ['a', 'b']) expect(nodeEvents(cluster, n).map((e) => e.reason)).toEqual(['Migrated']);
  });

  it('leaves a node the operator had cordoned cordoned', async () => {
    const cluster = fakeCluster([nodeObject('a', { unschedulable: true })]);
    const { outcome } = await migrate(cluster, plan([['a']]));
    expect(outcome.status).toBe('completed');
    expect(cluster.peek('Node', 'a')?.spec?.unschedulable).toBe(true);
    expect(cluster.changes('Node').some((c) => (c.body as any)?.spec?.unschedulable === false)).toBe(false);
  });

  it('restricts flannel to unmigrated nodes once, and labels every node', async () => {
    const cluster = fakeCluster([nodeObject('a'), nodeObject('b')]);
    await migrate(cluster, plan([['a']]));
    await migrate(cluster, plan([['a']]));
    expect(cluster.peek('DaemonSet', FLANNEL_DS.name, FLANNEL_DS.namespace)?.spec.template.spec.nodeSelector).toEqual({
      [MIGRATION_LABEL]: 'flannel',
    });
    expect(cluster.changes('DaemonSet').filter((c) => c.name === FLANNEL_DS.name)).toHaveLength(1);
    expect(cluster.peek('Node', 'b')?.metadata?.labels?.[MIGRATION_LABEL]).toBe('flannel');
  });
});
