import { setMaxListeners } from 'node:events';
import { isClusterError, type KubeObject } from '../cluster/index.js';
import type { ClusterPort } from './cluster-port.js';
import type { Plan, PlannedNode } from '../plan/types.js';
import { hostScriptJob, loadHostScript, type HostScriptJobOptions } from '../host/pods.js';
import {
  applyManifest,
  calicoDaemonSetProblems,
  ensureFelixConfiguration,
  ensureNodeIpam,
  ensurePools,
  isCalicoCrdInstalled,
  prepareCalicoManifest,
} from './calico-setup.js';
import { MANAGED_BY_SELECTOR, MIGRATION_LABEL, NODE_STATE_ANNOTATION, STATE_NAMESPACE } from '../names.js';
import { PROBE_NAMESPACE } from './probe.js';
import { SharedWatch } from './shared-watch.js';
import { NODE_STEPS, STEP_TITLES, type EngineEvent, type EventSink, type NodeStep } from './events.js';
import { MigrationLock } from './lock.js';
import type { Confirmation, RunContext } from './run-context.js';
import {
  readMigrationRecord,
  readNodeState,
  recordOfPlan,
  stateFor,
  writeMigrationRecord,
  writeNodeState,
  type MigrationRecord,
  type NodeMigrationState,
  type RunRecord,
} from './state.js';
import { calicoDaemonSetName } from '../flannel/settings.js';
import { labelSelector } from '../k8s.js';
import { pause, StepClock, timeStep } from './step-timing.js';
import { InterruptedError, waitForDaemonSetGone, waitForNoPodOnNode, waitForPodReadyOnNode } from './waits.js';
import { captureClusterBefore, wasUnschedulableBefore } from './cluster-before.js';
import { checkHelperImage, runHostScriptJob, type HostJobRun } from './host-jobs.js';
import { forEachLimited } from './concurrency.js';
import { NODE_SUMMARY_REASONS, nodeSummaryMessage, type StepDuration } from './node-summary.js';
import { BudgetWaiters } from './drain.js';
import {
  cordonAndDrain,
  deleteHelperObjects,
  listDrainObjects,
  nodeEvent,
  nodeRef,
  probeNode,
  restartPodNetworkPods,
  setNetworkLabel,
  setUnschedulable,
  type DrainObjects,
} from './node-ops.js';

export interface EngineOptions {
  plan: Plan;
  /**
   * Every node of the cluster as planned (the plan itself may cover only some): all get their Calico identity and the
   * migration label first.
   */
  allNodes?: PlannedNode[];
  /** Upstream flannel-migration manifest, used when Calico is not installed yet. */
  calicoManifest?: KubeObject[];
  helperImage: string;
  probeImage: string;
  drainTimeoutMs: number;
  drainRetryDelayMs?: number;
  /** Bound on every other wait (calico-node Ready, host and probe Jobs). */
  stepTimeoutMs?: number;
  finalize: 'yes' | 'no' | 'ask';
  /** Skip the connectivity proof (e.g. where helper images cannot be pulled). */
  skipProbe?: boolean;
  /** How long an unreachable or failing API server is waited for before the run gives up (default 5 min). */
  apiOutageMs?: number;
}

export interface NodeFailure {
  node?: string;
  step?: NodeStep;
  error: Error;
}

/** What every outcome reports besides its status. */
export interface RunSummary {
  migrated: string[];
  /** Planned nodes deleted from the cluster before they were migrated: not migrated. */
  skipped: string[];
  /** Nodes that are not part of the plan (joined during the run): left on flannel. */
  notInPlan: string[];
}

export type RunOutcome = RunSummary &
  (
    | { status: 'completed'; finalized: boolean }
    | { status: 'declined' }
    | { status: 'interrupted'; at: Array<{ node: string; step: NodeStep }> }
    /** `node`, `step` and `error` are the first failure; `failures` names every failed node of the batch. */
    | { status: 'failed'; node?: string; step?: NodeStep; error: Error; failures: NodeFailure[] }
  );

export class NodeStepError extends Error {
  constructor(
    readonly node: string,
    readonly step: NodeStep,
    readonly cause: Error,
  ) {
    super(`${node}: ${STEP_TITLES[step]} failed: ${cause.message}`);
  }
}

/** The run was interrupted while this node was at this step; the step is not recorded as done. */
export class NodeInterruptedError extends Error {
  constructor(
    readonly node: string,
    readonly step: NodeStep,
  ) {
    super(`${node}: interrupted during ${STEP_TITLES[step]}`);
  }
}

/** The node was deleted from the cluster while it was being migrated. */
export class NodeGoneError extends Error {
  constructor(
    readonly node: string,
    readonly step: NodeStep,
  ) {
    super(`${node} was deleted from the cluster during ${STEP_TITLES[step]}`);
  }
}

/** Errors worth waiting out: the API server is down, restarting or overloaded; the request can be retried. */
function isTransient(err: unknown): boolean {
  if (isClusterError(err, 'unreachable') || isClusterError(err, 'timeout')) return true;
  // Not every 500: the Eviction API answers 500 for a pod under two budgets, which no wait cures.
  return (
    isClusterError(err, 'server') &&
    (err.status === 502 ||
      err.status === 503 ||
      (err.status === 500 && /etcd|storage|unable to handle/i.test(err.message)))
  );
}

/**
 * Steps whose first or only action is a patch of the node: that patch also writes the node's state,
 * as the step starts ('start': it records the previous step done) or as it ends ('end': the patch is
 * the step). Each saves a write of its own, and the state and the change can never disagree.
 */
const STATE_IN_PATCH: Partial<Record<NodeStep, 'start' | 'end'>> = {
  cordon: 'end',
  'stop-flannel': 'start',
  'start-calico': 'start',
  uncordon: 'end',
};

/** Steps with no action of their own: the node patch of the step before them records them done. */
const RECORDED_WITH_PREVIOUS: ReadonlySet<NodeStep> = new Set<NodeStep>(['done']);

const stateAnnotation = (state: NodeMigrationState) => ({ [NODE_STATE_ANNOTATION]: JSON.stringify(state) });

/** Nodes prepared at once (IPAM objects, annotations) before the first node moves. */
const PREPARE_CONCURRENCY = 32;

/**
 * Waiting reasons of a container whose image will not come: the kubelet has given up for now, or the name is invalid.
 */

/**
 * Executes a Plan. Every step checks the cluster before acting, records its progress in the
 * cluster, and can be rerun: a crashed or interrupted run resumes where it stopped.
 */
export class MigrationEngine {
  private readonly lock: MigrationLock;
  private readonly stepTimeoutMs: number;
  private readonly signal?: AbortSignal;
  private readonly skipped = new Set<string>();
  private readonly notInPlan = new Set<string>();
  /** The budgets' watches, shared by every drain of the run. */
  private readonly budgets: BudgetWaiters;
  /** DaemonSets and budgets for the drain filters: listed once per batch, not once per node. */
  private batchDrainObjects?: Promise<DrainObjects>;
  /** Run-wide watches over the tool's Jobs and pods and over calico-node's pods: the per-node waits read them. */
  private readonly toolJobs: SharedWatch;
  private readonly toolPods: SharedWatch;
  private calicoPods?: SharedWatch;
  /** Nodes this run cordoned (its cordon step): the drain need not check again. */
  private readonly cordonedNow = new Set<string>();
  /** The plan's nodes by name. */
  private readonly planned: Map<string, PlannedNode>;
  /** DaemonSet selectors, read once per run: they do not change during a migration. */
  private readonly selectors = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly client: ClusterPort,
    private readonly ctx: RunContext,
    private readonly opts: EngineOptions,
  ) {
    this.budgets = new BudgetWaiters(client);
    const tools = { namespace: STATE_NAMESPACE, labelSelector: MANAGED_BY_SELECTOR };
    this.toolJobs = new SharedWatch(client, 'batch/v1', 'Job', tools);
    this.toolPods = new SharedWatch(client, 'v1', 'Pod', tools);
    this.signal = ctx.signal;
    this.lock = new MigrationLock(client, 30, ctx.signal);
    this.stepTimeoutMs = opts.stepTimeoutMs ?? 5 * 60_000;
    this.planned = new Map(opts.plan.nodes.map((n) => [n.name, n]));
  }

  private summary(migrated: string[]): RunSummary {
    return { migrated, skipped: [...this.skipped], notInPlan: [...this.notInPlan] };
  }

  /**
   * Runs an idempotent piece of work again while the API server is unreachable or failing (it may be
   * restarting), for up to apiOutageMs; stops waiting at Ctrl-C.
   */
  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const limitMs = this.opts.apiOutageMs ?? 5 * 60_000;
    let outageSince: number | undefined;
    while (true) {
      try {
        const result = await fn();
        if (outageSince !== undefined)
          this.emit({ type: 'info', message: `the API server answers again; continuing (${what})` });
        return result;
      } catch (err) {
        if (!isTransient(err) || this.signal?.aborted) throw err;
        if (outageSince === undefined) {
          outageSince = Date.now();
          this.emit({
            type: 'warning',
            message:
              `${(err as Error).message}; waiting up to ${Math.round(limitMs / 1000)} s for the API ` +
              `server (${what})`,
          });
        } else if (Date.now() - outageSince > limitMs) {
          throw err;
        }
        await pause(2000, this.signal);
      }
    }
  }

  private emit(event: EngineEvent): void {
    this.ctx.emit(event);
  }

  async run(): Promise<RunOutcome> {
    const { tookOverFrom } = await this.lock.acquire();
    if (tookOverFrom)
      this.emit({
        type: 'warning',
        message: `took over the migration lock from ${tookOverFrom}, which stopped renewing it`,
      });
    const migrated: string[] = [];
    const plan = this.opts.plan;
    if (this.signal) setMaxListeners(Math.max(...plan.batches.map((b) => b.length), 1) * 2 + 10, this.signal);
    try {
      if (this.signal?.aborted) return this.stopped({ ...this.summary(migrated), status: 'interrupted', at: [] });
      await this.retrying('preparing', () => this.prepare());
      let first = true;
      for (let index = 0; index < plan.batches.length; index++) {
        if (this.signal?.aborted) return this.stopped({ ...this.summary(migrated), status: 'interrupted', at: [] });
        if (!first && this.ctx.confirmsAll) {
          // Every remaining batch is confirmed: no batch waits for the slowest node of the one before.
          const stopped = await this.migrateRolling(index, migrated);
          if (stopped) return stopped;
          break;
        }
        const batch = plan.batches[index];
        await this.retrying('looking for nodes that joined', () => this.labelNodesNotInPlan());
        const pending: PlannedNode[] = [];
        const read = new Map<string, KubeObject>();
        for (const name of batch) {
          const planned = this.planned.get(name);
          if (!planned) continue;
          const { state, node } = await this.retrying(`reading node ${name}`, () => this.nodeProgress(name));
          if (state === 'gone') this.skipNode(name, 'it no longer exists');
          else if (state === 'done') migrated.push(name);
          else {
            pending.push(planned);
            read.set(name, node!);
          }
        }
        if (!pending.length) continue;
        const names = pending.map((n) => n.name).join(', ');
        const question: Confirmation = first
          ? {
              kind: 'first-node',
              message: `Migrate the first batch (${names}) now? Its pods are evicted and its network switches to Calico.`,
              allowAll: true,
            }
          : { kind: 'batch', message: `Migrate batch ${index + 1}/${plan.batches.length} (${names})?`, allowAll: true };
        if (first) await this.checkHelperImage(pending[0]);
        first = false;
        if (!(await this.ctx.ask(question))) return { ...this.summary(migrated), status: 'declined' };
        if (this.signal?.aborted) return this.stopped({ ...this.summary(migrated), status: 'interrupted', at: [] });
        this.emit({
          type: 'batch-start',
          index: index + 1,
          total: plan.batches.length,
          nodes: pending.map((n) => n.name),
        });
        this.batchDrainObjects = undefined;
        const stopped = await this.migrateNodes(
          pending.map((n) => n.name),
          pending.length,
          migrated,
          read,
        );
        if (stopped) return stopped;
      }
      await this.retrying('looking for nodes that joined', () => this.labelNodesNotInPlan());
      if (this.signal?.aborted) return this.stopped({ ...this.summary(migrated), status: 'interrupted', at: [] });
      const finalized = await this.retrying('finalizing', () => this.maybeFinalize());
      return this.stopped({ ...this.summary(migrated), status: 'completed', finalized });
    } catch (err) {
      if (err instanceof DeclinedError) return { ...this.summary(migrated), status: 'declined' };
      if (err instanceof InterruptedError || (this.signal?.aborted && isTransient(err))) {
        return this.stopped({ ...this.summary(migrated), status: 'interrupted', at: [] });
      }
      return this.stopped({
        ...this.summary(migrated),
        status: 'failed',
        error: err as Error,
        failures: [{ error: err as Error }],
      });
    } finally {
      this.budgets.close();
      for (const watch of [this.toolJobs, this.toolPods, this.calicoPods]) watch?.close();
      await this.lock.release().catch(() => undefined);
      this.ctx.audit.write({ type: 'api-usage', ...this.client.usage });
    }
  }

  /** Records how the run ended in the migration record (for `status` and the next run), then returns the outcome. */
  private async stopped(outcome: Exclude<RunOutcome, { status: 'declined' }>): Promise<RunOutcome> {
    const run: RunRecord = { outcome: outcome.status, at: new Date().toISOString() };
    if (outcome.status === 'failed')
      run.failures = outcome.failures.map((f) => ({ node: f.node, step: f.step, error: f.error.message }));
    if (outcome.status === 'interrupted')
      run.failures = outcome.at.map((a) => ({ node: a.node, step: a.step, error: 'interrupted' }));
    if (outcome.skipped.length) run.skipped = outcome.skipped;
    if (outcome.notInPlan.length) run.notInPlan = outcome.notInPlan;
    try {
      const record = await readMigrationRecord(this.client);
      if (record) await writeMigrationRecord(this.client, { ...record, lastRun: run, updatedAt: run.at });
    } catch (err) {
      this.emit({
        type: 'warning',
        message: `could not record how the run ended in kube-system/flannel2calico-state: ${(err as Error).message}`,
      });
    }
    return outcome;
  }

  private skipNode(name: string, why: string): void {
    if (this.skipped.has(name)) return;
    this.skipped.add(name);
    this.emit({ type: 'warning', node: name, message: `${name} is skipped, not migrated: ${why}` });
  }

  /**
   * The batches after the first, once all are confirmed: workers in plan order with at most a batch's
   * worth at once, the next node starting as soon as one finishes; control-plane nodes after them, one
   * at a time, as planned.
   */
  private async migrateRolling(fromBatch: number, migrated: string[]): Promise<RunOutcome | undefined> {
    const all = this.opts.plan.batches;
    const batches = all.slice(fromBatch);
    const isWorker = (name: string) => this.planned.get(name)?.role !== 'control-plane';
    const workerBatches = batches.filter((b) => b.every(isWorker));
    const workers = workerBatches.flat();
    const width = Math.max(1, ...workerBatches.map((b) => b.length));
    if (workers.length)
      this.emit({
        type: 'info',
        message:
          `migrating the remaining ${workers.length} worker node(s), at most ${width} at once: ` +
          'each starts as soon as another finishes',
      });
    const stopped = await this.migrateNodes(workers, width, migrated);
    if (stopped) return stopped;
    for (const batch of batches.filter((b) => !b.every(isWorker))) {
      if (this.signal?.aborted) return this.stopped({ ...this.summary(migrated), status: 'interrupted', at: [] });
      this.emit({ type: 'batch-start', index: all.indexOf(batch) + 1, total: all.length, nodes: batch });
      this.batchDrainObjects = undefined;
      const outcome = await this.migrateNodes(batch, batch.length, migrated);
      if (outcome) return outcome;
    }
    return undefined;
  }

  /**
   * Migrates `names` in order with at most `width` at once. After a failure or Ctrl-C no further node
   * starts; the nodes already moving finish (or stop at their next safe point) and every outcome is
   * reported. `read`: nodes read just before (else each is read as it starts). Returns how the run
   * stopped, or undefined when every node is migrated or skipped.
   */
  private async migrateNodes(
    names: string[],
    width: number,
    migrated: string[],
    read?: Map<string, KubeObject>,
  ): Promise<RunOutcome | undefined> {
    const failures: NodeFailure[] = [];
    const interrupted: Array<{ node: string; step: NodeStep }> = [];
    const moving = new Set<Promise<void>>();
    let started = 0;
    for (const name of names) {
      if (failures.length || this.signal?.aborted) break;
      const planned = this.planned.get(name);
      if (!planned) continue;
      let node = read?.get(name);
      if (!read) {
        // Once per window's worth of nodes: nodes that joined, and fresh DaemonSets and budgets for the drain filters.
        if (started % width === 0) {
          await this.retrying('looking for nodes that joined', () => this.labelNodesNotInPlan());
          this.batchDrainObjects = undefined;
        }
        const progress = await this.retrying(`reading node ${name}`, () => this.nodeProgress(name));
        if (progress.state === 'gone') {
          this.skipNode(name, 'it no longer exists');
          continue;
        }
        if (progress.state === 'done') {
          migrated.push(name);
          continue;
        }
        node = progress.node;
      }
      started++;
      const moved: Promise<void> = this.migrateNode(planned, node).then(
        () => void migrated.push(name),
        (err: Error) => {
          if (err instanceof NodeGoneError) this.skipNode(name, `it was deleted during ${STEP_TITLES[err.step]}`);
          else if (err instanceof NodeInterruptedError) interrupted.push({ node: err.node, step: err.step });
          else if (err instanceof NodeStepError) failures.push({ node: err.node, step: err.step, error: err.cause });
          else failures.push({ node: name, error: err });
        },
      );
      moving.add(moved);
      void moved.then(() => moving.delete(moved));
      while (moving.size >= width) await Promise.race(moving);
    }
    await Promise.all(moving);
    if (failures.length)
      return this.stopped({
        ...this.summary(migrated),
        status: 'failed',
        node: failures[0].node,
        step: failures[0].step,
        error: failures[0].error,
        failures,
      });
    if (interrupted.length || this.signal?.aborted)
      return this.stopped({ ...this.summary(migrated), status: 'interrupted', at: interrupted });
    return undefined;
  }

  private async nodeProgress(name: string): Promise<{ state: 'gone' | 'done' | 'pending'; node?: KubeObject }> {
    const node = await this.client.find(nodeRef(name));
    if (!node) return { state: 'gone' };
    return {
      state:
        node.metadata?.labels?.[MIGRATION_LABEL] === 'calico' &&
        (readNodeState(node)?.completed.includes('done') ?? false)
          ? 'done'
          : 'pending',
      node,
    };
  }

  /**
   * Every node carries the migration label, so that flannel (restricted to network=flannel) keeps
   * running on nodes the plan does not move, including nodes that join during the run.
   */
  private async labelNodesNotInPlan(): Promise<void> {
    const planned = new Set([...(this.opts.allNodes ?? []), ...this.opts.plan.nodes].map((n) => n.name));
    for (const node of await this.client.list('v1', 'Node', { labelSelector: `!${MIGRATION_LABEL}` })) {
      const name = node.metadata!.name!;
      if (node.metadata?.labels?.[MIGRATION_LABEL]) continue;
      await this.client.mergePatch(nodeRef(name), { metadata: { labels: { [MIGRATION_LABEL]: 'flannel' } } });
      if (!planned.has(name) && !this.notInPlan.has(name)) {
        this.notInPlan.add(name);
        this.emit({
          type: 'warning',
          node: name,
          message:
            `${name} joined the cluster during the run: it is not part of this plan, so it stays on ` +
            `flannel (labelled network=flannel); rerun \`flannel2calico migrate\` without --plan, or ` +
            `make a new plan, to migrate it`,
        });
      }
    }
  }

  /** Everything that happens once, before the first node: Calico installed, datastore written, nodes labelled. */
  private async prepare(): Promise<void> {
    const { plan } = this.opts;
    const record = (await readMigrationRecord(this.client)) ?? (await this.recordClusterBefore());
    await this.ensureCalicoInstalled();
    // A server dry run cannot create CRDs, so objects of kinds that do not exist yet cannot be validated.
    const calicoKinds = !this.client.serverDryRun || (await isCalicoCrdInstalled(this.client));
    if (!calicoKinds)
      this.emit({
        type: 'warning',
        message:
          "server dry run: Calico's CRDs are not installed yet, so the IP pools, Felix settings and " +
          'IPAM objects cannot be validated by the API server; skipping them',
      });
    this.emit({
      type: 'phase',
      phase: 'datastore',
      message: 'writing Calico IP pools, Felix VXLAN settings and per-node IPAM',
    });
    if (calicoKinds) {
      await ensurePools(this.client, plan, (e) => this.emit(e));
      await ensureFelixConfiguration(this.client, plan.calico.felixConfigurationPatch);
    }
    await writeMigrationRecord(this.client, this.planRecord(record.startedAt, record.before));
    const everyNode = new Map([...(this.opts.allNodes ?? []), ...plan.nodes].map((n) => [n.name, n]));
    // Independent per node: a bounded number at once (the client's rate limit paces them further).
    await forEachLimited([...everyNode.values()], PREPARE_CONCURRENCY, async (node) => {
      const current = await this.client.find(nodeRef(node.name));
      if (!current) {
        if (plan.nodes.some((n) => n.name === node.name)) this.skipNode(node.name, 'it no longer exists');
        return;
      }
      if (calicoKinds)
        await ensureNodeIpam(this.client, [...node.ipam.blocks, ...node.ipam.affinities, ...node.ipam.handles]);
      const annotations = current.metadata?.annotations ?? {};
      const missing = Object.entries(node.annotations).filter(([k, v]) => annotations[k] !== v);
      const labelled = current.metadata?.labels?.[MIGRATION_LABEL];
      if (missing.length || !labelled) {
        await this.client.mergePatch(nodeRef(node.name), {
          metadata: {
            annotations: Object.fromEntries(missing),
            ...(labelled ? {} : { labels: { [MIGRATION_LABEL]: 'flannel' } }),
          },
        });
      }
    });
    await this.labelNodesNotInPlan();
    await this.restrictFlannelToUnmigratedNodes();
  }

  /** The first run writes down what it found, before changing anything, so `revert --all` can restore it. */
  private async recordClusterBefore(): Promise<MigrationRecord> {
    const record = this.planRecord(
      new Date().toISOString(),
      await captureClusterBefore(this.client, this.opts.calicoManifest ?? []),
    );
    await writeMigrationRecord(this.client, record);
    return record;
  }

  /** The migration record of this plan. */
  private planRecord(startedAt: string, before: MigrationRecord['before']): MigrationRecord {
    const { plan } = this.opts;
    return {
      phase: 'migrating',
      ...recordOfPlan(plan),
      startedAt,
      updatedAt: new Date().toISOString(),
      before,
    };
  }

  private async ensureCalicoInstalled(): Promise<void> {
    const { plan } = this.opts;
    const name = calicoDaemonSetName(plan.settings);
    const existing = await this.client.find({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      name,
      namespace: 'kube-system',
    });
    if (existing) {
      const problems = calicoDaemonSetProblems(existing);
      if (problems.length)
        throw new Error(
          `${problems.join('; ')}. Patch it: kubectl -n kube-system patch ds ${name} -p ` +
            `'{"spec":{"template":{"spec":{"nodeSelector":{"${MIGRATION_LABEL}":"calico"}}}}}'`,
        );
      this.emit({ type: 'info', message: `Calico is installed (DaemonSet kube-system/${name}) in migration mode` });
      return;
    }
    if (!this.opts.calicoManifest) {
      throw new Error(
        `Calico is not installed (no DaemonSet kube-system/${name}); pass --calico-manifest with ` +
          `Calico's flannel-migration calico.yaml`,
      );
    }
    const mtu = Number(plan.settings.flannelMtu?.value ?? 1450);
    const prepared = prepareCalicoManifest(this.opts.calicoManifest, name, mtu);
    const summary =
      `Install Calico in migration mode: ${prepared.objects.length} objects (${countKinds(prepared.objects)})` +
      (prepared.changes.length ? `, adjusted:\n  - ${prepared.changes.join('\n  - ')}` : '');
    if (!(await this.ctx.ask({ kind: 'install-calico', message: `${summary}\nApply it now?` })))
      throw new DeclinedError();
    this.emit({
      type: 'phase',
      phase: 'install-calico',
      message: `applying ${prepared.objects.length} objects of the Calico manifest (server-side apply)`,
    });
    await applyManifest(this.client, prepared.objects, (e) => this.emit(e));
  }

  private async restrictFlannelToUnmigratedNodes(): Promise<void> {
    const { name, namespace } = this.opts.plan.flannelDaemonSet;
    const ds = await this.client.find({ apiVersion: 'apps/v1', kind: 'DaemonSet', name, namespace });
    if (!ds) return;
    if (ds.spec?.template?.spec?.nodeSelector?.[MIGRATION_LABEL] === 'flannel') return;
    await this.client.strategicPatch(
      { apiVersion: 'apps/v1', kind: 'DaemonSet', name, namespace },
      {
        spec: { template: { spec: { nodeSelector: { [MIGRATION_LABEL]: 'flannel' } } } },
      },
    );
  }

  /** `read`: the node as read just before the batch started (else read here). */
  private async migrateNode(planned: PlannedNode, read?: KubeObject): Promise<void> {
    const started = Date.now();
    const node =
      read ?? (await this.retrying(`reading node ${planned.name}`, () => this.client.find(nodeRef(planned.name))));
    if (!node) throw new NodeGoneError(planned.name, 'cordon');
    const now = new Date().toISOString();
    const recorded = stateFor(node, 'migrate');
    let state: NodeMigrationState = recorded ?? {
      operation: 'migrate',
      step: 'cordon',
      completed: [],
      wasUnschedulable: wasUnschedulableBefore(node),
      startedAt: now,
      updatedAt: now,
    };
    // The state not yet written to the node: the next step's node patch carries it (see STATE_IN_PATCH).
    let unwritten = !recorded;
    const ran: StepDuration[] = [];
    const writeState = async (s: NodeMigrationState) => {
      await this.recordProgress(planned.name, s.step, s);
      unwritten = false;
    };
    for (const step of NODE_STEPS) {
      if (state.completed.includes(step)) continue;
      // A safe point: the previous step is recorded as done; start no new step after Ctrl-C.
      if (this.signal?.aborted) {
        if (unwritten) await writeState(state).catch(() => undefined);
        throw new NodeInterruptedError(planned.name, step);
      }
      const stepStarted = Date.now();
      this.emit({ type: 'step-start', node: planned.name, step, message: STEP_TITLES[step] });
      state = { ...state, step, updatedAt: new Date().toISOString(), error: undefined };
      const clock = new StepClock();
      const carried = STATE_IN_PATCH[step];
      const alsoDone: NodeStep[] = [];
      if (carried === 'end')
        for (const later of NODE_STEPS.slice(NODE_STEPS.indexOf(step) + 1)) {
          if (!RECORDED_WITH_PREVIOUS.has(later)) break;
          alsoDone.push(later);
        }
      // What this step's node patch records: the state as the step starts, or as it ends.
      const recordInPatch =
        carried === 'start'
          ? state
          : carried === 'end'
            ? { ...state, completed: [...state.completed, step, ...alsoDone] }
            : undefined;
      try {
        const current = state;
        await timeStep(clock, () =>
          this.retrying(`${planned.name}: ${STEP_TITLES[step]}`, () =>
            this.runStep(step, planned, current, recordInPatch && stateAnnotation(recordInPatch)),
          ),
        );
      } catch (err) {
        const error = err as Error;
        if (error instanceof InterruptedError || this.signal?.aborted) {
          const message = `interrupted during ${STEP_TITLES[step]}: not recorded as done${NODE_STEPS.indexOf(step) > 0 ? '; the node stays cordoned' : ''}`;
          await writeNodeState(this.client, planned.name, {
            ...state,
            error: message,
            updatedAt: new Date().toISOString(),
          }).catch(() => undefined);
          this.emit({ type: 'warning', node: planned.name, message: `${planned.name}: ${message}` });
          throw new NodeInterruptedError(planned.name, step);
        }
        if (!(await this.client.find(nodeRef(planned.name)).catch(() => true)))
          throw new NodeGoneError(planned.name, step);
        await writeNodeState(this.client, planned.name, {
          ...state,
          error: error.message,
          updatedAt: new Date().toISOString(),
        }).catch(() => undefined);
        await this.nodeEvent(
          planned.name,
          'Warning',
          'MigrationStepFailed',
          `${STEP_TITLES[step]} failed: ${error.message}`,
        );
        this.emit({ type: 'node-failed', node: planned.name, step, message: error.message });
        throw new NodeStepError(planned.name, step, error);
      }
      state =
        recordInPatch && carried === 'end'
          ? recordInPatch
          : { ...state, completed: [...state.completed, step], updatedAt: new Date().toISOString() };
      if (carried === 'end') unwritten = false;
      else {
        // Written by the next node patch of a later step, which carries the state (a step redone after a
        // crash before that patch is idempotent); written now only when no later step patches the node.
        const later = NODE_STEPS.filter((s) => !state.completed.includes(s));
        if (later.some((s) => STATE_IN_PATCH[s])) unwritten = true;
        else await writeState(state);
      }
      const elapsedMs = Date.now() - stepStarted;
      ran.push({ step, ms: elapsedMs });
      this.emit({
        type: 'step-done',
        node: planned.name,
        step,
        message: STEP_TITLES[step],
        elapsedMs,
        waitedMs: clock.waitedMs,
        pausedMs: clock.pausedMs,
      });
    }
    if (unwritten) await writeState(state);
    // History, not state: one Event for the whole node, written once its last step is recorded.
    if (ran.length)
      await this.nodeEvent(
        planned.name,
        'Normal',
        NODE_SUMMARY_REASONS.migrate,
        nodeSummaryMessage('migrate', Date.now() - started, ran),
      );
    this.emit({ type: 'node-done', node: planned.name, elapsedMs: Date.now() - started });
  }

  /** Records a node's progress on the Node; a node deleted meanwhile is gone, not failed. */
  private async recordProgress(node: string, step: NodeStep, state: NodeMigrationState): Promise<void> {
    try {
      await this.retrying(`recording ${node}`, () => writeNodeState(this.client, node, state));
    } catch (err) {
      if (isClusterError(err, 'not-found')) throw new NodeGoneError(node, step);
      throw err;
    }
  }

  /** `record`: the node's state annotation, for steps whose node patch records it (STATE_IN_PATCH). */
  private async runStep(
    step: NodeStep,
    planned: PlannedNode,
    state: NodeMigrationState,
    record?: Record<string, string>,
  ): Promise<void> {
    const name = planned.name;
    const wait = (message: string) => this.emit({ type: 'step-wait', node: name, step, message });
    switch (step) {
      case 'cordon':
        await setUnschedulable(this.client, name, true, record);
        this.cordonedNow.add(name);
        return;
      case 'drain':
        return cordonAndDrain(this.client, name, {
          drain: this.opts.plan.drain,
          cordoned: this.cordonedNow.has(name),
          timeoutMs: this.opts.drainTimeoutMs,
          retryDelayMs: this.opts.drainRetryDelayMs ?? 5000,
          budgets: this.budgets,
          objects: () => {
            const listed = this.batchDrainObjects ?? listDrainObjects(this.client);
            // A failed list is not kept: the next node (or the retry) lists again.
            this.batchDrainObjects = listed;
            listed.catch(() => {
              if (this.batchDrainObjects === listed) this.batchDrainObjects = undefined;
            });
            return listed;
          },
          onWaiting: wait,
          onEvicted: (pod) => this.ctx.audit.write({ type: 'evicted', node: name, pod }),
          signal: this.signal,
        });
      case 'stop-flannel': {
        await setNetworkLabel(this.client, name, 'none', record);
        const flannel = await this.flannelPodSelector();
        if (flannel && !this.client.serverDryRun) {
          wait(`waiting for the ${flannel.namespace}/${this.opts.plan.flannelDaemonSet.name} pod to leave the node`);
          await waitForNoPodOnNode(
            this.client,
            name,
            flannel.namespace,
            flannel.selector,
            this.stepTimeoutMs,
            `the flannel pod to leave ${name}`,
            this.signal,
          );
        }
        return;
      }
      case 'host-cleanup':
        await this.runHostJob(planned, wait);
        return restartPodNetworkPods(this.client, name, 'flannel', wait);
      case 'start-calico': {
        await setNetworkLabel(this.client, name, 'calico', record);
        if (this.client.serverDryRun) return;
        const dsName = calicoDaemonSetName(this.opts.plan.settings);
        const selector = await this.daemonSetSelector('kube-system', dsName, true);
        this.calicoPods ??= new SharedWatch(this.client, 'v1', 'Pod', {
          namespace: 'kube-system',
          labelSelector: selector,
        });
        wait(`waiting for calico-node on ${name} to be Ready`);
        await waitForPodReadyOnNode(
          this.client,
          name,
          'kube-system',
          selector ?? '',
          this.stepTimeoutMs,
          `calico-node on ${name} to be Ready`,
          this.signal,
          this.calicoPods,
        );
        return;
      }
      case 'probe':
        if (this.opts.skipProbe || this.client.serverDryRun) return;
        return probeNode(this.client, name, {
          image: this.opts.probeImage,
          timeoutMs: this.stepTimeoutMs,
          peerNetwork: 'flannel',
          wait,
          signal: this.signal,
          ...(PROBE_NAMESPACE === STATE_NAMESPACE ? { shared: { pods: this.toolPods, jobs: this.toolJobs } } : {}),
        });
      case 'uncordon':
        if (!state.wasUnschedulable) await setUnschedulable(this.client, name, false, record);
        else if (record) await this.client.mergePatch(nodeRef(name), { metadata: { annotations: record } });
        return;
      case 'done':
        return;
    }
  }

  private async flannelPodSelector(): Promise<{ namespace: string; selector: string } | undefined> {
    const { name, namespace } = this.opts.plan.flannelDaemonSet;
    const selector = await this.daemonSetSelector(namespace, name, false);
    return selector ? { namespace, selector } : undefined;
  }

  /** A DaemonSet's pod selector, read once per run (a selector is immutable); a failed read is not kept. */
  private daemonSetSelector(namespace: string, name: string, required: boolean): Promise<string | undefined> {
    const key = `${namespace}/${name}`;
    let selector = this.selectors.get(key);
    if (!selector) {
      const ref = { apiVersion: 'apps/v1', kind: 'DaemonSet', name, namespace };
      selector = (required ? this.client.get(ref) : this.client.find(ref)).then((ds) => {
        const labels = ds?.spec?.selector?.matchLabels;
        return labels ? labelSelector(labels) : undefined;
      });
      this.selectors.set(key, selector);
      const read = selector;
      read.then(
        (s) => {
          if (s === undefined) this.selectors.delete(key);
        },
        () => this.selectors.delete(key),
      );
    }
    return selector;
  }

  private hostJobOptions(planned: PlannedNode): HostScriptJobOptions {
    const { plan } = this.opts;
    return {
      script: 'cleanup',
      scriptText: loadHostScript('cleanup'),
      node: planned.name,
      namespace: STATE_NAMESPACE,
      vni: Number(plan.settings.flannelVni?.value ?? 1),
      cniConfigDir: String(plan.settings.cniConfigDir?.value ?? '/etc/cni/net.d'),
      flavour: plan.flavour,
      image: this.opts.helperImage,
      runId: 'migrate',
    };
  }

  /**
   * Runs the cleanup script's command check (MODE=check, changes nothing) in the helper image on
   * the first node to move, before anything is drained: a wrong image stops the run while every
   * node still runs flannel.
   */
  private async checkHelperImage(first: PlannedNode): Promise<void> {
    if (this.client.serverDryRun) return;
    const image = this.opts.helperImage;
    const job = hostScriptJob({ ...this.hostJobOptions(first), mode: 'check' });
    this.emit({
      type: 'phase',
      phase: 'helper-image-check',
      message:
        `checking that helper image ${image} has the host cleanup's commands (Job ` +
        `${job.metadata!.namespace}/${job.metadata!.name} on ${first.name}, changes nothing)`,
    });
    try {
      await checkHelperImage(this.client, job, first.name, this.hostJobRun());
    } catch (err) {
      if (!(err instanceof InterruptedError))
        this.emit({ type: 'warning', node: first.name, message: (err as Error).message });
      throw err;
    }
    this.emit({ type: 'info', message: `helper image ${image} can run the host cleanup` });
  }

  private hostJobRun(): HostJobRun {
    return {
      what: 'host cleanup',
      image: this.opts.helperImage,
      timeoutMs: this.stepTimeoutMs,
      signal: this.signal,
      onReplace: (message) => this.emit({ type: 'info', message }),
    };
  }

  private async runHostJob(planned: PlannedNode, wait: (m: string) => void): Promise<void> {
    await runHostScriptJob(this.client, hostScriptJob(this.hostJobOptions(planned)), {
      ...this.hostJobRun(),
      wait,
      jobs: this.toolJobs,
    });
  }

  private async nodeEvent(node: string, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    return nodeEvent(this.client, node, type, reason, message);
  }

  private async maybeFinalize(): Promise<boolean> {
    const nodes = await this.client.list('v1', 'Node');
    const notDone = nodes.filter((n) => n.metadata?.labels?.[MIGRATION_LABEL] !== 'calico');
    if (notDone.length) {
      this.emit({
        type: 'info',
        message: `${notDone.length} node(s) still on flannel (${notDone
          .slice(0, 5)
          .map((n) => n.metadata!.name)
          .join(', ')}${notDone.length > 5 ? ', …' : ''}); finalize after migrating them`,
      });
      return false;
    }
    if (this.opts.finalize === 'no') {
      this.emit({
        type: 'info',
        message:
          'every node runs Calico; run `flannel2calico migrate --finalize` to remove flannel (until ' +
          'then its DaemonSet is kept, so nodes can still be moved back)',
      });
      return false;
    }
    if (
      this.opts.finalize === 'ask' &&
      !(await this.ctx.ask({
        kind: 'finalize',
        message:
          'Every node runs Calico. Finalize now: delete the flannel DaemonSet and the migration ' +
          'labels? (nodes can no longer be moved back to flannel afterwards)',
      }))
    ) {
      return false;
    }
    await finalizeMigration(
      this.client,
      this.opts.plan.flannelDaemonSet,
      calicoDaemonSetName(this.opts.plan.settings),
      (e) => this.emit(e),
      { timeoutMs: this.stepTimeoutMs, signal: this.signal },
    );
    return true;
  }
}

/** The operator answered no to a question asked deep inside a step; the run ends as 'declined'. */
class DeclinedError extends Error {
  constructor() {
    super('declined by the operator; nothing was changed by this step');
  }
}

function countKinds(objects: KubeObject[]): string {
  const counts = new Map<string, number>();
  for (const o of objects) counts.set(o.kind!, (counts.get(o.kind!) ?? 0) + 1);
  return [...counts.entries()].map(([k, n]) => `${n} ${k}`).join(', ');
}

/**
 * Removes flannel and every trace of the migration once all nodes run Calico: flannel's DaemonSet
 * first, waiting (up to `timeoutMs`, stopping at Ctrl-C) until it and its pods are gone.
 */
export async function finalizeMigration(
  client: ClusterPort,
  flannel: { name: string; namespace: string },
  calicoDaemonSet: string,
  emit: EventSink,
  wait: { timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  emit({
    type: 'phase',
    phase: 'finalize',
    message: `deleting flannel DaemonSet ${flannel.namespace}/${flannel.name}`,
  });
  await client.delete({ apiVersion: 'apps/v1', kind: 'DaemonSet', name: flannel.name, namespace: flannel.namespace });
  if (!client.serverDryRun) {
    emit({
      type: 'phase',
      phase: 'finalize',
      message:
        `waiting for DaemonSet ${flannel.namespace}/${flannel.name} and its pods to be gone (up ` +
        `to ${Math.round(wait.timeoutMs / 1000)} s)`,
    });
    await waitForDaemonSetGone(client, flannel, wait.timeoutMs, wait.signal, (message) =>
      emit({ type: 'info', message }),
    );
  }
  const calicoRef = { apiVersion: 'apps/v1', kind: 'DaemonSet', name: calicoDaemonSet, namespace: 'kube-system' };
  const calico = await client.find(calicoRef);
  if (calico?.spec?.template?.spec?.nodeSelector?.[MIGRATION_LABEL] !== undefined) {
    emit({
      type: 'info',
      message: `removing the migration nodeSelector from DaemonSet kube-system/${calicoDaemonSet}`,
    });
    await client.strategicPatch(calicoRef, {
      spec: { template: { spec: { nodeSelector: { [MIGRATION_LABEL]: null } } } },
    });
  }
  for (const node of await client.list('v1', 'Node')) {
    const labels = node.metadata?.labels ?? {};
    const annotations = node.metadata?.annotations ?? {};
    if (MIGRATION_LABEL in labels || NODE_STATE_ANNOTATION in annotations) {
      await client.mergePatch(nodeRef(node.metadata!.name!), {
        metadata: { labels: { [MIGRATION_LABEL]: null }, annotations: { [NODE_STATE_ANNOTATION]: null } },
      });
    }
  }
  emit({ type: 'info', message: 'deleting helper Jobs and pods' });
  await deleteHelperObjects(client);
  const record = await readMigrationRecord(client);
  if (record)
    await writeMigrationRecord(client, { ...record, phase: 'finalized', updatedAt: new Date().toISOString() });
}
