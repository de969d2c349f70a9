/**
 * The drain against the Eviction API's answers: 429 from a PodDisruptionBudget, 403 in a namespace being deleted, 404,
 * refusals.
 */
import { describe, expect, it } from '@jest/globals';
import { ClusterError, type KubeObject } from '../../src/cluster/index.js';
import {
  BudgetWaiters,
  DrainBlockedError,
  DrainRefusedError,
  drainNode,
  type DrainOptions,
} from '../../src/engine/drain.js';
import { listDrainObjects } from '../../src/engine/node-ops.js';
import { classifyPod, drainContext } from '../../src/plan/drain-filters.js';
import type { PodVerdict } from '../../src/plan/types.js';
import { InterruptedError } from '../../src/engine/waits.js';
import { fakeCluster, migrate, nodeObject, plan, workloadPod } from './engine-fixtures.js';
import { FakeCluster } from './fake-cluster.js';

const NODE = 'worker-1';

function setup(pods: KubeObject[]): {
  cluster: FakeCluster;
  waiting: string[];
  evicted: string[];
  opts: (o?: Partial<DrainOptions>) => DrainOptions;
} {
  const cluster = new FakeCluster([nodeObject(NODE), nodeObject('other'), ...pods]);
  const waiting: string[] = [];
  const evicted: string[] = [];
  const opts = (o: Partial<DrainOptions> = {}): DrainOptions => ({
    timeoutMs: 2000,
    retryDelayMs: 10,
    classify: (): PodVerdict => ({ action: 'evict', reason: '' }),
    onWaiting: (m) => waiting.push(m),
    onEvicted: (p) => evicted.push(p),
    ...o,
  });
  return { cluster, waiting, evicted, opts };
}

const evictCalls = (cluster: FakeCluster, name: string) =>
  cluster.calls.filter((c) => c.verb === 'evict' && c.name === name).length;

describe('drainNode', () => {
  it('evicts every pod and waits until they are gone', async () => {
    const { cluster, evicted, opts } = setup([
      workloadPod(NODE, 'web-1'),
      workloadPod(NODE, 'web-2'),
      workloadPod('other', 'web-3'),
    ]);
    const result = await drainNode(cluster, NODE, opts());
    expect(result.evicted.sort()).toEqual(['default/web-1', 'default/web-2']);
    expect(evicted.sort()).toEqual(['default/web-1', 'default/web-2']);
    expect(cluster.all('Pod', { fieldSelector: `spec.nodeName=${NODE}` })).toEqual([]);
    expect(cluster.peek('Pod', 'web-3', 'default')).toBeDefined();
  });

  it('opens the watch for the evicted pods before the first eviction, so the wait after them lists nothing again', async () => {
    const { cluster, opts } = setup([workloadPod(NODE, 'web-1'), workloadPod(NODE, 'web-2')]);
    await drainNode(cluster, NODE, opts());
    const verbs = cluster.calls.map((c) => `${c.verb} ${c.kind}`);
    const firstEviction = verbs.findIndex((v) => v.startsWith('evict'));
    expect(verbs.indexOf('watch Pod')).toBeGreaterThanOrEqual(0);
    expect(verbs.indexOf('watch Pod')).toBeLessThan(firstEviction);
    expect(verbs.filter((v) => v === 'watch Pod')).toHaveLength(1);
  });

  it('fails with the watch error (and nothing unhandled) when the watch for the evicted pods cannot start', async () => {
    const { cluster, opts } = setup([workloadPod(NODE, 'web-1')]);
    cluster.fail(
      { verb: 'watch', kind: 'Pod' },
      () => new ClusterError('forbidden', 'pods is forbidden: watch', undefined, 403),
    );
    await expect(drainNode(cluster, NODE, opts())).rejects.toThrow(/forbidden/);
    expect(evictCalls(cluster, 'web-1')).toBe(1);
  });

  it('retries an eviction a PodDisruptionBudget refuses (429), naming the budget, until it allows it', async () => {
    const { cluster, waiting, opts } = setup([workloadPod(NODE, 'db-0')]);
    cluster.blockEviction('default', 'db-0', 'db-pdb', 3);
    await drainNode(cluster, NODE, opts());
    expect(evictCalls(cluster, 'db-0')).toBe(4);
    expect(waiting.filter((m) => /waiting on PDB default\/db-pdb/.test(m))).toHaveLength(3);
    expect(cluster.peek('Pod', 'db-0', 'default')).toBeUndefined();
  });

  it('gives up at the deadline with the PodDisruptionBudget that blocks', async () => {
    const { cluster, opts } = setup([workloadPod(NODE, 'db-0'), workloadPod(NODE, 'web-1')]);
    cluster.blockEviction('default', 'db-0', 'db-pdb');
    const err = await drainNode(cluster, NODE, opts({ timeoutMs: 150 })).catch((e: Error) => e);
    expect(err).toBeInstanceOf(DrainBlockedError);
    expect((err as DrainBlockedError).budgets).toEqual([
      expect.objectContaining({ namespace: 'default', name: 'db-pdb', pod: 'default/db-0' }),
    ]);
    expect((err as Error).message).toMatch(/PodDisruptionBudget default\/db-pdb allows 0 disruption/);
    expect(cluster.peek('Pod', 'web-1', 'default')).toBeUndefined();
  });

  it('refuses the whole node, evicting nothing, when one pod may not be removed', async () => {
    const { cluster, opts } = setup([workloadPod(NODE, 'web-1'), workloadPod(NODE, 'lonely')]);
    const classify = (pod: KubeObject): PodVerdict =>
      pod.metadata!.name === 'lonely'
        ? { action: 'refuse', reason: 'Pods that declare no controller (use --force to override)' }
        : { action: 'evict', reason: '' };
    const err = await drainNode(cluster, NODE, opts({ classify })).catch((e: Error) => e);
    expect(err).toBeInstanceOf(DrainRefusedError);
    expect((err as Error).message).toMatch(
      /cannot drain worker-1: cannot delete Pods that declare no controller \(use --force to override\): default\/lonely/,
    );
    expect(cluster.calls.filter((c) => c.verb === 'evict')).toEqual([]);
  });

  it('skips what the filters skip (DaemonSet and mirror pods) and evicts the rest', async () => {
    const { cluster, opts } = setup([workloadPod(NODE, 'web-1'), workloadPod(NODE, 'agent')]);
    const classify = (pod: KubeObject): PodVerdict =>
      pod.metadata!.name === 'agent'
        ? { action: 'skip', reason: 'ignoring DaemonSet-managed Pods' }
        : { action: 'evict', reason: '' };
    const result = await drainNode(cluster, NODE, opts({ classify }));
    expect(result).toEqual({ evicted: ['default/web-1'], skipped: ['default/agent'] });
    expect(evictCalls(cluster, 'agent')).toBe(0);
  });

  it('a pod already gone (404) counts as evicted', async () => {
    const { cluster, opts } = setup([workloadPod(NODE, 'web-1')]);
    cluster.after((call) => {
      if (call.verb === 'list' && call.kind === 'Pod') cluster.remove('Pod', 'web-1', 'default');
    });
    await expect(drainNode(cluster, NODE, opts())).resolves.toMatchObject({ evicted: ['default/web-1'] });
  });

  it(
    'in a namespace being deleted (403 NamespaceTerminating), retries until the pod is marked ' +
      'for deletion, then only waits for it',
    async () => {
      const { cluster, waiting, opts } = setup([workloadPod(NODE, 'job-1', 'doomed')]);
      cluster.terminateNamespace('doomed');
      let refused = 0;
      cluster.after((call) => {
        if (call.verb !== 'get' || call.name !== 'job-1' || ++refused !== 1) return;
        // The namespace controller marks the pod deleted, and the kubelet removes it a moment later.
        const pod = cluster.peek('Pod', 'job-1', 'doomed')!;
        cluster.put({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date().toISOString() as any } });
        setTimeout(() => cluster.remove('Pod', 'job-1', 'doomed'), 30);
      });
      await drainNode(cluster, NODE, opts());
      expect(evictCalls(cluster, 'job-1')).toBe(2);
      expect(waiting.filter((m) => /namespace doomed is being deleted/.test(m))).toHaveLength(1);
      expect(cluster.peek('Pod', 'job-1', 'doomed')).toBeUndefined();
    },
  );

  it('in a namespace being deleted, a pod already marked for deletion is evicted once, then waited for', async () => {
    const pod = workloadPod(NODE, 'job-1', 'doomed');
    pod.metadata!.deletionTimestamp = new Date().toISOString() as any;
    const { cluster, waiting, opts } = setup([pod]);
    cluster.terminateNamespace('doomed');
    cluster.after((call) => {
      if (call.verb === 'get' && call.name === 'job-1') setTimeout(() => cluster.remove('Pod', 'job-1', 'doomed'), 30);
    });
    await drainNode(cluster, NODE, opts());
    expect(evictCalls(cluster, 'job-1')).toBe(1);
    expect(waiting.some((m) => /being deleted/.test(m))).toBe(false);
  });

  it('a pod of a namespace that is never deleted in time fails the drain at the deadline', async () => {
    const { cluster, opts } = setup([workloadPod(NODE, 'job-1', 'doomed')]);
    cluster.terminateNamespace('doomed');
    const err = await drainNode(cluster, NODE, opts({ timeoutMs: 100 })).catch((e: Error) => e);
    expect(err).toBeInstanceOf(DrainBlockedError);
    expect((err as Error).message).toMatch(/pods still terminating: doomed\/job-1/);
  });

  it.each([
    [
      'forbidden by RBAC (403 without the cause)',
      () => new ClusterError('forbidden', 'not allowed to create pods/eviction', undefined, 403),
    ],
    [
      'two budgets select the pod (500)',
      () => new ClusterError('server', 'This pod has more than one PodDisruptionBudget', undefined, 500),
    ],
  ])('any other refusal fails the drain at once: %s', async (_what, error) => {
    const { cluster, opts } = setup([workloadPod(NODE, 'web-1')]);
    cluster.fail({ verb: 'evict' }, error);
    await expect(drainNode(cluster, NODE, opts())).rejects.toBeInstanceOf(ClusterError);
    expect(evictCalls(cluster, 'web-1')).toBe(1);
  });

  it('stops retrying at Ctrl-C', async () => {
    const { cluster, opts } = setup([workloadPod(NODE, 'db-0')]);
    cluster.blockEviction('default', 'db-0', 'db-pdb');
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    await expect(drainNode(cluster, NODE, opts({ signal: abort.signal, timeoutMs: 10_000 }))).rejects.toBeInstanceOf(
      InterruptedError,
    );
  });
});

describe('an eviction its PodDisruptionBudget is known to refuse', () => {
  const budget = (allowed: number): KubeObject => ({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'web', namespace: 'default' },
    spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'web' } } },
    status: { disruptionsAllowed: allowed },
  });

  /**
   * The disruption controller: a moment after an eviction under the budget, the pod's replacement is
   * Ready elsewhere and the budget allows one disruption again. `order` records both, as they happen.
   */
  function replacementsBecomeReady(cluster: FakeCluster, order: string[]): void {
    cluster.after((call) => {
      if (call.verb !== 'evict') return;
      order.push(`evicted ${call.name}`);
      setTimeout(() => {
        order.push('the budget allows one again');
        cluster.put({ ...cluster.peek('PodDisruptionBudget', 'web', 'default')!, status: { disruptionsAllowed: 1 } });
      }, 30);
    });
  }

  it(
    'two pods of one budget (maxUnavailable 1) on two nodes drained at once: the second eviction is sent ' +
      'only once the budget allows it again, two eviction requests in all',
    async () => {
      const cluster = new FakeCluster([
        nodeObject('n1'),
        nodeObject('n2'),
        workloadPod('n1', 'web-1'),
        workloadPod('n2', 'web-2'),
        budget(1),
      ]);
      const order: string[] = [];
      replacementsBecomeReady(cluster, order);
      const listed = await listDrainObjects(cluster);
      const filters = drainContext(listed);
      const budgets = new BudgetWaiters(cluster, 0);
      const waiting: string[] = [];
      const drain = (node: string) =>
        drainNode(cluster, node, {
          timeoutMs: 5000,
          // A fallback far beyond the budget's change: only the budget's status lets the second eviction go.
          retryDelayMs: 60_000,
          budgets,
          classify: (pod) => classifyPod(pod, filters),
          pdbListing: listed.pdbs,
          onWaiting: (m) => waiting.push(m),
          onEvicted: () => undefined,
        });
      await Promise.all([drain('n1'), drain('n2')]);
      budgets.close();
      expect(cluster.calls.filter((c) => c.verb === 'evict')).toHaveLength(2);
      expect(order.slice(0, 3)).toEqual([
        expect.stringMatching(/^evicted web-/),
        'the budget allows one again',
        expect.stringMatching(/^evicted web-/),
      ]);
      expect(waiting).toContainEqual(expect.stringMatching(/^waiting on PDB default\/web: 0 disruptions allowed/));
      expect(cluster.all('Pod', { namespace: 'default' })).toEqual([]);
    },
  );

  it(
    'a budget listed with no disruption left that allows one by the time of the drain: the eviction goes ' +
      'as soon as its watch says so, not after the fallback delay',
    async () => {
      const cluster = new FakeCluster([nodeObject('n1'), workloadPod('n1', 'web-1'), budget(0)]);
      const listed = await listDrainObjects(cluster);
      cluster.put({ ...cluster.peek('PodDisruptionBudget', 'web', 'default')!, status: { disruptionsAllowed: 1 } });
      const filters = drainContext(listed);
      // Deadline and fallback beyond the test's own timeout: only the budget's watch can let the eviction go.
      await drainNode(cluster, 'n1', {
        timeoutMs: 60_000,
        retryDelayMs: 60_000,
        classify: (pod) => classifyPod(pod, filters),
        pdbListing: listed.pdbs,
        onWaiting: () => undefined,
        onEvicted: () => undefined,
      });
      expect(cluster.calls.filter((c) => c.verb === 'evict' || c.kind === 'PodDisruptionBudget')).toEqual([
        expect.objectContaining({ verb: 'list', kind: 'PodDisruptionBudget' }),
        expect.objectContaining({ verb: 'watch', kind: 'PodDisruptionBudget' }),
        expect.objectContaining({ verb: 'evict', name: 'web-1', ok: true }),
      ]);
    },
  );

  it('in a migration, the nodes of a batch share what they know of a budget', async () => {
    const cluster = fakeCluster([nodeObject('a'), nodeObject('b')], { pods: false });
    for (const [node, pod] of [
      ['a', 'web-1'],
      ['b', 'web-2'],
    ])
      cluster.put(workloadPod(node, pod));
    cluster.put(budget(1));
    const order: string[] = [];
    replacementsBecomeReady(cluster, order);
    const { outcome } = await migrate(cluster, plan([['a', 'b']]), { drainRetryDelayMs: 60_000 });
    expect(outcome).toMatchObject({ status: 'completed', migrated: ['a', 'b'] });
    expect(cluster.calls.filter((c) => c.verb === 'evict')).toHaveLength(2);
  });
});
