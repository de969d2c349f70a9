import {
  AuthorizationV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  VersionApi,
  Watch,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import {
  CONNECT_TIMEOUT_CODE,
  ClusterError,
  isClusterError,
  serverAddress,
  toClusterError,
  unauthorizedError,
  type RequestContext,
  type Timeouts,
} from './errors.js';
import { loadKubeConfig, type KubeconfigOptions } from './kubeconfig.js';
import { InFlightLimit, TokenBucket } from './rate-limit.js';
import { sleep } from './sleep.js';

export { sleep };

const FIELD_MANAGER = 'flannel2calico';

/** Any Kubernetes object, as plain data. */
export interface KubeObject extends KubernetesObject {
  apiVersion?: string;
  kind?: string;
  spec?: any;
  status?: any;
  data?: Record<string, string>;
  [key: string]: any;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/**
 * A list read through `project`: each item is reduced as its page arrives, so whole pages never
 * accumulate (the full objects of a page are garbage once the next page is read).
 */
export interface ProjectedListOptions<T, R> extends ListOptions {
  project?: (item: T) => R;
}

/** Written to the audit log for every call that changes (or, in server dry run, would change) the cluster. */
export interface Mutation {
  verb: 'create' | 'apply' | 'patch' | 'delete' | 'deletecollection' | 'evict';
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  dryRun: boolean;
  outcome: 'ok' | 'not-found' | 'exists' | 'error';
  detail?: string;
}

export interface ClusterClientOptions extends KubeconfigOptions {
  /** Send every write with dryRun=All. */
  serverDryRun?: boolean;
  onMutation?: (m: Mutation) => void;
  /** Called before every request (for progress display). */
  onRequest?: (ctx: RequestContext) => void;
  /** Bound on each request, connection included (watches excepted). Default 30 s. */
  requestTimeoutMs?: number;
  /** Bound on establishing the connection (TCP and TLS). Default min(10 s, half the request bound). */
  connectTimeoutMs?: number;
  /** Called after each page of a list, with the items read so far; `done` on the last page. */
  onListPage?: (kind: string, itemsSoFar: number, done: boolean) => void;
  /** Client-side rate limit: requests a second (default 100; 0 or Infinity: none) and burst (default twice qps). */
  qps?: number;
  burst?: number;
  /** Requests sent at once, watches excepted (default 32); the others wait their turn. */
  maxInFlight?: number;
  /** Items per page of a list (default 500). */
  pageSize?: number;
}

const DEFAULT_QPS = 100;
const DEFAULT_MAX_IN_FLIGHT = 32;

/**
 * Requests this client sent, by verb (get, list, watch, create, patch, apply, delete), and the time the rate limit
 * held them back.
 */
export interface ApiUsage {
  requests: Record<string, number>;
  throttledMs: number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

const CONNECT_BOUNDED = Symbol('connectBounded');

/**
 * How long an idle connection is kept for the next request: well under the idle timeouts of API
 * servers and load balancers (kube-apiserver 90 s, most load balancers 60 s or more), so that a
 * request is never sent on a connection the other end is closing.
 */
const IDLE_CONNECTION_MS = 4_000;

/** The TLS settings of an agent client-node asks for, as a key: the same settings share one agent. */
const AGENT_SETTINGS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'servername', 'rejectUnauthorized'] as const;

/**
 * client-node creates a new agent, so a new TCP connection, TLS handshake and secure context, for
 * every request and watch. Here agents are kept, one per server and TLS settings, with keep-alive:
 * requests reuse idle connections, and new connections (watches) resume TLS sessions. Proxied
 * clusters keep client-node's agents.
 */
function reuseConnections(kubeConfig: KubeConfig): void {
  const config = kubeConfig as unknown as {
    createAgent: (cluster: { server?: string; proxyUrl?: string } | null, options: Record<string, unknown>) => unknown;
  };
  const create = config.createAgent.bind(kubeConfig);
  const agents = new Map<string, http.Agent>();
  config.createAgent = (cluster, options) => {
    if (!cluster?.server || cluster.proxyUrl) return create(cluster, options);
    const key = JSON.stringify([cluster.server, ...AGENT_SETTINGS.map((k) => String(options[k] ?? ''))]);
    let agent = agents.get(key);
    if (!agent) {
      const made = create(cluster, options) as http.Agent | undefined;
      const kept = { ...options, keepAlive: true, timeout: IDLE_CONNECTION_MS };
      if (made?.constructor === https.Agent) agent = new https.Agent(kept);
      else if (made?.constructor === http.Agent) agent = new http.Agent(kept);
      else return made;
      agents.set(key, agent);
    }
    return agent;
  };
}

/**
 * Makes every connection the agent opens fail with CONNECT_TIMEOUT_CODE when it is not established
 * (TCP, then TLS for https) within `ms`. Node's agents have no connect timeout of their own.
 */
function boundConnect<A extends http.Agent | undefined>(agent: A, ms: number): A {
  if (!agent || (agent as any)[CONNECT_BOUNDED]) return agent;
  const create = (agent as any).createConnection.bind(agent) as (...args: unknown[]) => Socket;
  (agent as any).createConnection = (...args: unknown[]) => {
    const socket = create(...args);
    const secure = agent instanceof https.Agent;
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`connection not established within ${ms} ms`), {
        code: CONNECT_TIMEOUT_CODE,
      });
      socket.destroy(err);
    }, ms);
    timer.unref();
    const done = () => clearTimeout(timer);
    socket.once(secure ? 'secureConnect' : 'connect', done);
    socket.once('close', done);
    return socket;
  };
  (agent as any)[CONNECT_BOUNDED] = true;
  return agent;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** Gives access to the discovery cache of KubernetesObjectApi, which knows every kind's REST path. */
class ObjectApi extends KubernetesObjectApi {
  async pathFor(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    const resource = await this.resource(apiVersion, kind);
    if (!resource)
      throw new ClusterError('not-found', `the API server does not serve ${kind} (${apiVersion})`, undefined, 404);
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    return resource.namespaced && namespace
      ? `${base}/namespaces/${namespace}/${resource.name}`
      : `${base}/${resource.name}`;
  }

  async isNamespaced(apiVersion: string, kind: string): Promise<boolean> {
    return (await this.resource(apiVersion, kind))?.namespaced ?? false;
  }
}

function plainObject<T>(obj: T): T {
  return JSON.parse(JSON.stringify(obj)) as T;
}

function withoutManagedFields<T extends KubeObject>(obj: T): T {
  if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
  return obj;
}

/**
 * The only code that talks to the Kubernetes API. Every subcommand builds one from the global
 * flags; every write goes through `onMutation` so nothing escapes the audit log.
 */
export class ClusterClient {
  readonly server: string;
  readonly contextName: string;
  readonly serverDryRun: boolean;
  private readonly objects: ObjectApi;
  private readonly core: CoreV1Api;
  private readonly onMutation: (m: Mutation) => void;
  private readonly onRequest: (ctx: RequestContext) => void;
  readonly timeouts: Timeouts;
  private readonly onListPage: (kind: string, itemsSoFar: number, done: boolean) => void;
  private readonly limiter?: TokenBucket;
  private readonly inFlight: InFlightLimit;
  private readonly pageSize: number;
  private readonly requestCounts: Record<string, number> = {};

  constructor(
    readonly kubeConfig: KubeConfig,
    opts: Omit<ClusterClientOptions, 'kubeconfig' | 'context'> = {},
  ) {
    this.server = kubeConfig.getCurrentCluster()?.server ?? '(unknown)';
    this.contextName = kubeConfig.getCurrentContext();
    this.serverDryRun = opts.serverDryRun ?? false;
    this.onMutation = opts.onMutation ?? (() => undefined);
    this.onRequest = opts.onRequest ?? (() => undefined);
    const requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    // The connect bound stays below the request bound, so that a server that never completes the
    // TCP or TLS handshake is reported as such, not as one that does not answer.
    this.timeouts = {
      requestTimeoutMs,
      connectTimeoutMs:
        opts.connectTimeoutMs ?? Math.min(DEFAULT_CONNECT_TIMEOUT_MS, Math.max(500, Math.floor(requestTimeoutMs / 2))),
    };
    reuseConnections(kubeConfig);
    this.boundRequests(kubeConfig);
    this.onListPage = opts.onListPage ?? (() => undefined);
    const qps = opts.qps ?? DEFAULT_QPS;
    if (qps > 0 && Number.isFinite(qps))
      this.limiter = new TokenBucket(qps, opts.burst ?? Math.max(1, Math.round(qps * 2)));
    this.inFlight = new InFlightLimit(opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    this.pageSize = opts.pageSize ?? 500;
    this.objects = kubeConfig.makeApiClient(ObjectApi);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /**
   * Every request of the generated API clients passes through applySecurityAuthentication, which is
   * where client-node sets the agent; the bounds are added there. Watches and exec take another path
   * (applyToFetchOptions / applyToHTTPSOptions) and keep their own idle handling.
   */
  private boundRequests(kubeConfig: KubeConfig): void {
    const apply = kubeConfig.applySecurityAuthentication.bind(kubeConfig);
    const { connectTimeoutMs, requestTimeoutMs } = this.timeouts;
    kubeConfig.applySecurityAuthentication = async (context) => {
      await apply(context);
      context.setAgent(boundConnect(context.getAgent() as http.Agent | undefined, connectTimeoutMs) as any);
      context.setSignal(AbortSignal.timeout(requestTimeoutMs) as any);
    };
  }

  static fromOptions(opts: ClusterClientOptions): ClusterClient {
    return new ClusterClient(loadKubeConfig(opts), opts);
  }

  get usage(): ApiUsage {
    return { requests: { ...this.requestCounts }, throttledMs: this.limiter?.waitedMs ?? 0 };
  }

  private count(verb: string): void {
    this.requestCounts[verb] = (this.requestCounts[verb] ?? 0) + 1;
  }

  private async call<T>(ctx: RequestContext, fn: () => Promise<T>): Promise<T> {
    await this.limiter?.take();
    const release = await this.inFlight.acquire();
    this.count(ctx.verb);
    this.onRequest(ctx);
    try {
      return await fn();
    } catch (err) {
      throw toClusterError(err, ctx, this.server, this.timeouts);
    } finally {
      release();
    }
  }

  private get dryRun(): string | undefined {
    return this.serverDryRun ? 'All' : undefined;
  }

  private record(m: Omit<Mutation, 'dryRun'>): void {
    this.onMutation({ ...m, dryRun: this.serverDryRun });
  }

  async version(): Promise<{ gitVersion: string; major: string; minor: string }> {
    const api = this.kubeConfig.makeApiClient(VersionApi);
    return this.call({ verb: 'get', resource: 'version' }, () => api.getCode());
  }

  async get<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T> {
    return this.call({ verb: 'get', resource: ref.kind, name: ref.name, namespace: ref.namespace }, async () =>
      plainObject(
        await this.objects.read<T>({
          apiVersion: ref.apiVersion,
          kind: ref.kind,
          metadata: { name: ref.name, namespace: ref.namespace },
        } as any),
      ),
    );
  }

  /** Like get, but undefined when the object (or its kind) does not exist. */
  async find<T extends KubeObject = KubeObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.get<T>(ref);
    } catch (err) {
      if (isClusterError(err, 'not-found')) return undefined;
      throw err;
    }
  }

  /** Lists every page; with `project`, keeps only what it returns of each item, page by page. */
  async list<T extends KubeObject = KubeObject, R = T>(
    apiVersion: string,
    kind: string,
    opts: ProjectedListOptions<T, R> = {},
  ): Promise<R[]> {
    return (await this.listWithVersion<T, R>(apiVersion, kind, opts)).items;
  }

  async listWithVersion<T extends KubeObject = KubeObject, R = T>(
    apiVersion: string,
    kind: string,
    opts: ProjectedListOptions<T, R> = {},
  ): Promise<{ items: R[]; resourceVersion: string }> {
    const items: R[] = [];
    let resourceVersion = '';
    for await (const page of this.pages<T>(apiVersion, kind, opts)) {
      if (opts.project) for (const item of page.items) items.push(opts.project(item));
      else items.push(...(page.items as unknown as R[]));
      resourceVersion = page.resourceVersion;
      this.onListPage(kind, items.length, page.last);
    }
    return { items, resourceVersion };
  }

  /**
   * Reads a list page by page (limit/continue): at most one page is held at a time. Items come without
   * metadata.managedFields, which nothing here reads and which is often the largest part of an object.
   */
  async *pages<T extends KubeObject = KubeObject>(
    apiVersion: string,
    kind: string,
    opts: ListOptions = {},
  ): AsyncGenerator<{ items: T[]; resourceVersion: string; last: boolean }> {
    const ctx = { verb: 'list', resource: kind, namespace: opts.namespace };
    let token: string | undefined;
    do {
      // The page's JSON is parsed as is: the generated client's typed models cost more time than the whole plan.
      const page = await this.call(ctx, async () =>
        this.rawRequest<{ metadata?: { continue?: string; resourceVersion?: string }; items?: T[] }>(
          'GET',
          await this.objects.pathFor(apiVersion, kind, opts.namespace),
          {
            limit: String(this.pageSize),
            continue: token,
            labelSelector: opts.labelSelector,
            fieldSelector: opts.fieldSelector,
          },
          undefined,
          'application/json',
        ),
      );
      token = page.metadata?.continue || undefined;
      yield {
        items: (page.items ?? []).map((item) => withoutManagedFields({ apiVersion, kind, ...item })),
        resourceVersion: page.metadata?.resourceVersion ?? '',
        last: !token,
      };
    } while (token);
  }

  /** The first result of `pick` over the pages of a list; reads no further page once found. */
  async findInList<T extends KubeObject, R>(
    apiVersion: string,
    kind: string,
    opts: ListOptions,
    pick: (items: T[]) => R | undefined,
  ): Promise<R | undefined> {
    return firstInPages(this.pages<T>(apiVersion, kind, opts), pick);
  }

  /** Lists a kind that may not be installed (e.g. Calico CRDs): [] when the API does not serve it. */
  async listIfServed<T extends KubeObject = KubeObject, R = T>(
    apiVersion: string,
    kind: string,
    opts: ProjectedListOptions<T, R> = {},
  ): Promise<R[] | undefined> {
    try {
      return await this.list<T, R>(apiVersion, kind, opts);
    } catch (err) {
      if (isClusterError(err, 'not-found')) return undefined;
      throw err;
    }
  }

  async create<T extends KubeObject = KubeObject>(obj: T): Promise<T> {
    const ref = refOf(obj);
    try {
      const created = await this.call(
        { verb: 'create', resource: ref.kind, name: ref.name, namespace: ref.namespace },
        () => this.objects.create<T>(obj, undefined, this.dryRun, FIELD_MANAGER),
      );
      this.record({ verb: 'create', ...ref, outcome: 'ok' });
      return plainObject(created);
    } catch (err) {
      this.record({
        verb: 'create',
        ...ref,
        outcome: isClusterError(err, 'conflict') ? 'exists' : 'error',
        detail: (err as Error).message,
      });
      throw err;
    }
  }

  /** Creates the object, or returns the existing one unchanged (idempotent create). */
  async ensure<T extends KubeObject = KubeObject>(obj: T): Promise<{ object: T; created: boolean }> {
    try {
      return { object: await this.create(obj), created: true };
    } catch (err) {
      if (!isClusterError(err, 'conflict')) throw err;
      return { object: await this.get<T>(refOf(obj)), created: false };
    }
  }

  /**
   * Sends a request with the body as given. The generated clients re-serialise bodies through
   * their typed models, which drops fields whose JSON names differ from the model's property
   * names (e.g. x-kubernetes-int-or-string in CRD schemas).
   */
  private async rawRequest<T>(
    method: string,
    path: string,
    query: Record<string, string | undefined>,
    body: unknown,
    contentType: string,
  ): Promise<T> {
    const res = await this.send(
      method,
      path,
      query,
      body === undefined ? undefined : JSON.stringify(body),
      contentType,
    );
    if (res.status >= 300) throw { code: res.status, body: res.text };
    try {
      return JSON.parse(res.text) as T;
    } catch {
      throw new Error(`unexpected response from ${method} ${path}: ${res.text.slice(0, 200)}`);
    }
  }

  /** One bounded HTTP request with the kubeconfig's credentials; resolves whatever the status. */
  private async send(
    method: string,
    path: string,
    query: Record<string, string | undefined>,
    payload: string | undefined,
    contentType: string,
  ): Promise<{ status: number; contentType: string; text: string }> {
    const url = new URL(this.server);
    url.pathname = `${url.pathname.replace(/\/$/, '')}${path}`;
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    const options: https.RequestOptions = {
      method,
      headers: { 'Content-Type': contentType, Accept: 'application/json' },
    };
    try {
      await this.kubeConfig.applyToHTTPSOptions(options);
    } catch (err) {
      throw new ClusterError(
        'kubeconfig',
        `cannot use the cluster and user of context "${this.contextName}": ${(err as Error).message}`,
        'Fix the kubeconfig (kubectl config view --minify): an http:// server needs ' +
          'insecure-skip-tls-verify: true; an exec or auth-provider plugin must work on this ' +
          'machine.',
        undefined,
        (err as Error).stack,
      );
    }
    const transport = url.protocol === 'http:' ? http : https;
    options.agent = boundConnect(
      (options.agent as http.Agent | undefined) ?? new http.Agent(),
      this.timeouts.connectTimeoutMs,
    );
    options.signal = AbortSignal.timeout(this.timeouts.requestTimeoutMs);
    return new Promise((resolve, reject) => {
      const req = transport.request(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 500,
            contentType: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * Asks GET /version before anything else, so that a wrong address, wrong credentials or a server
   * that is not Kubernetes give one clear error, the same on every run.
   */
  async verifyServer(): Promise<{ gitVersion: string }> {
    const ctx: RequestContext = { verb: 'get', resource: 'the server version (/version)' };
    this.onRequest(ctx);
    let res: { status: number; contentType: string; text: string };
    try {
      res = await this.send('GET', '/version', {}, undefined, 'application/json');
    } catch (err) {
      throw toClusterError(err, ctx, this.server, this.timeouts);
    }
    if (res.status === 401) throw unauthorizedError(this.server, `(context ${this.contextName})`);
    let doc: { gitVersion?: unknown; kind?: unknown; apiVersion?: unknown } | undefined;
    try {
      doc = JSON.parse(res.text) as typeof doc;
    } catch {
      doc = undefined;
    }
    if (res.status < 300 && typeof doc?.gitVersion === 'string') return { gitVersion: doc.gitVersion };
    if (doc?.kind === 'Status' && doc.apiVersion === 'v1') {
      // A Kubernetes API server that does not let this user read /version: the real requests will say why.
      return { gitVersion: 'unknown' };
    }
    const what = `HTTP ${res.status}${res.contentType ? ` ${res.contentType.split(';')[0]}` : ''}`;
    throw new ClusterError(
      'not-kubernetes',
      `the server at ${serverAddress(this.server)} is not a Kubernetes API server (GET /version ` +
        `answered ${what}, not a Kubernetes version)`,
      `Point --kubeconfig/--context at the cluster's API server: its address is the "server" of ` +
        `the context's cluster (kubectl config view --minify).`,
      res.status,
    );
  }
  /** Server-side apply with our field manager. */
  async apply<T extends KubeObject = KubeObject>(obj: T, force = true): Promise<T> {
    const ref = refOf(obj);
    const body = { ...obj, metadata: { ...obj.metadata } };
    delete (body.metadata as any).resourceVersion;
    delete (body.metadata as any).managedFields;
    try {
      const out = await this.call(
        { verb: 'apply', resource: ref.kind, name: ref.name, namespace: ref.namespace },
        async () => {
          const path = `${await this.objects.pathFor(ref.apiVersion, ref.kind, ref.namespace)}/${encodeURIComponent(ref.name)}`;
          return this.rawRequest<T>(
            'PATCH',
            path,
            { fieldManager: FIELD_MANAGER, force: force ? 'true' : undefined, dryRun: this.dryRun },
            body,
            PatchStrategy.ServerSideApply,
          );
        },
      );
      this.record({ verb: 'apply', ...ref, outcome: 'ok' });
      return plainObject(out);
    } catch (err) {
      this.record({ verb: 'apply', ...ref, outcome: 'error', detail: (err as Error).message });
      throw err;
    }
  }

  /** JSON merge patch (works for every kind, custom resources included). */
  async mergePatch<T extends KubeObject = KubeObject>(ref: ObjectRef, patch: object): Promise<T> {
    return this.patch<T>(ref, patch, PatchStrategy.MergePatch);
  }

  /** Strategic merge patch (built-in kinds only). */
  async strategicPatch<T extends KubeObject = KubeObject>(ref: ObjectRef, patch: object): Promise<T> {
    return this.patch<T>(ref, patch, PatchStrategy.StrategicMergePatch);
  }

  /** JSON patch (RFC 6902), e.g. with a `test` op for optimistic concurrency. */
  async jsonPatch<T extends KubeObject = KubeObject>(ref: ObjectRef, ops: object[]): Promise<T> {
    return this.patch<T>(ref, ops, PatchStrategy.JsonPatch);
  }

  private async patch<T extends KubeObject>(ref: ObjectRef, patch: object, strategy: PatchStrategy): Promise<T> {
    try {
      const out = await this.call(
        { verb: 'patch', resource: ref.kind, name: ref.name, namespace: ref.namespace },
        async () => {
          const path = `${await this.objects.pathFor(ref.apiVersion, ref.kind, ref.namespace)}/${encodeURIComponent(ref.name)}`;
          return this.rawRequest<T>(
            'PATCH',
            path,
            { fieldManager: FIELD_MANAGER, dryRun: this.dryRun },
            patch,
            strategy,
          );
        },
      );
      this.record({ verb: 'patch', ...ref, outcome: 'ok', detail: JSON.stringify(patch) });
      return out;
    } catch (err) {
      this.record({ verb: 'patch', ...ref, outcome: 'error', detail: (err as Error).message });
      throw err;
    }
  }

  /** Deletes; true when something was deleted, false when it was already gone. */
  async delete(
    ref: ObjectRef,
    opts: { propagationPolicy?: 'Foreground' | 'Background' | 'Orphan'; gracePeriodSeconds?: number } = {},
  ): Promise<boolean> {
    try {
      await this.call({ verb: 'delete', resource: ref.kind, name: ref.name, namespace: ref.namespace }, () =>
        this.objects.delete(
          { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } },
          undefined,
          this.dryRun,
          opts.gracePeriodSeconds,
          undefined,
          opts.propagationPolicy ?? 'Background',
        ),
      );
      this.record({ verb: 'delete', ...ref, outcome: 'ok' });
      return true;
    } catch (err) {
      if (isClusterError(err, 'not-found')) {
        this.record({ verb: 'delete', ...ref, outcome: 'not-found' });
        return false;
      }
      this.record({ verb: 'delete', ...ref, outcome: 'error', detail: (err as Error).message });
      throw err;
    }
  }

  /**
   * Deletes every object of a kind that matches `labelSelector` in `namespace`, in one request (DELETE on the
   * collection, dependents in the background). Resolves how many were deleted; none is not an error.
   */
  async deleteCollection(
    apiVersion: string,
    kind: string,
    opts: { namespace: string; labelSelector: string },
  ): Promise<number> {
    const ref = { apiVersion, kind, name: `-l ${opts.labelSelector}`, namespace: opts.namespace };
    try {
      const out = await this.call({ verb: 'deletecollection', resource: kind, namespace: opts.namespace }, async () =>
        this.rawRequest<{ items?: unknown[] }>(
          'DELETE',
          await this.objects.pathFor(apiVersion, kind, opts.namespace),
          { labelSelector: opts.labelSelector, propagationPolicy: 'Background', dryRun: this.dryRun },
          undefined,
          'application/json',
        ),
      );
      const deleted = out.items?.length ?? 0;
      this.record({
        verb: 'deletecollection',
        ...ref,
        outcome: deleted ? 'ok' : 'not-found',
        detail: `${deleted} deleted`,
      });
      return deleted;
    } catch (err) {
      this.record({ verb: 'deletecollection', ...ref, outcome: 'error', detail: (err as Error).message });
      throw err;
    }
  }

  /**
   * Evicts a pod through the Eviction API. Resolves 'evicted' or 'gone' (404); a refusal by a
   * PodDisruptionBudget rejects with a ClusterError of kind 'too-many-requests'.
   */
  async evict(name: string, namespace: string, gracePeriodSeconds?: number): Promise<'evicted' | 'gone'> {
    const ref = { apiVersion: 'v1', kind: 'Pod', name, namespace };
    try {
      await this.call({ verb: 'create', resource: 'pods/eviction', name, namespace }, () =>
        this.core.createNamespacedPodEviction({
          name,
          namespace,
          body: {
            apiVersion: 'policy/v1',
            kind: 'Eviction',
            metadata: { name, namespace },
            deleteOptions: { gracePeriodSeconds, dryRun: this.dryRun ? ['All'] : undefined },
          },
        }),
      );
      this.record({ verb: 'evict', ...ref, outcome: 'ok' });
      return 'evicted';
    } catch (err) {
      if (isClusterError(err, 'not-found')) {
        this.record({ verb: 'evict', ...ref, outcome: 'not-found' });
        return 'gone';
      }
      this.record({ verb: 'evict', ...ref, outcome: 'error', detail: (err as Error).message });
      throw err;
    }
  }

  /** SelfSubjectAccessReview: may the current user do this? */
  async canI(
    verb: string,
    resource: string,
    opts: { group?: string; namespace?: string; subresource?: string } = {},
  ): Promise<boolean> {
    const api = this.kubeConfig.makeApiClient(AuthorizationV1Api);
    const review = await this.call({ verb: 'create', resource: 'selfsubjectaccessreviews' }, () =>
      api.createSelfSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: {
            resourceAttributes: {
              verb,
              resource,
              group: opts.group ?? '',
              namespace: opts.namespace,
              subresource: opts.subresource,
            },
          },
        },
      }),
    );
    return review.status?.allowed === true;
  }

  /** Reads one file from a container (used for /run/flannel/subnet.env). Undefined when exec is not possible. */
  async readFileInPod(
    namespace: string,
    pod: string,
    container: string,
    file: string,
    timeoutMs = 5000,
  ): Promise<string | undefined> {
    const { Exec } = await import('@kubernetes/client-node');
    const { PassThrough } = await import('node:stream');
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    try {
      const exec = new Exec(this.kubeConfig);
      return await new Promise<string | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), timeoutMs);
        exec
          .exec(namespace, pod, container, ['cat', file], out, null, null, false, (status) => {
            clearTimeout(timer);
            resolve(status.status === 'Success' ? Buffer.concat(chunks).toString('utf8') : undefined);
          })
          .then(
            (ws) =>
              ws.on('error', () => {
                clearTimeout(timer);
                resolve(undefined);
              }),
            () => {
              clearTimeout(timer);
              resolve(undefined);
            },
          );
      });
    } catch {
      return undefined;
    }
  }

  /**
   * Watches a kind from `resourceVersion` and calls `onEvent` until it returns true (resolves true),
   * the deadline passes (resolves false) or `signal` aborts. Reconnects on a dropped stream and
   * relists on 410 Gone, so a long wait survives API server restarts.
   */
  async watchUntil<T extends KubeObject>(
    apiVersion: string,
    kind: string,
    opts: ListOptions & { timeoutMs: number; signal?: AbortSignal; onList?: (items: T[]) => boolean },
    onEvent: (type: WatchEventType, obj: T) => boolean,
  ): Promise<boolean> {
    const deadline = Date.now() + opts.timeoutMs;
    const path = await this.call({ verb: 'watch', resource: kind }, () =>
      this.objects.pathFor(apiVersion, kind, opts.namespace),
    );
    const watch = new Watch(this.kubeConfig);
    let resourceVersion: string | undefined;
    while (Date.now() < deadline && !opts.signal?.aborted) {
      if (!resourceVersion) {
        const listed = await this.listWithVersion<T>(apiVersion, kind, opts);
        if (opts.onList?.(listed.items)) return true;
        for (const item of listed.items) if (onEvent('ADDED', item)) return true;
        resourceVersion = listed.resourceVersion;
      }
      const remaining = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
      const outcome = await new Promise<'matched' | 'closed' | 'gone' | 'error'>((resolve) => {
        let settled = false;
        let controller: AbortController | undefined;
        const finish = (r: 'matched' | 'closed' | 'gone' | 'error') => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          controller?.abort();
          resolve(r);
        };
        const onAbort = () => finish('closed');
        const timer = setTimeout(() => finish('closed'), remaining * 1000 + 2000);
        opts.signal?.addEventListener('abort', onAbort);
        // Aborted while listing: the listener above will never fire.
        if (opts.signal?.aborted) return finish('closed');
        const limited = this.limiter ? this.limiter.take() : Promise.resolve();
        limited
          .then(() =>
            settled
              ? undefined
              : (this.count('watch'),
                watch.watch(
                  path,
                  {
                    resourceVersion,
                    allowWatchBookmarks: true,
                    timeoutSeconds: Math.min(remaining, 300),
                    labelSelector: opts.labelSelector,
                    fieldSelector: opts.fieldSelector,
                  },
                  (type, obj) => {
                    if (type === 'ERROR') return finish(obj?.code === 410 ? 'gone' : 'error');
                    if (obj?.metadata?.resourceVersion) resourceVersion = obj.metadata.resourceVersion;
                    if (type !== 'BOOKMARK' && onEvent(type as WatchEventType, obj as T)) finish('matched');
                  },
                  (err) => finish(err ? 'error' : 'closed'),
                )),
          )
          .then(
            (c) => {
              if (!c) return;
              controller = c;
              if (settled) c.abort();
            },
            () => finish('error'),
          );
      });
      if (outcome === 'matched') return true;
      if (outcome === 'gone') resourceVersion = undefined;
      if (outcome === 'error') {
        resourceVersion = undefined;
        await sleep(Math.min(1000, Math.max(0, deadline - Date.now())), opts.signal);
      }
    }
    return false;
  }
}

/** The reference (apiVersion, kind, name, namespace) of an object. */
export function refOf(obj: KubeObject): ObjectRef {
  if (obj.apiVersion && obj.kind && !obj.metadata?.name && obj.metadata?.generateName) {
    return {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      name: `${obj.metadata.generateName}*`,
      namespace: obj.metadata.namespace,
    };
  }
  if (!obj.apiVersion || !obj.kind || !obj.metadata?.name)
    throw new Error(`object without apiVersion/kind/name: ${JSON.stringify(obj).slice(0, 200)}`);
  return { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace };
}

/** The first result of `pick` over a list's pages; the pages after the one that has it are never read. */
export async function firstInPages<T, R>(
  pages: AsyncIterable<{ items: T[] }>,
  pick: (items: T[]) => R | undefined,
): Promise<R | undefined> {
  for await (const page of pages) {
    const found = pick(page.items);
    if (found !== undefined) return found;
  }
  return undefined;
}
