import { setMaxListeners } from 'node:events';
import { isClusterError, type ClusterClient, type KubeObject } from '../cluster/index.js';
import { pause } from './step-timing.js';
import { throwIfInterrupted, waitForPodsGone } from './waits.js';

/** How one pod is treated by the drain (kubectl drain's filters). */
export interface PodVerdict {
  action: 'evict' | 'skip' | 'refuse';
  reason: string;
}

export interface DrainOptions {
  timeoutMs: number;
  gracePeriodSeconds?: number;
  /** kubectl's EvictErrorRetryDelay. */
  retryDelayMs: number;
  /** kubectl drain's filters (src/plan/drain-filters.ts), built over fresh DaemonSets and PDBs. */
  classify: (pod: KubeObject) => PodVerdict;
  onWaiting: (message: string) => void;
  onEvicted: (pod: string) => void;
  signal?: AbortSignal;
}

export interface BlockingBudget {
  namespace: string;
  name: string;
  disruptionsAllowed?: number;
  pod: string;
}

/** Pods that kubectl drain would refuse to remove without --force / --delete-emptydir-data. */
export class DrainRefusedError extends Error {
  constructor(readonly node: string, readonly pods: Array<{ pod: string; reason: string }>) {
    super(`cannot drain ${node}: ${Object.entries(groupBy(pods)).map(([reason, names]) => `${reason}: ${names.join(', ')}`).join('; ')}`);
  }
}

/** The drain ran out of time because PodDisruptionBudgets kept refusing evictions. */
export class DrainBlockedError extends Error {
  constructor(readonly node: string, readonly budgets: BlockingBudget[], readonly pending: string[]) {
    super(budgets.length
      ? `drain of ${node} timed out: ${budgets.map((b) => `PodDisruptionBudget ${b.namespace}/${b.name} allows ${b.disruptionsAllowed ?? 0} disruption(s) (blocks ${b.pod})`).join('; ')}`
      : `drain of ${node} timed out with pods still terminating: ${pending.join(', ')}`);
  }
}

function groupBy(pods: Array<{ pod: string; reason: string }>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const p of pods) (out[p.reason] ??= []).push(p.pod);
  return out;
}

const podName = (p: KubeObject) => `${p.metadata?.namespace}/${p.metadata?.name}`;

async function blockingBudget(client: ClusterClient, pod: KubeObject, causes: Array<{ reason?: string; message?: string }>): Promise<BlockingBudget | undefined> {
  const cause = causes.find((c) => c.reason === 'DisruptionBudget');
  const name = cause?.message ? /disruption budget (\S+)/.exec(cause.message)?.[1] : undefined;
  if (!name) return undefined;
  const namespace = pod.metadata!.namespace!;
  const pdb = await client.find({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', name, namespace }).catch(() => undefined);
  return { namespace, name, disruptionsAllowed: pdb?.status?.disruptionsAllowed, pod: podName(pod) };
}

/**
 * Drains a cordoned node the way `kubectl drain --ignore-daemonsets` does: list the node's pods,
 * refuse the whole node if any pod may not be removed, evict the rest concurrently through the
 * Eviction API (retrying 429s every retryDelayMs, naming the PodDisruptionBudget that blocks), then
 * wait for the evicted pods to be gone. One global deadline, never infinite.
 */
export async function drainNode(client: ClusterClient, node: string, opts: DrainOptions): Promise<{ evicted: string[]; skipped: string[] }> {
  const deadline = Date.now() + opts.timeoutMs;
  const pods = await client.list<KubeObject>('v1', 'Pod', { fieldSelector: `spec.nodeName=${node}` });
  const verdicts = pods.map((pod) => ({ pod, verdict: opts.classify(pod) }));
  const refused = verdicts.filter((v) => v.verdict.action === 'refuse');
  if (refused.length) throw new DrainRefusedError(node, refused.map((v) => ({ pod: podName(v.pod), reason: v.verdict.reason })));
  const toEvict = verdicts.filter((v) => v.verdict.action === 'evict').map((v) => v.pod);
  const skipped = verdicts.filter((v) => v.verdict.action === 'skip').map((v) => podName(v.pod));

  // One listener on the caller's signal for the whole drain; the concurrent evictions wait on this
  // drain's own signal, which may have one listener per pod at a time (never more).
  const stop = new AbortController();
  setMaxListeners(toEvict.length + 10, stop.signal);
  const onAbort = () => stop.abort();
  if (opts.signal?.aborted) stop.abort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await evictAndWait(client, node, opts, deadline, toEvict, skipped, stop.signal);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

async function evictAndWait(client: ClusterClient, node: string, opts: DrainOptions, deadline: number, toEvict: KubeObject[], skipped: string[], signal: AbortSignal): Promise<{ evicted: string[]; skipped: string[] }> {
  const blocked = new Map<string, BlockingBudget>();
  const evictOne = async (pod: KubeObject): Promise<void> => {
    while (!signal.aborted) {
      try {
        await client.evict(pod.metadata!.name!, pod.metadata!.namespace!, opts.gracePeriodSeconds);
        blocked.delete(podName(pod));
        return;
      } catch (err) {
        if (!isClusterError(err, 'too-many-requests')) throw err;
        const budget = await blockingBudget(client, pod, err.causes);
        if (budget) blocked.set(podName(pod), budget);
        const left = deadline - Date.now();
        if (left <= 0 || signal.aborted) return;
        opts.onWaiting(budget
          ? `waiting on PDB ${budget.namespace}/${budget.name}: ${budget.disruptionsAllowed ?? 0} disruptions allowed (${budget.pod}); retry in ${Math.round(opts.retryDelayMs / 1000)} s, ${Math.round(left / 1000)} s left`
          : `eviction of ${podName(pod)} refused (${err.message}); retry in ${Math.round(opts.retryDelayMs / 1000)} s`);
        await pause(Math.min(opts.retryDelayMs, left), signal);
      }
    }
  };
  await Promise.all(toEvict.map(evictOne));
  throwIfInterrupted(signal, `draining ${node}`);
  if (blocked.size) throw new DrainBlockedError(node, [...blocked.values()], [...blocked.keys()]);
  if (client.serverDryRun) return { evicted: toEvict.map(podName), skipped };

  const uids = new Set(toEvict.map((p) => p.metadata!.uid!));
  const left = Math.max(1000, deadline - Date.now());
  if (uids.size) opts.onWaiting(`waiting for ${uids.size} evicted pod(s) to terminate`);
  const gone = await waitForPodsGone(client, node, uids, left, signal);
  throwIfInterrupted(signal, `draining ${node} (waiting for evicted pods to terminate)`);
  if (!gone) throw new DrainBlockedError(node, [], toEvict.map(podName));
  for (const p of toEvict) opts.onEvicted(podName(p));
  return { evicted: toEvict.map(podName), skipped };
}
