/**
 * An in-memory cluster behind the engine's ClusterPort, for unit tests of the engine's step logic:
 * check-then-act, what is recorded, which errors stop what. It is a test fake, not a Kubernetes: it
 * knows the few API semantics the engine relies on (409 on create of an existing object, merge and
 * JSON patches with a `test` op, the Eviction API's 404/429/403 answers and its PodDisruptionBudget
 * accounting, list-then-watch) and plays
 * the controllers the engine waits for (DaemonSet pods follow their nodeSelector, a kubelet makes
 * pods Ready, Jobs complete, deleted nodes and DaemonSets lose their pods, the garbage collector
 * deletes an object once every owner it names was deleted, finalizers hold a pod marked for deletion
 * until the test removes it). The end-to-end suites against the real
 * control plane (test/e2e) remain the proof that the engine works on a cluster.
 */
import crypto from 'node:crypto';
import {
  ClusterError,
  firstInPages,
  type ApiUsage,
  type KubeObject,
  type ListOptions,
  type ObjectRef,
  type WatchEventType,
} from '../../src/cluster/index.js';
import type { ClusterPort, WatchOptions } from '../../src/engine/cluster-port.js';
import { evictionIgnoresPdbs } from '../../src/plan/drain-filters.js';
import { selectorMatches } from '../../src/plan/selector.js';

export type Verb = 'get' | 'list' | 'create' | 'apply' | 'patch' | 'delete' | 'deletecollection' | 'evict' | 'watch';

export interface Call {
  verb: Verb;
  kind: string;
  name?: string;
  namespace?: string;
  /** The label selector of a deletecollection. */
  labelSelector?: string;
  /** The patch or object sent, for writes. */
  body?: unknown;
  /** The call succeeded (a refused create, a 404 or an injected fault leaves it unset). */
  ok?: boolean;
}

interface Match {
  verb?: Verb;
  kind?: string;
  name?: string;
  namespace?: string;
}

interface Fault extends Match {
  error: () => Error;
  times: number;
}

interface Watcher {
  kind: string;
  opts: ListOptions;
  onEvent: (type: WatchEventType, obj: KubeObject) => boolean;
  done: (matched: boolean) => void;
}

export type JobOutcome = 'succeed' | 'fail' | 'pending';

export interface FakeClusterOptions {
  /** What the Job controller does with a new Job (default: it succeeds at once). */
  jobOutcome?: (job: KubeObject) => JobOutcome;
  serverDryRun?: boolean;
  /** Items per page of a paged list (pages, findInList); default 500. */
  pageSize?: number;
}

const key = (kind: string, namespace: string | undefined, name: string) => `${kind}|${namespace ?? ''}|${name}`;
const clone = <T>(v: T): T => (v === undefined ? v : structuredClone(v));

export function conflict(
  what = 'the object has been modified; please apply your changes to the latest version and try again',
): ClusterError {
  return new ClusterError('conflict', `conflict: ${what}`, undefined, 409);
}

export function serverError(status = 503): ClusterError {
  return new ClusterError(
    'server',
    `the server is currently unable to handle the request (HTTP ${status})`,
    undefined,
    status,
  );
}

/** RFC 7386 JSON merge patch (null deletes). */
function mergePatch(target: any, patch: any): any {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const out = target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function pointer(path: string): string[] {
  return path
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function jsonPatch(doc: any, ops: Array<{ op: string; path: string; value?: unknown }>): any {
  const out = clone(doc);
  for (const op of ops) {
    const parts = pointer(op.path);
    const last = parts.pop()!;
    let parent = out;
    for (const p of parts) parent = parent?.[p];
    if (op.op === 'test') {
      if (JSON.stringify(parent?.[last]) !== JSON.stringify(op.value))
        throw new ClusterError(
          'invalid',
          `the server rejected our request: test operation on ${op.path} failed`,
          undefined,
          422,
        );
    } else if (op.op === 'replace' || op.op === 'add') {
      parent[last] = clone(op.value);
    } else if (op.op === 'remove') {
      delete parent[last];
    } else {
      throw new Error(`fake cluster: JSON patch op ${op.op} is not supported`);
    }
  }
  return out;
}

function labelsMatch(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .every((term) => {
      const ne = /^([^!=]+)!=(.*)$/.exec(term);
      if (ne) return labels?.[ne[1]] !== ne[2];
      const eq = /^([^=]+)==?(.*)$/.exec(term);
      if (eq) return labels?.[eq[1]] === eq[2];
      if (term.startsWith('!')) return labels?.[term.slice(1)] === undefined;
      return labels !== undefined && term in labels;
    });
}

function fieldsMatch(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [path, value] = term.split('=');
    let v: any = obj;
    for (const p of path.split('.')) v = v?.[p];
    return String(v ?? '') === value;
  });
}

function matches(obj: KubeObject, opts: ListOptions): boolean {
  return (
    (!opts.namespace || obj.metadata?.namespace === opts.namespace) &&
    labelsMatch(obj.metadata?.labels, opts.labelSelector) &&
    fieldsMatch(obj, opts.fieldSelector)
  );
}

function matchesCall(m: Match, call: Call): boolean {
  return (
    (!m.verb || m.verb === call.verb) &&
    (!m.kind || m.kind === call.kind) &&
    (!m.name || m.name === call.name) &&
    (!m.namespace || m.namespace === call.namespace)
  );
}

/** The Eviction API's 429 for a pod whose PodDisruptionBudget allows no disruption. */
function budgetRefusal(pod: string, namespace: string, pdb: string): ClusterError {
  return new ClusterError(
    'too-many-requests',
    `too many requests: cannot create pods/eviction "${pod}" in namespace "${namespace}" ` +
      `now: Cannot evict pod as it would violate the pod's disruption budget.`,
    'Retry later.',
    429,
    undefined,
    [{ reason: 'DisruptionBudget', message: `The disruption budget ${pdb} needs 1 healthy pods and has 1 currently` }],
  );
}

export class FakeCluster implements ClusterPort {
  readonly serverDryRun: boolean;
  /** Every call, in order. */
  readonly calls: Call[] = [];
  private readonly objects = new Map<string, KubeObject>();
  private readonly watchers = new Set<Watcher>();
  private readonly faults: Fault[] = [];
  private readonly afterHooks: Array<(call: Call) => void> = [];
  private readonly unserved = new Set<string>();
  private readonly blockedEvictions = new Map<string, { pdb: string; times: number }>();
  private readonly terminatingNamespaces = new Set<string>();
  /** UIDs of deleted objects: what the garbage collector looks for in ownerReferences. */
  private readonly deletedUids = new Set<string>();
  private resourceVersion = 100;
  private reconciling = false;
  private readonly jobOutcome: (job: KubeObject) => JobOutcome;
  private readonly pageSize: number;

  constructor(objects: KubeObject[] = [], opts: FakeClusterOptions = {}) {
    this.serverDryRun = opts.serverDryRun ?? false;
    this.pageSize = Math.max(1, opts.pageSize ?? 500);
    this.jobOutcome = opts.jobOutcome ?? (() => 'succeed');
    for (const o of objects) this.put(o);
    this.reconcile();
  }

  // ---- test controls -------------------------------------------------------------------------

  /** The next `times` calls matching `match` fail with `error` (before they change anything). */
  fail(match: Match, error: () => Error, times = 1): this {
    this.faults.push({ ...match, error, times });
    return this;
  }

  /** Runs after every successful call (e.g. to delete a node in the middle of a run). */
  after(hook: (call: Call) => void): this {
    this.afterHooks.push(hook);
    return this;
  }

  /** The API does not serve this kind (e.g. Calico's CRDs are not installed). */
  unserve(kind: string): this {
    this.unserved.add(kind);
    return this;
  }

  /**
   * Evictions of this pod are refused by PodDisruptionBudget `pdb` (429) the next `times` times. The
   * budget exists, as on a real API server, and allows no disruption (its selector matches no pod, so
   * the drain filters are not affected).
   */
  blockEviction(namespace: string, pod: string, pdb: string, times = Infinity): this {
    this.blockedEvictions.set(`${namespace}/${pod}`, { pdb, times });
    if (!this.objects.has(key('PodDisruptionBudget', namespace, pdb))) {
      this.put({
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: pdb, namespace },
        spec: { minAvailable: 1, selector: { matchLabels: { 'fake-cluster/blocked-by': pdb } } },
        status: { disruptionsAllowed: 0 },
      });
    }
    return this;
  }

  /** The namespace is being deleted: evictions in it are refused with 403 NamespaceTerminating. */
  terminateNamespace(namespace: string): this {
    this.terminatingNamespaces.add(namespace);
    return this;
  }

  /** The stored object, for assertions (a copy). */
  peek<T extends KubeObject = KubeObject>(kind: string, name: string, namespace?: string): T | undefined {
    return clone(this.objects.get(key(kind, namespace, name))) as T | undefined;
  }

  all(kind: string, opts: ListOptions = {}): KubeObject[] {
    return [...this.objects.values()].filter((o) => o.kind === kind && matches(o, opts)).map(clone);
  }

  /** Writes as the test (or another client) would: no call is recorded, watchers and controllers see it. */
  put(obj: KubeObject): KubeObject {
    const stored = clone(obj);
    const k = key(stored.kind!, stored.metadata?.namespace, stored.metadata!.name!);
    const existed = this.objects.has(k);
    stored.metadata = {
      uid: crypto.randomUUID(),
      creationTimestamp: new Date().toISOString() as any,
      ...stored.metadata,
      resourceVersion: String(++this.resourceVersion),
    };
    this.objects.set(k, stored);
    this.notify(existed ? 'MODIFIED' : 'ADDED', stored);
    this.reconcile();
    return clone(stored);
  }

  /** Deletes as the test (or a controller) would. */
  remove(kind: string, name: string, namespace?: string): boolean {
    const k = key(kind, namespace, name);
    const obj = this.objects.get(k);
    if (!obj) return false;
    this.objects.delete(k);
    if (obj.metadata?.uid) this.deletedUids.add(obj.metadata.uid);
    this.notify('DELETED', obj);
    this.reconcile();
    return true;
  }

  /** The writes (not reads) sent through the port, optionally of one kind, refused ones included. */
  writes(kind?: string): Call[] {
    return this.calls.filter((c) => !['get', 'list', 'watch'].includes(c.verb) && (!kind || c.kind === kind));
  }

  /** The writes that changed something. */
  changes(kind?: string): Call[] {
    return this.writes(kind).filter((c) => c.ok);
  }

  // ---- ClusterPort -------------------------------------------------------------------------

  private begin(call: Call): void {
    this.calls.push(call);
    const fault = this.faults.find((f) => f.times > 0 && matchesCall(f, call));
    if (fault) {
      fault.times--;
      throw fault.error();
    }
    if (this.unserved.has(call.kind))
      throw new ClusterError('not-found', `the API server does not serve ${call.kind}`, undefined, 404);
  }

  private end(call: Call): void {
    call.ok = true;
    for (const hook of this.afterHooks) hook(call);
  }

  private notFound(ref: ObjectRef): ClusterError {
    return new ClusterError(
      'not-found',
      `${ref.kind} "${ref.name}"${ref.namespace ? ` in namespace "${ref.namespace}"` : ''} not found`,
      undefined,
      404,
    );
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T> {
    const call: Call = { verb: 'get', kind: ref.kind, name: ref.name, namespace: ref.namespace };
    this.begin(call);
    const obj = this.objects.get(key(ref.kind, ref.namespace, ref.name));
    if (!obj) throw this.notFound(ref);
    this.end(call);
    return clone(obj) as T;
  }

  async find<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.get<T>(ref);
    } catch (err) {
      if (err instanceof ClusterError && err.kind === 'not-found') return undefined;
      throw err;
    }
  }

  async list<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    opts: ListOptions = {},
  ): Promise<T[]> {
    const call: Call = { verb: 'list', kind, namespace: opts.namespace };
    this.begin(call);
    const items = this.all(kind, opts) as T[];
    this.end(call);
    return items;
  }

  /** One recorded list call per page, as the real client sends one request per page. */
  async *pages<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    opts: ListOptions = {},
  ): AsyncGenerator<{ items: T[]; resourceVersion: string; last: boolean }> {
    let offset = 0;
    for (;;) {
      const call: Call = { verb: 'list', kind, namespace: opts.namespace };
      this.begin(call);
      const all = this.all(kind, opts) as T[];
      const items = all.slice(offset, offset + this.pageSize);
      offset += items.length;
      const last = offset >= all.length;
      this.end(call);
      yield { items, resourceVersion: String(this.resourceVersion), last };
      if (last) return;
    }
  }

  async findInList<T extends KubeObject, R>(
    apiVersion: string,
    kind: string,
    opts: ListOptions,
    pick: (items: T[]) => R | undefined,
  ): Promise<R | undefined> {
    return firstInPages(this.pages<T>(apiVersion, kind, opts), pick);
  }

  /** Requests by verb as the real client counts them; there is no rate limit here. */
  get usage(): ApiUsage {
    const requests: Record<string, number> = {};
    for (const c of this.calls) requests[c.verb] = (requests[c.verb] ?? 0) + 1;
    return { requests, throttledMs: 0 };
  }

  async listIfServed<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    opts: ListOptions = {},
  ): Promise<T[] | undefined> {
    try {
      return await this.list<T>(apiVersion, kind, opts);
    } catch (err) {
      if (err instanceof ClusterError && err.kind === 'not-found') return undefined;
      throw err;
    }
  }

  async create<T extends KubeObject = KubeObject>(obj: T): Promise<T> {
    const named = obj.metadata?.name
      ? obj
      : {
          ...obj,
          metadata: {
            ...obj.metadata,
            name: `${obj.metadata?.generateName ?? ''}${crypto.randomBytes(3).toString('hex')}`,
          },
        };
    const call: Call = {
      verb: 'create',
      kind: named.kind!,
      name: named.metadata!.name!,
      namespace: named.metadata?.namespace,
      body: obj,
    };
    this.begin(call);
    if (this.objects.has(key(named.kind!, named.metadata?.namespace, named.metadata!.name!))) {
      throw new ClusterError('conflict', `${named.kind} "${named.metadata!.name}" already exists`, undefined, 409);
    }
    const stored = this.serverDryRun ? named : this.put(named);
    this.end(call);
    return clone(stored) as T;
  }

  async ensure<T extends KubeObject = KubeObject>(obj: T): Promise<{ object: T; created: boolean }> {
    try {
      return { object: await this.create(obj), created: true };
    } catch (err) {
      if (!(err instanceof ClusterError && err.kind === 'conflict')) throw err;
      return {
        object: await this.get<T>({
          apiVersion: obj.apiVersion!,
          kind: obj.kind!,
          name: obj.metadata!.name!,
          namespace: obj.metadata?.namespace,
        }),
        created: false,
      };
    }
  }

  async apply<T extends KubeObject = KubeObject>(obj: T): Promise<T> {
    const call: Call = {
      verb: 'apply',
      kind: obj.kind!,
      name: obj.metadata!.name!,
      namespace: obj.metadata?.namespace,
      body: obj,
    };
    this.begin(call);
    const existing = this.objects.get(key(obj.kind!, obj.metadata?.namespace, obj.metadata!.name!));
    const merged = existing ? mergePatch(existing, obj) : obj;
    const stored = this.serverDryRun ? merged : this.put(merged);
    this.end(call);
    return clone(stored) as T;
  }

  private async patchWith<T extends KubeObject>(
    ref: ObjectRef,
    body: unknown,
    apply: (current: KubeObject) => KubeObject,
  ): Promise<T> {
    const call: Call = { verb: 'patch', kind: ref.kind, name: ref.name, namespace: ref.namespace, body };
    this.begin(call);
    const current = this.objects.get(key(ref.kind, ref.namespace, ref.name));
    if (!current) throw this.notFound(ref);
    const next = apply(current);
    const stored = this.serverDryRun ? next : this.put(next);
    this.end(call);
    return clone(stored) as T;
  }

  async mergePatch<T extends KubeObject = KubeObject>(ref: ObjectRef, patch: object): Promise<T> {
    return this.patchWith<T>(ref, patch, (current) => mergePatch(current, patch));
  }

  /** Strategic merge patch, as a merge patch: the engine only patches maps and scalars this way. */
  async strategicPatch<T extends KubeObject = KubeObject>(ref: ObjectRef, patch: object): Promise<T> {
    return this.patchWith<T>(ref, patch, (current) => mergePatch(current, patch));
  }

  async jsonPatch<T extends KubeObject = KubeObject>(ref: ObjectRef, ops: object[]): Promise<T> {
    return this.patchWith<T>(ref, ops, (current) =>
      jsonPatch(current, ops as Array<{ op: string; path: string; value?: unknown }>),
    );
  }

  async delete(ref: ObjectRef): Promise<boolean> {
    const call: Call = { verb: 'delete', kind: ref.kind, name: ref.name, namespace: ref.namespace };
    this.begin(call);
    const existed = this.objects.has(key(ref.kind, ref.namespace, ref.name));
    if (existed && !this.serverDryRun) this.remove(ref.kind, ref.name, ref.namespace);
    this.end(call);
    return existed;
  }

  async deleteCollection(
    apiVersion: string,
    kind: string,
    opts: { namespace: string; labelSelector: string },
  ): Promise<number> {
    const call: Call = { verb: 'deletecollection', kind, namespace: opts.namespace, labelSelector: opts.labelSelector };
    this.begin(call);
    const matched = this.all(kind, opts);
    if (!this.serverDryRun) for (const obj of matched) this.remove(kind, obj.metadata!.name!, obj.metadata?.namespace);
    this.end(call);
    return matched.length;
  }

  async evict(name: string, namespace: string): Promise<'evicted' | 'gone'> {
    const call: Call = { verb: 'evict', kind: 'Pod', name, namespace };
    this.begin(call);
    const pod = this.objects.get(key('Pod', namespace, name));
    if (!pod) {
      this.end(call);
      return 'gone';
    }
    if (this.terminatingNamespaces.has(namespace)) {
      throw new ClusterError(
        'forbidden',
        `not allowed to create pods/eviction "${name}" in namespace "${namespace}": pods ` +
          `"${name}" is forbidden: unable to create new content in namespace ${namespace} because ` +
          `it is being terminated`,
        undefined,
        403,
        undefined,
        [
          {
            reason: 'NamespaceTerminating',
            message: `namespace ${namespace} is being terminated`,
            field: 'metadata.namespace',
          },
        ],
      );
    }
    const blocked = this.blockedEvictions.get(`${namespace}/${name}`);
    if (blocked && blocked.times > 0) {
      blocked.times--;
      throw budgetRefusal(name, namespace, blocked.pdb);
    }
    // The budgets that cover the pod, as the Eviction API checks them: one that allows no disruption
    // refuses; one that allows it counts the disruption (status.disruptionsAllowed goes down by one).
    const budgets = evictionIgnoresPdbs(pod)
      ? []
      : this.all('PodDisruptionBudget', { namespace }).filter((b) =>
          selectorMatches(b.spec?.selector, pod.metadata?.labels),
        );
    if (budgets.length > 1)
      throw new ClusterError('server', 'This pod has more than one PodDisruptionBudget', undefined, 500);
    if (budgets.length) {
      const budget = budgets[0];
      const allowed = Number(budget.status?.disruptionsAllowed ?? 0);
      if (allowed <= 0) throw budgetRefusal(name, namespace, budget.metadata!.name!);
      if (!this.serverDryRun) this.put({ ...budget, status: { ...budget.status, disruptionsAllowed: allowed - 1 } });
    }
    if (!this.serverDryRun) this.remove('Pod', name, namespace);
    this.end(call);
    return 'evicted';
  }

  async watchUntil<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    opts: WatchOptions<T>,
    onEvent: (type: WatchEventType, obj: T) => boolean,
  ): Promise<boolean> {
    const call: Call = { verb: 'watch', kind, namespace: opts.namespace };
    this.begin(call);
    this.end(call);
    const items = this.all(kind, opts) as T[];
    if (opts.onList?.(items)) return true;
    for (const item of items) if (onEvent('ADDED', item)) return true;
    if (opts.signal?.aborted) return false;
    return new Promise<boolean>((resolve) => {
      const watcher: Watcher = {
        kind,
        opts,
        onEvent: onEvent as Watcher['onEvent'],
        done: (matched) => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          this.watchers.delete(watcher);
          resolve(matched);
        },
      };
      const onAbort = () => watcher.done(false);
      const timer = setTimeout(() => watcher.done(false), opts.timeoutMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.watchers.add(watcher);
    });
  }

  private notify(type: WatchEventType, obj: KubeObject): void {
    for (const w of [...this.watchers]) {
      if (w.kind !== obj.kind || !matches(obj, w.opts)) continue;
      if (w.onEvent(type, clone(obj))) w.done(true);
    }
  }

  // ---- the controllers the engine waits for ---------------------------------------------------

  /** DaemonSet pods follow their nodeSelector, a kubelet makes pods Ready, Jobs finish, pods of deleted nodes go. */
  private reconcile(): void {
    if (this.reconciling) return;
    this.reconciling = true;
    try {
      let changed = true;
      while (changed) changed = this.reconcileOnce();
    } finally {
      this.reconciling = false;
    }
  }

  private reconcileOnce(): boolean {
    const nodes = [...this.objects.values()].filter((o) => o.kind === 'Node');
    const nodeNames = new Set(nodes.map((n) => n.metadata!.name!));
    const pods = [...this.objects.values()].filter((o) => o.kind === 'Pod');
    for (const pod of pods) {
      if (pod.spec?.nodeName && !nodeNames.has(pod.spec.nodeName) && this.removeQuietly(pod)) return true;
      if (pod.spec?.nodeName && !pod.status?.phase) {
        this.store({
          ...pod,
          status: {
            phase: 'Running',
            podIP: '10.244.0.10',
            podIPs: [{ ip: '10.244.0.10' }],
            conditions: [{ type: 'Ready', status: 'True' }],
          },
        });
        return true;
      }
    }
    for (const ds of [...this.objects.values()].filter((o) => o.kind === 'DaemonSet')) {
      const selector: Record<string, string> = ds.spec?.template?.spec?.nodeSelector ?? {};
      const podLabels: Record<string, string> = ds.spec?.selector?.matchLabels ?? {};
      for (const node of nodes) {
        const wanted = Object.entries(selector).every(([k, v]) => node.metadata?.labels?.[k] === v);
        const own = pods.find(
          (p) =>
            p.spec?.nodeName === node.metadata!.name &&
            p.metadata?.ownerReferences?.some((o: any) => o.kind === 'DaemonSet' && o.uid === ds.metadata!.uid),
        );
        if (wanted && !own) {
          this.store({
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
              name: `${ds.metadata!.name}-${crypto.randomBytes(3).toString('hex')}`,
              namespace: ds.metadata!.namespace,
              labels: { ...podLabels },
              ownerReferences: [
                {
                  apiVersion: 'apps/v1',
                  kind: 'DaemonSet',
                  name: ds.metadata!.name!,
                  uid: ds.metadata!.uid!,
                  controller: true,
                },
              ],
            },
            spec: { nodeName: node.metadata!.name },
          });
          return true;
        }
        if (!wanted && own && this.removeQuietly(own)) return true;
      }
    }
    const dsUids = new Set(
      [...this.objects.values()].filter((o) => o.kind === 'DaemonSet').map((d) => d.metadata!.uid),
    );
    for (const pod of pods) {
      const owner = pod.metadata?.ownerReferences?.find((o: any) => o.kind === 'DaemonSet');
      if (owner && !dsUids.has(owner.uid) && this.removeQuietly(pod)) return true;
    }
    // The garbage collector: an object whose owners were all deleted goes after them.
    for (const obj of [...this.objects.values()]) {
      const owners: Array<{ uid?: string }> = obj.metadata?.ownerReferences ?? [];
      if (owners.length && owners.every((o) => o.uid && this.deletedUids.has(o.uid)) && this.removeQuietly(obj))
        return true;
    }
    for (const job of [...this.objects.values()].filter((o) => o.kind === 'Job' && !o.status?.conditions)) {
      const outcome = this.jobOutcome(job);
      if (outcome === 'pending') continue;
      const status =
        outcome === 'succeed'
          ? { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] }
          : {
              failed: 1,
              conditions: [
                {
                  type: 'Failed',
                  status: 'True',
                  reason: 'BackoffLimitExceeded',
                  message: 'Job has reached the specified backoff limit',
                },
              ],
            };
      this.store({ ...job, status });
      return true;
    }
    return false;
  }

  private store(obj: KubeObject): void {
    const k = key(obj.kind!, obj.metadata?.namespace, obj.metadata!.name!);
    const existed = this.objects.has(k);
    const stored: KubeObject = {
      ...obj,
      metadata: {
        uid: crypto.randomUUID(),
        creationTimestamp: new Date().toISOString() as any,
        ...obj.metadata,
        resourceVersion: String(++this.resourceVersion),
      },
    };
    this.objects.set(k, stored);
    this.notify(existed ? 'MODIFIED' : 'ADDED', stored);
  }

  /** A controller's delete: an object with finalizers is only marked for deletion (once). */
  private removeQuietly(obj: KubeObject): boolean {
    if (obj.metadata?.finalizers?.length) {
      if (obj.metadata.deletionTimestamp) return false;
      this.store({ ...obj, metadata: { ...obj.metadata, deletionTimestamp: new Date().toISOString() as any } });
      return true;
    }
    this.objects.delete(key(obj.kind!, obj.metadata?.namespace, obj.metadata!.name!));
    if (obj.metadata?.uid) this.deletedUids.add(obj.metadata.uid);
    this.notify('DELETED', obj);
    return true;
  }
}
