import type { ApiUsage, KubeObject, ListOptions, ObjectRef, WatchEventType } from '../cluster/index.js';

/**
 * What the engine needs from the cluster, and nothing more: the migrate and revert engines, the
 * drain, the lock, the state records, the node operations and the host Jobs take this, never the
 * client class. ClusterClient (src/cluster/client.ts) satisfies it as it is; unit tests drive the
 * engine with an in-memory one (test/unit/fake-cluster.ts).
 */
export interface ClusterPort {
  /** Every write is sent with dryRun=All: nothing is persisted, so nothing is waited for. */
  readonly serverDryRun: boolean;
  /** Requests sent so far, by verb, and the time the client-side rate limit held them back. */
  readonly usage: ApiUsage;

  get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T>;
  /** Undefined when the object (or its kind) does not exist. */
  find<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined>;
  list<T extends KubeObject = KubeObject>(apiVersion: string, kind: string, opts?: ListOptions): Promise<T[]>;
  /** A list read page by page (limit/continue), items without metadata.managedFields. */
  pages<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    opts?: ListOptions,
  ): AsyncGenerator<{ items: T[]; resourceVersion: string; last: boolean }>;
  /** The first result of `pick` over the pages of a list; reads no further page once found. */
  findInList<T extends KubeObject, R>(
    apiVersion: string,
    kind: string,
    opts: ListOptions,
    pick: (items: T[]) => R | undefined,
  ): Promise<R | undefined>;
  /** Undefined when the API does not serve the kind (e.g. Calico's CRDs not installed). */
  listIfServed<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    opts?: ListOptions,
  ): Promise<T[] | undefined>;

  create<T extends KubeObject = KubeObject>(obj: T): Promise<T>;
  /** Creates the object, or returns the existing one unchanged. */
  ensure<T extends KubeObject = KubeObject>(obj: T): Promise<{ object: T; created: boolean }>;
  /** Server-side apply. */
  apply<T extends KubeObject = KubeObject>(obj: T, force?: boolean): Promise<T>;
  mergePatch<T extends KubeObject = KubeObject>(ref: ObjectRef, patch: object): Promise<T>;
  strategicPatch<T extends KubeObject = KubeObject>(ref: ObjectRef, patch: object): Promise<T>;
  /** RFC 6902; a failed `test` op rejects (invalid or conflict). */
  jsonPatch<T extends KubeObject = KubeObject>(ref: ObjectRef, ops: object[]): Promise<T>;
  /** True when something was deleted, false when it was already gone. */
  delete(
    ref: ObjectRef,
    opts?: { propagationPolicy?: 'Foreground' | 'Background' | 'Orphan'; gracePeriodSeconds?: number },
  ): Promise<boolean>;

  /**
   * Deletes every object of a kind matching `labelSelector` in `namespace` with one request (dependents in the
   * background); resolves how many were deleted, 0 when none matched.
   */
  deleteCollection(
    apiVersion: string,
    kind: string,
    opts: { namespace: string; labelSelector: string },
  ): Promise<number>;

  /** The Eviction API: 'gone' for a pod that no longer exists; a PDB refusal rejects with kind 'too-many-requests'. */
  evict(name: string, namespace: string, gracePeriodSeconds?: number): Promise<'evicted' | 'gone'>;

  /**
   * Lists, then watches, calling `onEvent` until it returns true (resolves true), the deadline
   * passes (false) or `signal` aborts (false).
   */
  watchUntil<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    opts: WatchOptions<T>,
    onEvent: (type: WatchEventType, obj: T) => boolean,
  ): Promise<boolean>;
}

/** Where and how long to watch; `onList` sees the initial list and may end the watch at once. */
export type WatchOptions<T extends KubeObject> = ListOptions & {
  timeoutMs: number;
  signal?: AbortSignal;
  onList?: (items: T[]) => boolean;
};
