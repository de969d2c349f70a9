import { setMaxListeners } from 'node:events';
import { isClusterError, type KubeObject } from '../cluster/index.js';
import { cannotDelete } from '../plan/drain-filters.js';
import type { PdbRef, PodVerdict } from '../plan/types.js';
import type { ClusterPort } from './cluster-port.js';
import { pause, waitingOnCluster } from './step-timing.js';
import { throwIfInterrupted, waitForPodsGone } from './waits.js';

export interface DrainOptions {
  timeoutMs: number;
  gracePeriodSeconds?: number;
  /**
   * kubectl's EvictErrorRetryDelay: the pause before retrying an eviction refused for another reason
   * than a budget, and the fallback poll of a budget's watch.
   */
  retryDelayMs: number;
  /** Shared by the drains of a run (one watch per budget); a drain without one makes its own. */
  budgets?: BudgetWaiters;
  /**
   * kubectl drain's filters (src/plan/drain-filters.ts), built over fresh DaemonSets and PDBs; with the
   * budgets that cover a pod to evict (`blockingPdbs`), an eviction those budgets are known to refuse
   * is not sent: it waits for them first.
   */
  classify: (pod: KubeObject) => PodVerdict & { blockingPdbs?: readonly PdbRef[] };
  /**
   * The list of budgets `classify` took their status from (one per batch): the evictions of this run
   * are counted against it until a watch reports the budget. Default: one of this drain's own.
   */
  pdbListing?: object;
  /** The node's pods, listed once it was cordoned; default: listed here. */
  pods?: KubeObject[];
  onWaiting: (message: string) => void;
  onEvicted: (pod: string) => void;
  signal?: AbortSignal;
}

/** Every pod bound to `node`. */
export function listPodsOnNode(client: ClusterPort, node: string): Promise<KubeObject[]> {
  return client.list<KubeObject>('v1', 'Pod', { fieldSelector: `spec.nodeName=${node}` });
}

/** A PodDisruptionBudget that refused the eviction of `pod`. */
export interface BlockingBudget extends PdbRef {
  pod: string;
}

/** Pods that kubectl drain would refuse to remove without --force / --delete-emptydir-data. */
export class DrainRefusedError extends Error {
  constructor(
    readonly node: string,
    readonly pods: Array<{ pod: string; reason: string }>,
  ) {
    super(`cannot drain ${node}: ${cannotDelete(pods)}`);
  }
}

/** The drain ran out of time because PodDisruptionBudgets kept refusing evictions. */
export class DrainBlockedError extends Error {
  constructor(
    readonly node: string,
    readonly budgets: BlockingBudget[],
    readonly pending: string[],
  ) {
    super(
      budgets.length
        ? `drain of ${node} timed out: ${budgets.map((b) => `PodDisruptionBudget ${b.namespace}/${b.name} allows ${b.disruptionsAllowed} disruption(s) (blocks ${b.pod})`).join('; ')}`
        : `drain of ${node} timed out with pods still terminating: ${pending.join(', ')}`,
    );
  }
}

const podName = (p: KubeObject) => `${p.metadata?.namespace}/${p.metadata?.name}`;

function budgetNamed(causes: Array<{ reason?: string; message?: string }>): string | undefined {
  const cause = causes.find((c) => c.reason === 'DisruptionBudget');
  return cause?.message ? /disruption budget (\S+)/.exec(cause.message)?.[1] : undefined;
}

interface BudgetWaiter {
  /** The budget's resourceVersion when this waiter last retried: that status does not release it again. */
  after?: string;
  release: () => void;
}

interface WatchedBudget {
  allowed?: number;
  resourceVersion?: string;
  waiters: BudgetWaiter[];
  stop: AbortController;
}

/**
 * Evictions that a PodDisruptionBudget refused, or would refuse, waiting for it to allow a disruption
 * again. Shared by every drain of a run: one watch per budget while anyone waits on it, and each change
 * of its status.disruptionsAllowed releases that many waiters (oldest first), so evictions are sent as
 * soon as the budget allows them and no sooner. A waiter also goes after its fallback delay, in case
 * the watch misses a change. The evictions this run sends are counted against the status they were
 * sent on (the watch's, else the drain's list of budgets), so that the next one under the same budget
 * waits rather than being refused.
 */
export class BudgetWaiters {
  private readonly budgets = new Map<string, WatchedBudget>();
  /** Per budget: evictions released or sent since the status `basis` was seen. */
  private readonly claims = new Map<string, { basis: string; count: number }>();
  private readonly listings = new WeakMap<object, number>();
  private listingCount = 0;

  constructor(
    private readonly client: ClusterPort,
    private readonly lingerMs = 30_000,
  ) {}

  /** The budget's disruptionsAllowed as last seen by the watch. */
  allowed(namespace: string, name: string): number | undefined {
    return this.budgets.get(`${namespace}/${name}`)?.allowed;
  }

  /**
   * The first of the budgets covering a pod (`pdbs`, as listed in `listing`) that allows no further
   * disruption by what this run knows: its watched status when the run watches it, else the listed
   * one, less the evictions released or sent since that status. Undefined: evict now.
   */
  holding(pdbs: readonly PdbRef[], listing: object): PdbRef | undefined {
    for (const pdb of pdbs) {
      const { key, allowed, basis } = this.status(pdb, listing);
      const left = allowed - this.claimed(key, basis);
      if (left <= 0) return { ...pdb, disruptionsAllowed: Math.max(0, left) };
    }
    return undefined;
  }

  /** An eviction under these budgets is being sent (one a waiter's release did not count already). */
  evicting(pdbs: readonly PdbRef[], listing: object): void {
    for (const pdb of pdbs) {
      const { key, basis } = this.status(pdb, listing);
      this.claim(key, basis);
    }
  }

  private status(pdb: PdbRef, listing: object): { key: string; allowed: number; basis: string } {
    const key = `${pdb.namespace}/${pdb.name}`;
    const watched = this.budgets.get(key);
    if (watched?.allowed !== undefined) return { key, allowed: watched.allowed, basis: watchedBasis(watched) };
    let id = this.listings.get(listing);
    if (id === undefined) this.listings.set(listing, (id = ++this.listingCount));
    return { key, allowed: pdb.disruptionsAllowed, basis: `listed:${id}` };
  }

  private claimed(key: string, basis: string): number {
    const claim = this.claims.get(key);
    return claim?.basis === basis ? claim.count : 0;
  }

  private claim(key: string, basis: string): void {
    this.claims.set(key, { basis, count: this.claimed(key, basis) + 1 });
  }

  /** Resolves when the budget allows a disruption, after `fallbackMs`, or when `signal` aborts. */
  wait(
    namespace: string,
    name: string,
    fallbackMs: number,
    signal: AbortSignal,
    after?: string,
  ): Promise<string | undefined> {
    const key = `${namespace}/${name}`;
    let budget = this.budgets.get(key);
    if (!budget) {
      budget = { waiters: [], stop: new AbortController() };
      this.budgets.set(key, budget);
      this.watch(key, namespace, name, budget);
    }
    const watched = budget;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        const i = watched.waiters.indexOf(waiter);
        if (i >= 0) watched.waiters.splice(i, 1);
        this.stopWhenIdle(key, watched);
        resolve(watched.resourceVersion);
      };
      const waiter: BudgetWaiter = { after, release: done };
      const timer = setTimeout(done, fallbackMs);
      signal.addEventListener('abort', done, { once: true });
      watched.waiters.push(waiter);
      if (signal.aborted) done();
      else this.releaseAllowed(key, watched);
    });
  }

  private watch(key: string, namespace: string, name: string, budget: WatchedBudget): void {
    const seen = (pdb: KubeObject | undefined) => {
      // A deleted budget blocks nothing.
      budget.allowed = pdb ? Number(pdb.status?.disruptionsAllowed ?? 0) : Number.POSITIVE_INFINITY;
      budget.resourceVersion = pdb?.metadata?.resourceVersion;
      this.releaseAllowed(key, budget);
      return false;
    };
    this.client
      .watchUntil<KubeObject>(
        'policy/v1',
        'PodDisruptionBudget',
        {
          namespace,
          fieldSelector: `metadata.name=${name}`,
          timeoutMs: 24 * 3600_000,
          signal: budget.stop.signal,
          onList: (items) => seen(items[0]),
        },
        (type, pdb) => seen(type === 'DELETED' ? undefined : pdb),
      )
      // The fallback delay of each waiter covers a watch that cannot run (e.g. no watch permission).
      .catch(() => undefined);
  }

  /** Releases as many waiters as the budget allows, less the evictions already released or sent on this status. */
  private releaseAllowed(key: string, budget: WatchedBudget): void {
    if (budget.allowed === undefined) return;
    const basis = watchedBasis(budget);
    for (const waiter of [...budget.waiters]) {
      if (budget.allowed - this.claimed(key, basis) <= 0) break;
      if (waiter.after !== undefined && waiter.after === budget.resourceVersion) continue;
      this.claim(key, basis);
      waiter.release();
    }
  }

  private stopWhenIdle(key: string, budget: WatchedBudget): void {
    if (budget.waiters.length) return;
    setTimeout(() => {
      if (budget.waiters.length || this.budgets.get(key) !== budget) return;
      this.budgets.delete(key);
      budget.stop.abort();
    }, this.lingerMs).unref();
  }

  /** Stops every watch (end of the run). */
  close(): void {
    for (const budget of this.budgets.values()) budget.stop.abort();
    this.budgets.clear();
  }
}

/** The status a watch last reported, as the basis the evictions sent on it are counted against. */
function watchedBasis(budget: WatchedBudget): string {
  return `watched:${budget.resourceVersion ?? 'deleted'}`;
}

/** The Eviction API refuses pods of a namespace being deleted (403, cause NamespaceTerminating). */
function isNamespaceTerminating(err: unknown): boolean {
  return isClusterError(err, 'forbidden') && err.causes.some((c) => c.reason === 'NamespaceTerminating');
}

/**
 * As kubectl drain: a pod the namespace controller has marked for deletion (or that is already
 * gone or replaced) is not evicted again, only waited for.
 */
async function markedForDeletion(client: ClusterPort, pod: KubeObject): Promise<boolean> {
  const fresh = await client
    .find({ apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, namespace: pod.metadata!.namespace })
    .catch(() => pod);
  return !fresh || fresh.metadata?.uid !== pod.metadata?.uid || Boolean(fresh.metadata?.deletionTimestamp);
}

/**
 * Drains a cordoned node the way `kubectl drain --ignore-daemonsets` does: list the node's pods,
 * refuse the whole node if any pod may not be removed, evict the rest concurrently through the
 * Eviction API (retrying a 429 as soon as the PodDisruptionBudget that refused it allows a disruption
 * again, naming it while it blocks; in a namespace being deleted, retrying until the pod is marked for
 * deletion), then wait for the evicted pods to be gone. One global deadline, never infinite.
 */
export async function drainNode(
  client: ClusterPort,
  node: string,
  opts: DrainOptions,
): Promise<{ evicted: string[]; skipped: string[] }> {
  const deadline = Date.now() + opts.timeoutMs;
  const pods = opts.pods ?? (await listPodsOnNode(client, node));
  const verdicts = pods.map((pod) => ({ pod, verdict: opts.classify(pod) }));
  const refused = verdicts.filter((v) => v.verdict.action === 'refuse');
  if (refused.length)
    throw new DrainRefusedError(
      node,
      refused.map((v) => ({ pod: podName(v.pod), reason: v.verdict.reason })),
    );
  const toEvict = verdicts
    .filter((v) => v.verdict.action === 'evict')
    .map((v) => ({ pod: v.pod, pdbs: v.verdict.blockingPdbs ?? [] }));
  const skipped = verdicts.filter((v) => v.verdict.action === 'skip').map((v) => podName(v.pod));

  // One listener on the caller's signal for the whole drain; the concurrent evictions wait on this
  // drain's own signal, which may have one listener per pod at a time (never more).
  const stop = new AbortController();
  setMaxListeners(toEvict.length + 10, stop.signal);
  const onAbort = () => stop.abort();
  if (opts.signal?.aborted) stop.abort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  const budgets = opts.budgets ?? new BudgetWaiters(client);
  try {
    return await evictAndWait(client, node, { ...opts, budgets }, deadline, toEvict, skipped, stop.signal);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    if (!opts.budgets) budgets.close();
  }
}

async function evictAndWait(
  client: ClusterPort,
  node: string,
  opts: DrainOptions & { budgets: BudgetWaiters },
  deadline: number,
  toEvict: Array<{ pod: KubeObject; pdbs: readonly PdbRef[] }>,
  skipped: string[],
  signal: AbortSignal,
): Promise<{ evicted: string[]; skipped: string[] }> {
  const blocked = new Map<string, BlockingBudget>();
  const listing = opts.pdbListing ?? {};
  const evictOne = async ({ pod, pdbs }: { pod: KubeObject; pdbs: readonly PdbRef[] }): Promise<void> => {
    let after: string | undefined;
    // Let go by a budget's waiters (or their fallback delay): the eviction is sent without asking again.
    let released = false;
    while (!signal.aborted) {
      const holding = released ? undefined : opts.budgets.holding(pdbs, listing);
      if (holding) {
        // The budget is known to refuse this eviction now: wait for it first, as a refused eviction would.
        const { namespace, name, disruptionsAllowed } = holding;
        blocked.set(podName(pod), { namespace, name, disruptionsAllowed, pod: podName(pod) });
        const left = deadline - Date.now();
        if (left <= 0) return;
        opts.onWaiting(
          `waiting on PDB ${namespace}/${name}: ${disruptionsAllowed} disruptions allowed ` +
            `(${podName(pod)}); evicting when it allows one, ${Math.round(left / 1000)} s left`,
        );
        after = await waitingOnCluster(() =>
          opts.budgets.wait(namespace, name, Math.min(opts.retryDelayMs, left), signal, after),
        );
        released = true;
        continue;
      }
      if (!released) opts.budgets.evicting(pdbs, listing);
      released = false;
      try {
        await client.evict(pod.metadata!.name!, pod.metadata!.namespace!, opts.gracePeriodSeconds);
        blocked.delete(podName(pod));
        return;
      } catch (err) {
        if (isNamespaceTerminating(err)) {
          if (await markedForDeletion(client, pod)) return;
          const left = deadline - Date.now();
          if (left <= 0 || signal.aborted) return;
          opts.onWaiting(
            `eviction of ${podName(pod)} refused: namespace ${pod.metadata!.namespace} is being ` +
              `deleted; waiting for its controller to delete the pod; retry in ${Math.round(opts.retryDelayMs / 1000)} ` +
              `s, ${Math.round(left / 1000)} s left`,
          );
          await pause(Math.min(opts.retryDelayMs, left), signal);
          continue;
        }
        if (!isClusterError(err, 'too-many-requests')) throw err;
        const namespace = pod.metadata!.namespace!;
        const name = budgetNamed(err.causes);
        const left = deadline - Date.now();
        if (name)
          blocked.set(podName(pod), {
            namespace,
            name,
            disruptionsAllowed: opts.budgets.allowed(namespace, name) ?? 0,
            pod: podName(pod),
          });
        if (left <= 0 || signal.aborted) return;
        if (!name) {
          opts.onWaiting(
            `eviction of ${podName(pod)} refused (${err.message}); retry in ${Math.round(opts.retryDelayMs / 1000)} s`,
          );
          await pause(Math.min(opts.retryDelayMs, left), signal);
          continue;
        }
        opts.onWaiting(
          `waiting on PDB ${namespace}/${name}: ${opts.budgets.allowed(namespace, name) ?? 0} ` +
            `disruptions allowed (${podName(pod)}); retry when it allows one, ${Math.round(left / 1000)} ` +
            `s left`,
        );
        after = await waitingOnCluster(() =>
          opts.budgets.wait(namespace, name, Math.min(opts.retryDelayMs, left), signal, after),
        );
        released = true;
        const budget = blocked.get(podName(pod));
        if (budget) budget.disruptionsAllowed = opts.budgets.allowed(namespace, name) ?? 0;
      }
    }
  };
  const evicted = toEvict.map((e) => e.pod);
  const uids = new Set(evicted.map((p) => p.metadata!.uid!));
  // The watch for the evicted pods to be gone starts with the evictions, not after them: it has listed
  // and connected by the time the last eviction is answered, and misses no deletion meanwhile.
  const stopWatching = new AbortController();
  const onAbort = () => stopWatching.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const gone =
    client.serverDryRun || !uids.size
      ? Promise.resolve(true)
      : waitForPodsGone(client, node, uids, Math.max(1000, deadline - Date.now()), stopWatching.signal);
  // Handled at its await below; a watch that fails while evictions are still being sent must not go unhandled.
  gone.catch(() => undefined);
  try {
    await Promise.all(toEvict.map(evictOne));
    throwIfInterrupted(signal, `draining ${node}`);
    if (blocked.size) throw new DrainBlockedError(node, [...blocked.values()], [...blocked.keys()]);
    if (client.serverDryRun) return { evicted: evicted.map(podName), skipped };
    if (uids.size) opts.onWaiting(`waiting for ${uids.size} evicted pod(s) to terminate`);
    const allGone = await waitingOnCluster(() => gone);
    throwIfInterrupted(signal, `draining ${node} (waiting for evicted pods to terminate)`);
    if (!allGone) throw new DrainBlockedError(node, [], evicted.map(podName));
  } finally {
    signal.removeEventListener('abort', onAbort);
    stopWatching.abort();
    await gone.catch(() => undefined);
  }
  for (const p of evicted) opts.onEvicted(podName(p));
  return { evicted: evicted.map(podName), skipped };
}
