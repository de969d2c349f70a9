/**
 * The revert engine on the same port and run context as migrate: a node back to flannel, and the whole cluster
 * restored.
 */
import { describe, expect, it } from '@jest/globals';
import { MIGRATION_LABEL } from '../../src/names.js';
import { REVERT_STEPS } from '../../src/engine/events.js';
import { parseNodeSummary } from '../../src/engine/node-summary.js';
import { RevertEngine, type RevertOptions, type RevertOutcome } from '../../src/engine/revert.js';
import { readMigrationRecord } from '../../src/engine/state.js';
import type { Answer } from '../../src/engine/run-context.js';
import {
  fakeCluster,
  FLANNEL_DS,
  migrate,
  nodeEvents,
  nodeObject,
  nodeState,
  plan,
  recordingContext,
  stepsStarted,
  type Recorded,
} from './engine-fixtures.js';
import type { FakeCluster } from './fake-cluster.js';

async function revert(
  cluster: FakeCluster,
  target: RevertOptions['target'],
  answer: Answer = 'yes',
): Promise<{ outcome: RevertOutcome; recorded: Recorded }> {
  const { ctx, recorded } = recordingContext(() => answer);
  const engine = new RevertEngine(cluster, ctx, {
    target,
    helperImage: 'calico/node:test',
    probeImage: 'busybox:test',
    stepTimeoutMs: 2000,
    drainRetryDelayMs: 10,
    maxParallel: 1,
    drain: { force: false, deleteEmptyDirData: false, timeoutSeconds: 2, gracePeriodSeconds: -1 },
  });
  return { outcome: await engine.run(), recorded };
}

async function migrated(names: string[]): Promise<FakeCluster> {
  const cluster = fakeCluster(names.map((n) => nodeObject(n)));
  const { outcome } = await migrate(cluster, plan([names]));
  expect(outcome.status).toBe('completed');
  return cluster;
}

describe('RevertEngine against the in-memory cluster', () => {
  it('moves one node back to flannel through every step, and leaves the others on Calico', async () => {
    const cluster = await migrated(['a', 'b']);
    const { outcome, recorded } = await revert(cluster, { nodes: ['a'] });
    expect(outcome).toMatchObject({ status: 'completed', reverted: ['a'], restored: false });
    expect(stepsStarted(recorded, 'a')).toEqual(REVERT_STEPS);
    expect(nodeState(cluster, 'a')).toMatchObject({ operation: 'revert', completed: REVERT_STEPS });
    expect(cluster.peek('Node', 'a')?.metadata?.labels?.[MIGRATION_LABEL]).toBe('flannel');
    expect(cluster.peek('Node', 'b')?.metadata?.labels?.[MIGRATION_LABEL]).toBe('calico');
    expect(cluster.all('Pod', { namespace: FLANNEL_DS.namespace, fieldSelector: 'spec.nodeName=a' })).toHaveLength(1);
    expect(recorded.audit.some((e) => e.event === 'node-done' && e.node === 'a')).toBe(true);

    const again = await revert(cluster, { nodes: ['a'] });
    expect(again.outcome).toMatchObject({ status: 'nothing' });

    // One Event for the way back, listing every step in order; the node left on Calico gets none.
    const events = nodeEvents(cluster, 'a');
    expect(events.map((e) => [e.type, e.reason])).toEqual([
      ['Normal', 'Migrated'],
      ['Normal', 'Reverted'],
    ]);
    expect(events[1].message).toMatch(
      /^reverted to flannel in \d+\.\d s: cordon \d+\.\d s, drain \d+\.\d s, stop calico-node \(label network=none\) /,
    );
    expect(parseNodeSummary('revert', REVERT_STEPS, events[1].message)?.steps.map((s) => s.step)).toEqual(REVERT_STEPS);
    expect(nodeEvents(cluster, 'b').map((e) => e.reason)).toEqual(['Migrated']);
  });

  it('a failed step gives its Warning Event and no Reverted Event', async () => {
    const cluster = fakeCluster([nodeObject('a')], {
      jobOutcome: (job) => (job.metadata!.name!.startsWith('f2c-revert-') ? 'fail' : 'succeed'),
    });
    expect((await migrate(cluster, plan([['a']]))).outcome.status).toBe('completed');
    const { outcome } = await revert(cluster, { nodes: ['a'] });
    expect(outcome).toMatchObject({ status: 'failed', node: 'a', step: 'host-revert' });
    expect(nodeEvents(cluster, 'a').slice(1)).toEqual([
      {
        type: 'Warning',
        reason: 'RevertStepFailed',
        message: expect.stringMatching(/^remove Calico from the host failed: /),
      },
    ]);
  });

  it('declining changes no node', async () => {
    const cluster = await migrated(['a']);
    const { outcome } = await revert(cluster, { nodes: ['a'] }, 'no');
    expect(outcome).toMatchObject({ status: 'declined', reverted: [] });
    expect(stateOperation(cluster, 'a')).toBe('migrate');
  });

  it("--all moves every node back, then removes the migration's labels and record", async () => {
    const cluster = await migrated(['a', 'b']);
    const { outcome } = await revert(cluster, { all: true });
    expect(outcome).toMatchObject({ status: 'completed', restored: true });
    if (outcome.status === 'completed') expect(outcome.reverted.sort()).toEqual(['a', 'b']);
    for (const n of ['a', 'b']) expect(cluster.peek('Node', n)?.metadata?.labels?.[MIGRATION_LABEL]).toBeUndefined();
    expect(cluster.peek('DaemonSet', FLANNEL_DS.name, FLANNEL_DS.namespace)?.spec.template.spec.nodeSelector).toEqual(
      {},
    );
    expect(await readMigrationRecord(cluster)).toBeUndefined();
  });
});

function stateOperation(cluster: FakeCluster, node: string): string | undefined {
  return nodeState(cluster, node)?.operation;
}
