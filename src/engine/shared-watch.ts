import type { KubeObject } from '../cluster/index.js';
import type { ClusterPort } from './cluster-port.js';

type Waiter = () => void;

/**
 * The fields the waits read of a pod or Job (identity, labels, deletion, node, phase, conditions,
 * addresses, Job counts): a cache of a thousand calico-node pods holds these, not their whole specs.
 */
export function waitedFields<T extends KubeObject>(obj: T): T {
  const { name, namespace, uid, labels, deletionTimestamp } = obj.metadata ?? {};
  const status = obj.status ?? {};
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    metadata: { name, namespace, uid, labels, deletionTimestamp },
    spec: { nodeName: obj.spec?.nodeName },
    status: {
      phase: status.phase,
      conditions: status.conditions,
      podIP: status.podIP,
      podIPs: status.podIPs,
      succeeded: status.succeeded,
      failed: status.failed,
    },
  } as T;
}

/** After an abort, how long a wait still waits for the first list of a watch that has not synced yet. */
const ABORT_GRACE_MS = 5_000;

/**
 * One watch over a set of objects (a namespace and label selector) for the whole run, instead of a
 * list and a watch per wait: each wait is a condition over its cache, checked on every change. It
 * starts at the first wait, relists on its own after a dropped stream, and stops with close().
 */
export class SharedWatch<T extends KubeObject = KubeObject> {
  private readonly objects = new Map<string, T>();
  private readonly waiters = new Set<Waiter>();
  private synced = false;
  private failure?: unknown;
  private running = false;
  private readonly stop = new AbortController();

  constructor(
    private readonly client: ClusterPort,
    private readonly apiVersion: string,
    private readonly kind: string,
    private readonly selection: { namespace?: string; labelSelector?: string },
    /** What of each object the cache keeps: by default, what the waits read (waitedFields). */
    private readonly keep: (obj: T) => T = waitedFields,
  ) {}

  private start(): void {
    if (this.running || this.stop.signal.aborted) return;
    this.running = true;
    this.failure = undefined;
    const key = (o: T) => o.metadata?.uid ?? `${o.metadata?.namespace}/${o.metadata?.name}`;
    this.client
      .watchUntil<T>(
        this.apiVersion,
        this.kind,
        {
          ...this.selection,
          timeoutMs: 7 * 24 * 3600_000,
          signal: this.stop.signal,
          onList: (items) => {
            this.objects.clear();
            for (const o of items) this.objects.set(key(o), this.keep(o));
            this.synced = true;
            this.notify();
            return false;
          },
        },
        (type, obj) => {
          if (type === 'DELETED') this.objects.delete(key(obj));
          else this.objects.set(key(obj), this.keep(obj));
          this.notify();
          return false;
        },
      )
      .then(
        () => {
          if (!this.stop.signal.aborted) this.failure = new Error(`the watch of ${this.kind} ended`);
        },
        (err: unknown) => {
          this.failure = err;
        },
      )
      .finally(() => {
        this.running = false;
        this.synced = false;
        this.notify();
      });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /**
   * Resolves with the first defined result of `test` over the cached objects (checked now and on every
   * change), or undefined after `timeoutMs` or when `signal` aborts. Rejects when the watch fails.
   */
  until<R>(
    test: (objects: Iterable<T>) => R | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<R | undefined> {
    this.start();
    return new Promise((resolve, reject) => {
      let aborted = false;
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        clearTimeout(grace);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(check);
        settle();
      };
      const check = () => {
        if (this.failure !== undefined) {
          const failure = this.failure;
          return finish(() => (aborted ? resolve(undefined) : reject(failure)));
        }
        if (!this.synced) return;
        const result = test(this.objects.values());
        if (result !== undefined || aborted) finish(() => resolve(result));
      };
      // As a watch of its own would: a condition the cluster already meets is still seen after an abort,
      // once the cache is synced (waiting for that at most ABORT_GRACE_MS).
      let grace: NodeJS.Timeout | undefined;
      const onAbort = () => {
        aborted = true;
        if (this.synced || this.failure !== undefined) return check();
        grace = setTimeout(() => finish(() => resolve(undefined)), ABORT_GRACE_MS);
      };
      const timer = setTimeout(() => finish(() => resolve(undefined)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(check);
      if (signal?.aborted) onAbort();
      else check();
    });
  }

  close(): void {
    this.stop.abort();
  }
}
