import { type ClusterClient, type KubeObject } from '../cluster/index.js';
import type { Plan, PlannedNode } from '../plan/types.js';
import { DEFAULT_HELPER_IMAGE, hostPodOutcome, hostScriptJob, loadHostScript, staleHostJobReason, type HostScriptJobOptions } from '../host/pods.js';
import type { AuditLog } from './audit.js';
import {
  applyManifest,
  calicoDaemonSetProblems,
  ensureFelixConfiguration,
  ensureNodeIpam,
  ensurePools,
  isCalicoCrdInstalled,
  prepareCalicoManifest,
} from './calico-setup.js';
import { MIGRATION_LABEL, NODE_STATE_ANNOTATION, STATE_NAMESPACE, type NetworkLabel } from './constants.js';
import { NODE_STEPS, STEP_TITLES, type EngineEvent, type EventSink, type NodeStep } from './events.js';
import { MigrationLock } from './lock.js';
import { readMigrationRecord, readNodeState, stateFor, writeMigrationRecord, writeNodeState, type MigrationRecord, type NodeMigrationState } from './state.js';
import { selectorString, waitForJob, waitForNoPodOnNode, waitForPodReadyOnNode, WaitTimeoutError, type JobOutcome } from './waits.js';
import { captureClusterBefore, wasUnschedulableBefore } from './cluster-before.js';
import { cordonAndDrain, deleteHelperObjects, nodeEvent, probeNode, restartPodNetworkPods, setNetworkLabel, setUnschedulable } from './node-ops.js';

export type Answer = 'yes' | 'no' | 'all';

export interface Confirmation {
  kind: 'install-calico' | 'first-node' | 'batch' | 'finalize' | 'revert';
  message: string;
  /** Offer "yes to all remaining". */
  allowAll?: boolean;
}

export interface EngineOptions {
  plan: Plan;
  /** Every node of the cluster as planned (the plan itself may cover only some): all get their Calico identity and the migration label first. */
  allNodes?: PlannedNode[];
  /** Upstream flannel-migration manifest, used when Calico is not installed yet. */
  calicoManifest?: KubeObject[];
  confirm: (c: Confirmation) => Promise<Answer>;
  onEvent: EventSink;
  audit: AuditLog;
  helperImage: string;
  probeImage: string;
  drainTimeoutMs: number;
  drainRetryDelayMs?: number;
  /** Bound on every other wait (calico-node Ready, host and probe Jobs). */
  stepTimeoutMs?: number;
  finalize: 'yes' | 'no' | 'ask';
  /** Skip the connectivity proof (e.g. where helper images cannot be pulled). */
  skipProbe?: boolean;
  signal?: AbortSignal;
}

export type RunOutcome =
  | { status: 'completed'; migrated: string[]; finalized: boolean }
  | { status: 'declined'; migrated: string[] }
  | { status: 'failed'; migrated: string[]; node?: string; step?: NodeStep; error: Error };

export class NodeStepError extends Error {
  constructor(readonly node: string, readonly step: NodeStep, readonly cause: Error) {
    super(`${node}: ${STEP_TITLES[step]} failed: ${cause.message}`);
  }
}

const nodeRef = (name: string) => ({ apiVersion: 'v1', kind: 'Node', name });

/** Waiting reasons of a container whose image will not come: the kubelet has given up for now, or the name is invalid. */
const IMAGE_PULL_FAILURES = new Set(['ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);

/**
 * Executes a Plan. Every step checks the cluster before acting, records its progress in the
 * cluster, and can be rerun: a crashed or interrupted run resumes where it stopped.
 */
export class MigrationEngine {
  private readonly lock: MigrationLock;
  private readonly stepTimeoutMs: number;
  private confirmAll = false;

  constructor(private readonly client: ClusterClient, private readonly opts: EngineOptions) {
    this.lock = new MigrationLock(client);
    this.stepTimeoutMs = opts.stepTimeoutMs ?? 5 * 60_000;
  }

  private emit(event: EngineEvent): void {
    this.opts.audit.write({ ...event, type: 'event', event: event.type });
    this.opts.onEvent(event);
  }

  private async ask(c: Confirmation): Promise<boolean> {
    if (this.confirmAll && c.allowAll) return true;
    const answer = await this.opts.confirm(c);
    if (answer === 'all') this.confirmAll = true;
    return answer !== 'no';
  }

  async run(): Promise<RunOutcome> {
    const { tookOverFrom } = await this.lock.acquire();
    if (tookOverFrom) this.emit({ type: 'warning', message: `took over the migration lock from ${tookOverFrom}, which stopped renewing it` });
    const migrated: string[] = [];
    try {
      if (!(await this.prepare())) return { status: 'declined', migrated };
      const plan = this.opts.plan;
      let first = true;
      for (const [index, batch] of plan.batches.entries()) {
        const nodes = batch.map((name) => plan.nodes.find((n) => n.name === name)!).filter(Boolean);
        const pending: PlannedNode[] = [];
        for (const n of nodes) if (!(await this.isNodeDone(n.name))) pending.push(n);
        migrated.push(...nodes.filter((n) => !pending.includes(n)).map((n) => n.name));
        if (!pending.length) continue;
        const names = pending.map((n) => n.name).join(', ');
        const question: Confirmation = first
          ? { kind: 'first-node', message: `Migrate the first batch (${names}) now? Its pods are evicted and its network switches to Calico.`, allowAll: true }
          : { kind: 'batch', message: `Migrate batch ${index + 1}/${plan.batches.length} (${names})?`, allowAll: true };
        if (first) await this.checkHelperImage(pending[0]);
        first = false;
        if (!(await this.ask(question))) return { status: 'declined', migrated };
        this.emit({ type: 'batch-start', index: index + 1, total: plan.batches.length, nodes: pending.map((n) => n.name) });
        const results = await Promise.allSettled(pending.map((n) => this.migrateNode(n)));
        const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
        pending.forEach((n, i) => { if (results[i].status === 'fulfilled') migrated.push(n.name); });
        if (failures.length) {
          const failure = failures[0];
          const stepError = failure instanceof NodeStepError ? failure : undefined;
          return { status: 'failed', migrated, node: stepError?.node, step: stepError?.step, error: stepError?.cause ?? failure };
        }
      }
      const finalized = await this.maybeFinalize();
      return { status: 'completed', migrated, finalized };
    } catch (err) {
      return { status: 'failed', migrated, error: err as Error };
    } finally {
      await this.lock.release().catch(() => undefined);
    }
  }

  private async isNodeDone(name: string): Promise<boolean> {
    const node = await this.client.find(nodeRef(name));
    if (!node) return true;
    return node.metadata?.labels?.[MIGRATION_LABEL] === 'calico' && (readNodeState(node)?.completed.includes('done') ?? false);
  }

  /** Everything that happens once, before the first node: Calico installed, datastore written, nodes labelled. */
  private async prepare(): Promise<boolean> {
    const { plan } = this.opts;
    const record = (await readMigrationRecord(this.client)) ?? (await this.recordClusterBefore());
    await this.ensureCalicoInstalled();
    // A server dry run cannot create CRDs, so objects of kinds that do not exist yet cannot be validated.
    const calicoKinds = !this.client.serverDryRun || (await isCalicoCrdInstalled(this.client));
    if (!calicoKinds) this.emit({ type: 'warning', message: 'server dry run: Calico\'s CRDs are not installed yet, so the IP pools, Felix settings and IPAM objects cannot be validated by the API server; skipping them' });
    this.emit({ type: 'phase', phase: 'datastore', message: 'writing Calico IP pools, Felix VXLAN settings and per-node IPAM' });
    if (calicoKinds) {
      await ensurePools(this.client, plan, this.opts.onEvent);
      await ensureFelixConfiguration(this.client, plan.calico.felixConfigurationPatch);
    }
    const now = new Date().toISOString();
    await writeMigrationRecord(this.client, {
      phase: 'migrating',
      planHash: plan.cluster.stateHash,
      flavour: plan.flavour,
      flannelDaemonSet: plan.flannelDaemonSet,
      calicoDaemonSet: String(plan.settings.calicoDaemonSetName?.value ?? 'calico-node'),
      settings: plan.settings,
      nodeOrder: plan.nodes.map((n) => n.name),
      startedAt: record?.startedAt ?? now,
      updatedAt: now,
      before: record?.before,
    });
    const everyNode = new Map([...(this.opts.allNodes ?? []), ...plan.nodes].map((n) => [n.name, n]));
    for (const node of everyNode.values()) {
      const current = await this.client.find(nodeRef(node.name));
      if (!current) {
        this.emit({ type: 'warning', node: node.name, message: `node ${node.name} no longer exists; skipping it` });
        continue;
      }
      if (calicoKinds) await ensureNodeIpam(this.client, [...node.ipam.blocks, ...node.ipam.affinities, ...node.ipam.handles]);
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
    }
    for (const node of await this.client.list('v1', 'Node')) {
      if (!node.metadata?.labels?.[MIGRATION_LABEL]) {
        await this.client.mergePatch(nodeRef(node.metadata!.name!), { metadata: { labels: { [MIGRATION_LABEL]: 'flannel' } } });
      }
    }
    await this.restrictFlannelToUnmigratedNodes();
    return true;
  }

  /** The first run writes down what it found, before changing anything, so `revert --all` can restore it. */
  private async recordClusterBefore(): Promise<MigrationRecord> {
    const { plan } = this.opts;
    const now = new Date().toISOString();
    const record: MigrationRecord = {
      phase: 'prepared',
      planHash: plan.cluster.stateHash,
      flavour: plan.flavour,
      flannelDaemonSet: plan.flannelDaemonSet,
      calicoDaemonSet: String(plan.settings.calicoDaemonSetName?.value ?? 'calico-node'),
      settings: plan.settings,
      nodeOrder: plan.nodes.map((n) => n.name),
      startedAt: now,
      updatedAt: now,
      before: await captureClusterBefore(this.client, this.opts.calicoManifest ?? []),
    };
    await writeMigrationRecord(this.client, record);
    return record;
  }

  private async ensureCalicoInstalled(): Promise<void> {
    const { plan } = this.opts;
    const name = String(plan.settings.calicoDaemonSetName?.value ?? 'calico-node');
    const existing = await this.client.find({ apiVersion: 'apps/v1', kind: 'DaemonSet', name, namespace: 'kube-system' });
    if (existing) {
      const problems = calicoDaemonSetProblems(existing);
      if (problems.length) throw new Error(`${problems.join('; ')}. Patch it: kubectl -n kube-system patch ds ${name} -p '{"spec":{"template":{"spec":{"nodeSelector":{"${MIGRATION_LABEL}":"calico"}}}}}'`);
      this.emit({ type: 'info', message: `Calico is installed (DaemonSet kube-system/${name}) in migration mode` });
      return;
    }
    if (!this.opts.calicoManifest) {
      throw new Error(`Calico is not installed (no DaemonSet kube-system/${name}); pass --calico-manifest with Calico's flannel-migration calico.yaml`);
    }
    const mtu = Number(plan.settings.flannelMtu?.value ?? 1450);
    const prepared = prepareCalicoManifest(this.opts.calicoManifest, name, mtu);
    const summary = `Install Calico in migration mode: ${prepared.objects.length} objects (${countKinds(prepared.objects)})` +
      (prepared.changes.length ? `, adjusted:\n  - ${prepared.changes.join('\n  - ')}` : '');
    if (!(await this.ask({ kind: 'install-calico', message: `${summary}\nApply it now?` }))) throw new DeclinedError();
    this.emit({ type: 'phase', phase: 'install-calico', message: `applying ${prepared.objects.length} objects of the Calico manifest (server-side apply)` });
    await applyManifest(this.client, prepared.objects, this.opts.onEvent);
  }

  private async restrictFlannelToUnmigratedNodes(): Promise<void> {
    const { name, namespace } = this.opts.plan.flannelDaemonSet;
    const ds = await this.client.find({ apiVersion: 'apps/v1', kind: 'DaemonSet', name, namespace });
    if (!ds) return;
    if (ds.spec?.template?.spec?.nodeSelector?.[MIGRATION_LABEL] === 'flannel') return;
    await this.client.strategicPatch({ apiVersion: 'apps/v1', kind: 'DaemonSet', name, namespace }, {
      spec: { template: { spec: { nodeSelector: { [MIGRATION_LABEL]: 'flannel' } } } },
    });
  }

  private async migrateNode(planned: PlannedNode): Promise<void> {
    const started = Date.now();
    const node = await this.client.get(nodeRef(planned.name));
    const now = new Date().toISOString();
    const recorded = stateFor(node, 'migrate');
    let state: NodeMigrationState = recorded ?? {
      operation: 'migrate', step: 'cordon', completed: [], wasUnschedulable: wasUnschedulableBefore(node), startedAt: now, updatedAt: now,
    };
    if (!recorded) await writeNodeState(this.client, planned.name, state);
    for (const step of NODE_STEPS) {
      if (state.completed.includes(step)) continue;
      const stepStarted = Date.now();
      this.emit({ type: 'step-start', node: planned.name, step, message: STEP_TITLES[step] });
      state = { ...state, step, updatedAt: new Date().toISOString(), error: undefined };
      try {
        await this.runStep(step, planned, state);
      } catch (err) {
        const error = err as Error;
        await writeNodeState(this.client, planned.name, { ...state, error: error.message, updatedAt: new Date().toISOString() }).catch(() => undefined);
        await this.nodeEvent(planned.name, 'Warning', 'MigrationStepFailed', `${STEP_TITLES[step]} failed: ${error.message}`);
        this.emit({ type: 'node-failed', node: planned.name, step, message: error.message });
        throw new NodeStepError(planned.name, step, error);
      }
      state = { ...state, completed: [...state.completed, step], updatedAt: new Date().toISOString() };
      await writeNodeState(this.client, planned.name, state);
      await this.nodeEvent(planned.name, 'Normal', 'MigrationStep', `${STEP_TITLES[step]}: done`);
      this.emit({ type: 'step-done', node: planned.name, step, message: STEP_TITLES[step], elapsedMs: Date.now() - stepStarted });
    }
    this.emit({ type: 'node-done', node: planned.name, elapsedMs: Date.now() - started });
  }

  private async runStep(step: NodeStep, planned: PlannedNode, state: NodeMigrationState): Promise<void> {
    const name = planned.name;
    const wait = (message: string) => this.emit({ type: 'step-wait', node: name, step, message });
    switch (step) {
      case 'cordon':
        return this.setUnschedulable(name, true);
      case 'drain':
        return cordonAndDrain(this.client, name, {
          drain: this.opts.plan.drain,
          timeoutMs: this.opts.drainTimeoutMs,
          retryDelayMs: this.opts.drainRetryDelayMs ?? 5000,
          onWaiting: wait,
          onEvicted: (pod) => this.opts.audit.write({ type: 'evicted', node: name, pod }),
          signal: this.opts.signal,
        });
      case 'stop-flannel': {
        await this.setNetworkLabel(name, 'none');
        const flannel = await this.flannelPodSelector();
        if (flannel && !this.client.serverDryRun) {
          wait(`waiting for the ${flannel.namespace}/${this.opts.plan.flannelDaemonSet.name} pod to leave the node`);
          await waitForNoPodOnNode(this.client, name, flannel.namespace, flannel.selector, this.stepTimeoutMs, `the flannel pod to leave ${name}`);
        }
        return;
      }
      case 'host-cleanup':
        await this.runHostJob(planned, wait);
        return restartPodNetworkPods(this.client, name, 'flannel', wait);
      case 'start-calico': {
        await this.setNetworkLabel(name, 'calico');
        if (this.client.serverDryRun) return;
        const dsName = String(this.opts.plan.settings.calicoDaemonSetName?.value ?? 'calico-node');
        const ds = await this.client.get({ apiVersion: 'apps/v1', kind: 'DaemonSet', name: dsName, namespace: 'kube-system' });
        wait(`waiting for calico-node on ${name} to be Ready`);
        await waitForPodReadyOnNode(this.client, name, 'kube-system', selectorString(ds.spec?.selector?.matchLabels), this.stepTimeoutMs, `calico-node on ${name} to be Ready`);
        return;
      }
      case 'probe':
        if (this.opts.skipProbe || this.client.serverDryRun) return;
        return probeNode(this.client, name, { image: this.opts.probeImage, timeoutMs: this.stepTimeoutMs, peerNetwork: 'flannel', wait });
      case 'uncordon':
        if (!state.wasUnschedulable) await this.setUnschedulable(name, false);
        return;
      case 'done':
        return;
    }
  }

  private async setUnschedulable(node: string, value: boolean): Promise<void> {
    return setUnschedulable(this.client, node, value);
  }

  private async setNetworkLabel(node: string, value: NetworkLabel): Promise<void> {
    return setNetworkLabel(this.client, node, value);
  }

  private async flannelPodSelector(): Promise<{ namespace: string; selector: string } | undefined> {
    const { name, namespace } = this.opts.plan.flannelDaemonSet;
    const ds = await this.client.find({ apiVersion: 'apps/v1', kind: 'DaemonSet', name, namespace });
    const labels = ds?.spec?.selector?.matchLabels;
    return labels ? { namespace, selector: selectorString(labels) } : undefined;
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
    const { name, namespace } = job.metadata as { name: string; namespace: string };
    this.emit({ type: 'phase', phase: 'helper-image-check', message: `checking that helper image ${image} has the host cleanup's commands (Job ${namespace}/${name} on ${first.name}, changes nothing)` });
    await this.ensureHostJob(job);
    const outcome = await this.waitForCheckJob(namespace, name);
    if (outcome.succeeded) {
      this.emit({ type: 'info', message: `helper image ${image} can run the host cleanup` });
      return;
    }
    const pod = hostPodOutcome(await this.lastJobPod(job));
    const what = pod.missingCommands.length
      ? `it lacks the commands ${pod.missingCommands.join(', ')}`
      : pod.reason ? `its pod did not run the check (${pod.reason}${pod.lines.length ? `: ${pod.lines.join('; ')}` : ''})`
        : `the check failed (${outcome.reason}${pod.lines.length ? `: ${pod.lines.join('; ')}` : ''})`;
    const message = `helper image ${image} cannot run the host cleanup on ${first.name}: ${what}. No node was drained. ` +
      `Rerun with --helper-image set to an image that has sh (bash), ip, rm, nft and the iptables/ip6tables -nft and -legacy save/restore tools, ` +
      `e.g. ${DEFAULT_HELPER_IMAGE} (the calico/node image of the Calico manifest); see kubectl -n ${namespace} logs job/${name}`;
    this.emit({ type: 'warning', node: first.name, message });
    throw new Error(message);
  }

  /**
   * Waits for the check Job; a pod whose image cannot be pulled fails it at once instead of at
   * the Job's deadline (when the Job controller would delete the pod and its reason with it).
   */
  private async waitForCheckJob(namespace: string, name: string): Promise<JobOutcome> {
    const stop = new AbortController();
    const finished = waitForJob(this.client, namespace, name, this.stepTimeoutMs, stop.signal);
    const imageStuck = this.client.watchUntil<KubeObject>('v1', 'Pod', { namespace, labelSelector: `job-name=${name}`, timeoutMs: this.stepTimeoutMs, signal: stop.signal },
      (type, pod) => type !== 'DELETED' && IMAGE_PULL_FAILURES.has(pod.status?.containerStatuses?.[0]?.state?.waiting?.reason))
      .then((stuck) => (stuck ? { succeeded: false as const, reason: 'its image cannot be pulled' } : new Promise<JobOutcome>(() => undefined)));
    try {
      return await Promise.race([finished, imageStuck]);
    } finally {
      stop.abort();
      finished.catch(() => undefined);
      imageStuck.catch(() => undefined);
    }
  }

  /**
   * Creates a host Job, or reuses the one a previous run made; one that failed, or was made with
   * another image or script, is deleted first (and its pods with it), so a rerun never waits on
   * a stale Job.
   */
  private async ensureHostJob(job: KubeObject): Promise<void> {
    const ref = { apiVersion: 'batch/v1', kind: 'Job', name: job.metadata!.name!, namespace: job.metadata!.namespace };
    const existing = await this.client.find(ref);
    const stale = existing && staleHostJobReason(existing, job);
    if (existing && !stale) return;
    if (stale) {
      this.emit({ type: 'info', node: job.spec?.template?.spec?.nodeName, message: `replacing Job ${ref.namespace}/${ref.name}: ${stale}` });
      await this.client.delete(ref, { propagationPolicy: 'Background' });
      if (!this.client.serverDryRun) {
        const gone = await this.client.watchUntil('batch/v1', 'Job', {
          namespace: ref.namespace, fieldSelector: `metadata.name=${ref.name}`, timeoutMs: this.stepTimeoutMs, onList: (items) => items.length === 0,
        }, (type) => type === 'DELETED');
        if (!gone) throw new WaitTimeoutError(`Job ${ref.namespace}/${ref.name} to be deleted`, this.stepTimeoutMs);
      }
    }
    await this.client.ensure(job);
  }

  /** The newest pod of this Job (its own, not one of an earlier Job of the same name). */
  private async lastJobPod(job: KubeObject): Promise<KubeObject | undefined> {
    const current = await this.client.find({ apiVersion: 'batch/v1', kind: 'Job', name: job.metadata!.name!, namespace: job.metadata!.namespace });
    const uid = current?.metadata?.uid;
    const pods = await this.client.list('v1', 'Pod', { namespace: job.metadata!.namespace, labelSelector: `job-name=${job.metadata!.name}` });
    const own = pods.filter((p) => !uid || (p.metadata?.ownerReferences ?? []).some((o: { uid?: string }) => o.uid === uid));
    own.sort((a, b) => String(a.metadata?.creationTimestamp ?? '').localeCompare(String(b.metadata?.creationTimestamp ?? '')));
    return own.filter((p) => p.status?.containerStatuses?.[0]?.state?.terminated).pop() ?? own.pop();
  }

  private async runHostJob(planned: PlannedNode, wait: (m: string) => void): Promise<void> {
    const job = hostScriptJob(this.hostJobOptions(planned));
    const { name, namespace } = job.metadata as { name: string; namespace: string };
    await this.ensureHostJob(job);
    if (this.client.serverDryRun) return;
    wait(`waiting for host cleanup Job ${namespace}/${name}`);
    const outcome = await waitForJob(this.client, namespace, name, this.stepTimeoutMs);
    if (outcome.succeeded) return;
    const pod = hostPodOutcome(await this.lastJobPod(job));
    const said = pod.lines.length ? `: ${pod.lines.join('; ')}` : pod.reason ? ` (pod: ${pod.reason})` : '';
    const fix = pod.missingCommands.length
      ? ` The helper image ${this.opts.helperImage} lacks ${pod.missingCommands.join(', ')}: rerun with --helper-image set to an image that has them, e.g. ${DEFAULT_HELPER_IMAGE}.`
      : '';
    throw new Error(`host cleanup Job ${namespace}/${name} failed (${outcome.reason})${said}.${fix} The node stays cordoned; see kubectl -n ${namespace} logs job/${name}`);
  }

  private async nodeEvent(node: string, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    return nodeEvent(this.client, node, type, reason, message);
  }

  private async maybeFinalize(): Promise<boolean> {
    const nodes = await this.client.list('v1', 'Node');
    const notDone = nodes.filter((n) => n.metadata?.labels?.[MIGRATION_LABEL] !== 'calico');
    if (notDone.length) {
      this.emit({ type: 'info', message: `${notDone.length} node(s) still on flannel (${notDone.slice(0, 5).map((n) => n.metadata!.name).join(', ')}${notDone.length > 5 ? ', …' : ''}); finalize after migrating them` });
      return false;
    }
    if (this.opts.finalize === 'no') {
      this.emit({ type: 'info', message: 'every node runs Calico; run `flannel2calico migrate --finalize` to remove flannel (until then its DaemonSet is kept, so nodes can still be moved back)' });
      return false;
    }
    if (this.opts.finalize === 'ask' && !(await this.ask({ kind: 'finalize', message: 'Every node runs Calico. Finalize now: delete the flannel DaemonSet and the migration labels? (nodes can no longer be moved back to flannel afterwards)' }))) {
      return false;
    }
    await finalizeMigration(this.client, this.opts.plan.flannelDaemonSet, String(this.opts.plan.settings.calicoDaemonSetName?.value ?? 'calico-node'), (e) => this.emit(e));
    return true;
  }
}

export class DeclinedError extends Error {
  constructor() {
    super('declined by the operator; nothing was changed by this step');
  }
}

function countKinds(objects: KubeObject[]): string {
  const counts = new Map<string, number>();
  for (const o of objects) counts.set(o.kind!, (counts.get(o.kind!) ?? 0) + 1);
  return [...counts.entries()].map(([k, n]) => `${n} ${k}`).join(', ');
}

/** Removes flannel and every trace of the migration once all nodes run Calico. */
export async function finalizeMigration(client: ClusterClient, flannel: { name: string; namespace: string }, calicoDaemonSet: string, emit: EventSink): Promise<void> {
  emit({ type: 'phase', phase: 'finalize', message: `deleting flannel DaemonSet ${flannel.namespace}/${flannel.name}` });
  await client.delete({ apiVersion: 'apps/v1', kind: 'DaemonSet', name: flannel.name, namespace: flannel.namespace });
  const calicoRef = { apiVersion: 'apps/v1', kind: 'DaemonSet', name: calicoDaemonSet, namespace: 'kube-system' };
  const calico = await client.find(calicoRef);
  if (calico?.spec?.template?.spec?.nodeSelector?.[MIGRATION_LABEL] !== undefined) {
    emit({ type: 'info', message: `removing the migration nodeSelector from DaemonSet kube-system/${calicoDaemonSet}` });
    await client.strategicPatch(calicoRef, { spec: { template: { spec: { nodeSelector: { [MIGRATION_LABEL]: null } } } } });
  }
  for (const node of await client.list('v1', 'Node')) {
    const labels = node.metadata?.labels ?? {};
    const annotations = node.metadata?.annotations ?? {};
    if (MIGRATION_LABEL in labels || NODE_STATE_ANNOTATION in annotations) {
      await client.mergePatch(nodeRef(node.metadata!.name!), { metadata: { labels: { [MIGRATION_LABEL]: null }, annotations: { [NODE_STATE_ANNOTATION]: null } } });
    }
  }
  emit({ type: 'info', message: 'deleting helper Jobs and pods' });
  await deleteHelperObjects(client);
  const record = await readMigrationRecord(client);
  if (record) await writeMigrationRecord(client, { ...record, phase: 'finalized', updatedAt: new Date().toISOString() });
}
