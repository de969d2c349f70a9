/** How a migration run ends, and what it reports, when nodes vanish, fail together, resume or are interrupted. */
import { describe, expect, it } from '@jest/globals';
import {
  MANAGED_BY,
  MANAGED_BY_LABEL,
  MANAGED_BY_SELECTOR,
  MIGRATION_LABEL,
  STATE_NAMESPACE,
} from '../../src/names.js';
import { NODE_STEPS } from '../../src/engine/events.js';
import { readMigrationRecord } from '../../src/engine/state.js';
import { WaitTimeoutError } from '../../src/engine/waits.js';
import { parseNodeSummary } from '../../src/engine/node-summary.js';
import {
  fakeCluster,
  FLANNEL_DS,
  migrate,
  nodeEvents,
  nodeObject,
  nodeState,
  plan,
  stepsDone,
  stepsStarted,
  workloadPod,
} from './engine-fixtures.js';
import { serverError, type FakeCluster } from './fake-cluster.js';

const MIGRATED_MESSAGE = new RegExp(
  String.raw`^migrated to Calico in \d+\.\d s: cordon \d+\.\d s, drain \d+\.\d s, stop flannel \(label network=none\) ` +
    String.raw`\d+\.\d s, remove flannel from the host \d+\.\d s, start calico-node \(label network=calico\) \d+\.\d s, ` +
    String.raw`prove pod connectivity \d+\.\d s, uncordon \d+\.\d s$`,
);

/** The steps that act: `done` is recorded by the uncordon step's node patch. */
const ACTING_STEPS = NODE_STEPS.filter((s) => s !== 'done');

describe('a migration run against the in-memory cluster', () => {
  it('moves every planned node through every step and records it', async () => {
    const cluster = fakeCluster([nodeObject('a'), nodeObject('b')]);
    const { outcome, recorded } = await migrate(cluster, plan([['a'], ['b']]));
    expect(outcome).toMatchObject({ status: 'completed', migrated: ['a', 'b'], skipped: [], notInPlan: [] });
    for (const n of ['a', 'b']) {
      expect(stepsStarted(recorded, n)).toEqual(ACTING_STEPS);
      expect(nodeState(cluster, n)?.completed).toEqual(NODE_STEPS);
      expect(cluster.peek('Node', n)?.metadata?.labels?.[MIGRATION_LABEL]).toBe('calico');
    }
    expect(recorded.questions.map((q) => q.kind)).toEqual(['first-node', 'batch']);
    expect(recorded.audit.filter((a) => a.event === 'node-done')).toHaveLength(2);
  });

  it('writes one Migrated Event per node, naming every step in order with its duration', async () => {
    const cluster = fakeCluster([nodeObject('a'), nodeObject('b')]);
    const { recorded } = await migrate(cluster, plan([['a', 'b']]));
    for (const n of ['a', 'b']) {
      const events = nodeEvents(cluster, n);
      expect(events.map((e) => [e.type, e.reason])).toEqual([['Normal', 'Migrated']]);
      expect(events[0].message).toMatch(MIGRATED_MESSAGE);
      const summary = parseNodeSummary('migrate', NODE_STEPS, events[0].message)!;
      const done = stepsDone(recorded, n);
      expect(summary.steps.map((s) => s.step)).toEqual(done.map((s) => s.step));
      summary.steps.forEach((s, i) => expect(Math.abs(s.ms - done[i].ms)).toBeLessThanOrEqual(51));
    }
  });

  it('a node whose Event cannot be written is still migrated: Events are history, not state', async () => {
    const cluster = fakeCluster([nodeObject('a')]).fail({ verb: 'create', kind: 'Event' }, () => serverError(), 5);
    const { outcome, recorded } = await migrate(cluster, plan([['a']]));
    expect(outcome).toMatchObject({ status: 'completed', migrated: ['a'] });
    expect(cluster.writes('Event').map((c) => c.ok)).toEqual([undefined]);
    expect(recorded.events.some((e) => e.type === 'node-done' && e.node === 'a')).toBe(true);
  });

  it.each([
    ['between its cordon and the record of it', 'cordon'],
    ['during its drain', 'drain'],
    ['before its batch starts', 'before'],
  ])('a node deleted %s counts as skipped and is reported, not as migrated', async (_when, at) => {
    const cluster = fakeCluster([nodeObject('a'), nodeObject('b')]);
    const batches = at === 'before' ? [['a'], ['b']] : [['a', 'b']];
    cluster.after((call) => {
      if (
        at === 'cordon' &&
        call.verb === 'patch' &&
        call.kind === 'Node' &&
        call.name === 'b' &&
        (call.body as any)?.spec?.unschedulable === true
      )
        cluster.remove('Node', 'b');
      if (at === 'drain' && call.verb === 'evict' && call.name === 'web-b') cluster.remove('Node', 'b');
      if (
        at === 'before' &&
        call.verb === 'patch' &&
        call.kind === 'Node' &&
        call.name === 'a' &&
        (call.body as any)?.spec?.unschedulable === false
      )
        cluster.remove('Node', 'b');
    });
    const { outcome, recorded } = await migrate(cluster, plan(batches));
    expect(outcome).toMatchObject({ status: 'completed', migrated: ['a'], skipped: ['b'] });
    expect(
      recorded.events.some(
        (e) => e.type === 'warning' && e.node === 'b' && /b is skipped, not migrated/.test(e.message),
      ),
    ).toBe(true);
    expect(recorded.events.some((e) => e.type === 'node-failed')).toBe(false);
    expect((await readMigrationRecord(cluster))?.lastRun).toMatchObject({ outcome: 'completed', skipped: ['b'] });
  });

  it('a batch with two failures reports both, records both, and starts no later batch', async () => {
    const cluster = fakeCluster([nodeObject('a'), nodeObject('b'), nodeObject('c')], {
      jobOutcome: (job) => (job.metadata!.name!.startsWith('f2c-cleanup-') ? 'fail' : 'succeed'),
    });
    const { outcome } = await migrate(cluster, plan([['a', 'b'], ['c']]));
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    expect(outcome.failures.map((f) => [f.node, f.step])).toEqual([
      ['a', 'host-cleanup'],
      ['b', 'host-cleanup'],
    ]);
    expect(outcome.migrated).toEqual([]);
    const lastRun = (await readMigrationRecord(cluster))?.lastRun;
    expect(lastRun?.outcome).toBe('failed');
    expect(lastRun?.failures?.map((f) => f.node)).toEqual(['a', 'b']);
    for (const n of ['a', 'b'])
      expect(nodeEvents(cluster, n)).toEqual([
        {
          type: 'Warning',
          reason: 'MigrationStepFailed',
          message: expect.stringMatching(/^remove flannel from the host failed: host cleanup Job .* failed/),
        },
      ]);
    expect(nodeEvents(cluster, 'c')).toEqual([]);
    for (const n of ['a', 'b'])
      expect(nodeState(cluster, n)).toMatchObject({
        step: 'host-cleanup',
        completed: ['cordon', 'drain', 'stop-flannel'],
        error: expect.stringMatching(/host cleanup Job .* failed/),
      });
    expect(nodeState(cluster, 'c')).toBeUndefined();
    expect(cluster.peek('Node', 'c')?.spec?.unschedulable).toBeUndefined();
  });

  it('a resumed node continues from the step its half-finished state names, without draining again', async () => {
    const state = {
      step: 'host-cleanup' as const,
      completed: ['cordon', 'drain', 'stop-flannel'] as const,
      error: 'interrupted during remove flannel from the host',
    };
    const cluster = fakeCluster([
      nodeObject('a', { label: 'none', unschedulable: true, state: { ...state, completed: [...state.completed] } }),
    ]);
    const { outcome, recorded } = await migrate(cluster, plan([['a']]));
    expect(outcome).toMatchObject({ status: 'completed', migrated: ['a'] });
    expect(stepsStarted(recorded, 'a')).toEqual(['host-cleanup', 'start-calico', 'probe', 'uncordon']);
    expect(cluster.calls.filter((c) => c.verb === 'evict')).toEqual([]);
    // Its Event lists the steps this run did; those done by the earlier run are not.
    const events = nodeEvents(cluster, 'a');
    expect(events.map((e) => e.reason)).toEqual(['Migrated']);
    expect(events[0].message).toMatch(
      /^migrated to Calico in \d+\.\d s: remove flannel from the host \d+\.\d s, start calico-node /,
    );
    expect(parseNodeSummary('migrate', NODE_STEPS, events[0].message)?.steps.map((s) => s.step)).toEqual([
      'host-cleanup',
      'start-calico',
      'probe',
      'uncordon',
    ]);
    expect(nodeState(cluster, 'a')).toMatchObject({ completed: NODE_STEPS });
    expect(nodeState(cluster, 'a')?.error).toBeUndefined();
  });

  it('a node whose state annotation was cut off half-way starts over, every step checking first', async () => {
    const cluster = fakeCluster([
      nodeObject('a', { label: 'flannel', unschedulable: true, state: '{"operation":"migrate","step":"dra' }),
    ]);
    const { outcome, recorded } = await migrate(cluster, plan([['a']]));
    expect(outcome).toMatchObject({ status: 'completed', migrated: ['a'] });
    expect(stepsStarted(recorded, 'a')).toEqual(ACTING_STEPS);
    // Already cordoned: the cordon step's one patch is the record of its state (the unreadable one is replaced).
    const cordons = cluster.writes('Node').filter((c) => (c.body as any)?.spec?.unschedulable === true);
    expect(cordons).toHaveLength(1);
    expect(JSON.parse((cordons[0].body as any).metadata.annotations['flannel2calico.io/state'])).toMatchObject({
      step: 'cordon',
      completed: ['cordon'],
    });
    expect(nodeState(cluster, 'a')?.completed).toEqual(NODE_STEPS);
  });

  it('declining the first batch changes no node', async () => {
    const cluster = fakeCluster([nodeObject('a')]);
    const { outcome } = await migrate(cluster, plan([['a']]), { answer: () => 'no' });
    expect(outcome).toMatchObject({ status: 'declined', migrated: [] });
    expect(nodeState(cluster, 'a')).toBeUndefined();
    expect(cluster.writes('Node').some((c) => (c.body as any)?.spec)).toBe(false);
  });

  it('declining the Calico install ends the run as declined, with nothing installed and no node changed', async () => {
    const cluster = fakeCluster([nodeObject('a')]);
    const calico = cluster.peek('DaemonSet', 'calico-node', 'kube-system')!;
    cluster.remove('DaemonSet', 'calico-node', 'kube-system');
    const manifest = [
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'calico-node', namespace: 'kube-system' },
        spec: { ...calico.spec, template: { spec: {} } },
      },
    ];
    const { outcome, recorded } = await migrate(cluster, plan([['a']]), {
      calicoManifest: manifest,
      answer: (q) => (q.kind === 'install-calico' ? 'no' : 'yes'),
    });
    expect(outcome).toMatchObject({ status: 'declined', migrated: [] });
    expect(recorded.questions.map((q) => q.kind)).toEqual(['install-calico']);
    expect(cluster.peek('DaemonSet', 'calico-node', 'kube-system')).toBeUndefined();
    expect(cluster.changes('Node')).toEqual([]);
  });

  it('"all" answers the remaining batch questions', async () => {
    const cluster = fakeCluster([nodeObject('a'), nodeObject('b'), nodeObject('c')]);
    const { outcome, recorded } = await migrate(cluster, plan([['a'], ['b'], ['c']]), { answer: () => 'all' });
    expect(outcome).toMatchObject({ status: 'completed', migrated: ['a', 'b', 'c'] });
    expect(recorded.questions.map((q) => q.kind)).toEqual(['first-node']);
  });

  it(
    'Ctrl-C stops at the next step boundary: the running step finishes and is recorded, the ' + 'next is not started',
    async () => {
      const abort = new AbortController();
      const cluster = fakeCluster([nodeObject('a'), nodeObject('b')]);
      cluster.after((call) => {
        if (call.verb === 'create' && call.kind === 'Job' && call.name!.startsWith('f2c-cleanup-')) abort.abort();
      });
      const { outcome, recorded } = await migrate(cluster, plan([['a'], ['b']]), { signal: abort.signal });
      expect(outcome).toMatchObject({ status: 'interrupted', at: [{ node: 'a', step: 'start-calico' }], migrated: [] });
      expect(nodeState(cluster, 'a')?.completed).toEqual(['cordon', 'drain', 'stop-flannel', 'host-cleanup']);
      expect(stepsStarted(recorded, 'b')).toEqual([]);
      expect((await readMigrationRecord(cluster))?.lastRun?.outcome).toBe('interrupted');
    },
  );

  it('a node that joins during the run is labelled flannel and reported as not in the plan', async () => {
    const cluster = fakeCluster([nodeObject('a')]);
    cluster.after((call) => {
      if (
        call.verb === 'patch' &&
        call.kind === 'Node' &&
        call.name === 'a' &&
        (call.body as any)?.spec?.unschedulable === true &&
        !cluster.peek('Node', 'late')
      )
        cluster.put(nodeObject('late'));
    });
    const { outcome } = await migrate(cluster, plan([['a']]));
    expect(outcome).toMatchObject({ status: 'completed', migrated: ['a'], notInPlan: ['late'] });
    expect(cluster.peek('Node', 'late')?.metadata?.labels?.[MIGRATION_LABEL]).toBe('flannel');
  });

  it('writes the node five times: each node patch of a step carries the state, and nothing else does', async () => {
    const cluster = fakeCluster([nodeObject('a')]);
    await migrate(cluster, plan([['a']]));
    // preparation (label and annotations), cordon, stop flannel, start calico-node, uncordon (with done)
    expect(cluster.changes('Node').filter((c) => c.name === 'a')).toHaveLength(5);
    expect(nodeState(cluster, 'a')?.completed).toEqual(NODE_STEPS);
  });

  describe('once every batch is confirmed, nodes roll: the next starts as soon as one finishes', () => {
    const slowNodeCluster = () => {
      const cluster = fakeCluster(['a', 'b', 'c', 'd', 'e'].map((n) => nodeObject(n)));
      cluster.put(workloadPod('b', 'db-0'));
      // b's drain waits on a budget for a while: its batch partner c and the nodes after it need not.
      cluster.blockEviction('default', 'db-0', 'db-pdb', 40);
      return cluster;
    };
    const order = (recorded: Awaited<ReturnType<typeof migrate>>['recorded']) =>
      recorded.events.flatMap((e) =>
        e.type === 'node-done'
          ? [`${e.node} done`]
          : e.type === 'step-start' && e.step === 'cordon'
            ? [`${e.node} start`]
            : [],
      );

    it('with "all" (or --yes): d and e start while b still drains, never more than two at once', async () => {
      const cluster = slowNodeCluster();
      const { outcome, recorded } = await migrate(cluster, plan([['a'], ['b', 'c'], ['d', 'e']]), {
        answer: () => 'all',
      });
      expect(outcome).toMatchObject({ status: 'completed' });
      const seen = order(recorded);
      expect(seen.indexOf('e start')).toBeLessThan(seen.indexOf('b done'));
      let moving = 0;
      let most = 0;
      for (const entry of seen) {
        moving += entry.endsWith('start') ? 1 : -1;
        most = Math.max(most, moving);
      }
      expect(most).toBe(2);
      expect(recorded.events.filter((e) => e.type === 'batch-start')).toHaveLength(1);
    });

    it('answered batch by batch: each batch waits for the slowest node of the one before', async () => {
      const cluster = slowNodeCluster();
      const { outcome, recorded } = await migrate(cluster, plan([['a'], ['b', 'c'], ['d', 'e']]));
      expect(outcome).toMatchObject({ status: 'completed' });
      const seen = order(recorded);
      expect(seen.indexOf('d start')).toBeGreaterThan(seen.indexOf('b done'));
      expect(recorded.questions.map((q) => q.kind)).toEqual(['first-node', 'batch', 'batch']);
    });

    it('after a failure no further node starts; the nodes already moving finish and every failure is reported', async () => {
      const cluster = slowNodeCluster();
      // A pod no controller manages: the drain of c is refused (no --force).
      cluster.put({ ...workloadPod('c', 'bare-0'), metadata: { name: 'bare-0', namespace: 'default' } });
      const { outcome, recorded } = await migrate(cluster, plan([['a'], ['b', 'c'], ['d', 'e']]), {
        answer: () => 'all',
      });
      expect(outcome).toMatchObject({ status: 'failed', node: 'c', step: 'drain' });
      const seen = order(recorded);
      expect(seen).toContain('b done');
      // c failed while b was still draining: no node took its place.
      expect(seen).not.toContain('d start');
      const startedAfterFailure = recorded.events.findIndex((e) => e.type === 'node-failed');
      expect(
        recorded.events.slice(startedAfterFailure).some((e) => e.type === 'step-start' && e.step === 'cordon'),
      ).toBe(false);
    });

    it('control-plane nodes still move one at a time, after the workers', async () => {
      const cluster = fakeCluster(['a', 'b', 'c', 'cp-0', 'cp-1'].map((n) => nodeObject(n)));
      const p = plan([['a'], ['b', 'c'], ['cp-0'], ['cp-1']]);
      for (const n of p.nodes) if (n.name.startsWith('cp-')) n.role = 'control-plane';
      const { outcome, recorded } = await migrate(cluster, p, { answer: () => 'all' });
      expect(outcome).toMatchObject({ status: 'completed' });
      expect(order(recorded).slice(-4)).toEqual(['cp-0 start', 'cp-0 done', 'cp-1 start', 'cp-1 done']);
      const cpBatches = recorded.events.filter(
        (e) => e.type === 'batch-start' && e.nodes.some((n) => n.startsWith('cp-')),
      );
      expect(cpBatches.map((e) => (e.type === 'batch-start' ? e.nodes : []))).toEqual([['cp-0'], ['cp-1']]);
    });
  });
});

describe('finalize', () => {
  /**
   * A pod of flannel's DaemonSet whose finalizer holds it after its DaemonSet is deleted, until the test lets it go.
   */
  function heldFlannelPod(cluster: FakeCluster): () => void {
    const ds = cluster.peek('DaemonSet', FLANNEL_DS.name, FLANNEL_DS.namespace)!;
    cluster.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'kube-flannel-ds-held',
        namespace: FLANNEL_DS.namespace,
        labels: { app: 'flannel' },
        finalizers: ['test.example/hold'],
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'DaemonSet', name: FLANNEL_DS.name, uid: ds.metadata!.uid!, controller: true },
        ],
      },
      spec: {},
    });
    return () => cluster.remove('Pod', 'kube-flannel-ds-held', FLANNEL_DS.namespace);
  }

  const flannelPods = (cluster: FakeCluster) => cluster.all('Pod', { namespace: FLANNEL_DS.namespace });

  it("waits until flannel's DaemonSet and its pods are gone, then records the migration as finalized", async () => {
    const cluster = fakeCluster([nodeObject('a'), nodeObject('b')]);
    const release = heldFlannelPod(cluster);
    cluster.after((call) => {
      if (call.verb === 'delete' && call.kind === 'DaemonSet') setTimeout(release, 50);
    });
    const { outcome, recorded } = await migrate(cluster, plan([['a', 'b']]), { finalize: 'yes' });
    expect(outcome).toMatchObject({ status: 'completed', finalized: true });
    expect(cluster.peek('DaemonSet', FLANNEL_DS.name, FLANNEL_DS.namespace)).toBeUndefined();
    expect(flannelPods(cluster)).toEqual([]);
    expect(recorded.events).toContainEqual(
      expect.objectContaining({
        type: 'phase',
        message: expect.stringMatching(/waiting for DaemonSet kube-flannel\/kube-flannel-ds and its pods to be gone/),
      }),
    );
    expect(recorded.events).toContainEqual(
      expect.objectContaining({
        type: 'info',
        message: expect.stringMatching(
          /waiting for 1 pod\(s\) of DaemonSet kube-flannel\/kube-flannel-ds to terminate/,
        ),
      }),
    );
    expect((await readMigrationRecord(cluster))?.phase).toBe('finalized');
    expect(cluster.peek('Node', 'a')?.metadata?.labels?.[MIGRATION_LABEL]).toBeUndefined();
  });

  it(
    'a flannel pod that never goes fails finalize at the step timeout, not recorded as ' +
      'finalized; a rerun finishes it',
    async () => {
      const cluster = fakeCluster([nodeObject('a')]);
      const release = heldFlannelPod(cluster);
      const { outcome } = await migrate(cluster, plan([['a']]), { finalize: 'yes', stepTimeoutMs: 200 });
      expect(outcome.status).toBe('failed');
      if (outcome.status !== 'failed') return;
      expect(outcome.error).toBeInstanceOf(WaitTimeoutError);
      expect(outcome.error.message).toMatch(/DaemonSet kube-flannel\/kube-flannel-ds and its pods to be gone/);
      expect((await readMigrationRecord(cluster))?.phase).toBe('migrating');
      release();
      const rerun = await migrate(cluster, plan([['a']]), { finalize: 'yes' });
      expect(rerun.outcome).toMatchObject({ status: 'completed', finalized: true });
    },
  );

  it('deletes the helper Jobs and pods of every node with one request per kind, and only them', async () => {
    const nodes = ['a', 'b', 'c'];
    const cluster = fakeCluster(nodes.map((n) => nodeObject(n)));
    const managed = { [MANAGED_BY_LABEL]: MANAGED_BY };
    // A helper pod an earlier run left, and a Job that is not the tool's.
    cluster.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'left', namespace: STATE_NAMESPACE, labels: managed },
    });
    cluster.put({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'backup', namespace: STATE_NAMESPACE } });
    const { outcome } = await migrate(cluster, plan([nodes]), { finalize: 'yes' });
    expect(outcome).toMatchObject({ status: 'completed', finalized: true });
    const collections = cluster.changes().filter((c) => c.verb === 'deletecollection');
    expect(collections.map((c) => [c.kind, c.namespace, c.labelSelector])).toEqual([
      ['Job', STATE_NAMESPACE, MANAGED_BY_SELECTOR],
      ['Pod', STATE_NAMESPACE, MANAGED_BY_SELECTOR],
    ]);
    expect(cluster.writes('Job').filter((c) => c.verb === 'delete')).toEqual([]);
    for (const kind of ['Job', 'Pod'])
      expect(cluster.all(kind, { namespace: STATE_NAMESPACE, labelSelector: MANAGED_BY_SELECTOR })).toEqual([]);
    expect(cluster.peek('Job', 'backup', STATE_NAMESPACE)).toBeDefined();
  });

  it('Ctrl-C while waiting stops finalize without recording it', async () => {
    const abort = new AbortController();
    const cluster = fakeCluster([nodeObject('a')]);
    heldFlannelPod(cluster);
    cluster.after((call) => {
      if (call.verb === 'delete' && call.kind === 'DaemonSet') setTimeout(() => abort.abort(), 50);
    });
    const { outcome } = await migrate(cluster, plan([['a']]), {
      finalize: 'yes',
      stepTimeoutMs: 10_000,
      signal: abort.signal,
    });
    expect(outcome.status).toBe('interrupted');
    expect((await readMigrationRecord(cluster))?.phase).toBe('migrating');
  });
});
