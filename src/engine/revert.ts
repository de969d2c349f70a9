import type { KubeObject } from '../cluster/index.js';
import type { ClusterPort } from './cluster-port.js';
import { NODE_ANNOTATIONS } from '../calico/objects.js';
import { hostScriptJob, loadHostScript, type HostScriptJobOptions } from '../host/pods.js';
import type { Plan } from '../plan/types.js';
import { wasUnschedulableBefore } from './cluster-before.js';
import {
  CALICO_GROUP_VERSION as CALICO_GV,
  EVENT_NAMESPACE,
  MANAGED_BY_SELECTOR,
  MIGRATION_LABEL,
  NODE_STATE_ANNOTATION,
  STATE_NAMESPACE,
} from '../names.js';
import type { Confirmation, RunContext } from './run-context.js';
import { REVERT_STEPS, STEP_TITLES, type EngineEvent, type NodeStep } from './events.js';
import { MigrationLock } from './lock.js';
import { NODE_SUMMARY_REASONS, nodeSummaryMessage, type StepDuration } from './node-summary.js';
import {
  cordonAndDrain,
  deleteHelperObjects,
  nodeEvent,
  nodeRef,
  probeNode,
  restartPodNetworkPods,
  setNetworkLabel,
  setUnschedulable,
} from './node-ops.js';
import {
  deleteMigrationRecord,
  readMigrationRecord,
  readNodeState,
  stateFor,
  writeMigrationRecord,
  writeNodeState,
  type MigrationRecord,
  type NodeMigrationState,
} from './state.js';
import { checkHelperImage, runHostScriptJob, type HostJobRun } from './host-jobs.js';
import { labelSelector } from '../k8s.js';
import { InterruptedError, waitForNoPodOnNode, waitForPodReadyOnNode } from './waits.js';

export interface RevertOptions {
  /** Node names, or every node the migration touched (then the cluster is restored as before). */
  target: { nodes: string[] } | { all: true };
  helperImage: string;
  probeImage: string;
  /** kubectl drain's flags, as migrate takes them. */
  drain: Plan['drain'];
  drainRetryDelayMs?: number;
  stepTimeoutMs?: number;
  maxParallel: number;
  skipProbe?: boolean;
}

export type RevertOutcome =
  | { status: 'completed'; reverted: string[]; restored: boolean; kept: string[] }
  | { status: 'nothing'; message: string }
  | { status: 'declined'; reverted: string[] }
  | { status: 'failed'; reverted: string[]; node?: string; step?: NodeStep; error: Error };

/** The revert cannot start: the operator must do something else first. */
export class RevertRefusedError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

export class RevertStepError extends Error {
  constructor(
    readonly node: string,
    readonly step: NodeStep,
    readonly cause: Error,
  ) {
    super(`${node}: ${STEP_TITLES[step]} failed: ${cause.message}`);
  }
}

const IPAM_KINDS = ['IPAMBlock', 'BlockAffinity', 'IPAMHandle'] as const;
const TUNNEL_HANDLE = /^(vxlan-tunnel-addr|vxlan-v6-tunnel-addr|ipip-tunnel-addr|wireguard-tunnel-addr)-/;

/** Which steps are left for a node whose network never left flannel (a migration stopped before `stop-flannel`). */
function untouchedNetworkSteps(node: KubeObject): NodeStep[] {
  const label = node.metadata?.labels?.[MIGRATION_LABEL];
  const migrate = stateFor(node, 'migrate');
  if (label && label !== 'flannel') return [];
  if (migrate?.completed.includes('stop-flannel')) return [];
  return REVERT_STEPS.filter((s) => s !== 'uncordon' && s !== 'done');
}

/** Whether a node has anything of the migration to undo. */
export function needsRevert(node: KubeObject): boolean {
  const label = node.metadata?.labels?.[MIGRATION_LABEL];
  const state = readNodeState(node);
  if (label && label !== 'flannel') return true;
  if (!state) return false;
  return !(state.operation === 'revert' && state.completed.includes('done'));
}

/**
 * Moves nodes back to flannel, with the same building blocks and guarantees as migrate: every step
 * checks before it acts and is recorded on the node (operation "revert"), so a rerun resumes.
 * With `all`, the cluster is then put back as the first run found it.
 */
export class RevertEngine {
  private readonly lock: MigrationLock;
  private readonly stepTimeoutMs: number;
  private record?: MigrationRecord;

  constructor(
    private readonly client: ClusterPort,
    private readonly ctx: RunContext,
    private readonly opts: RevertOptions,
  ) {
    this.lock = new MigrationLock(client);
    this.stepTimeoutMs = opts.stepTimeoutMs ?? 5 * 60_000;
  }

  private emit(event: EngineEvent): void {
    this.ctx.emit(event);
  }

  private get all(): boolean {
    return 'all' in this.opts.target;
  }

  /** Refuses (before any change) what cannot be reverted, and returns the nodes to revert. */
  private async check(): Promise<{ nodes: KubeObject[]; record?: MigrationRecord } | { nothing: string }> {
    const record = await readMigrationRecord(this.client);
    if (record?.phase === 'finalized') {
      throw new RevertRefusedError(
        "the migration was finalized: flannel's DaemonSet is gone, so nodes cannot be moved back to flannel",
        'Reinstall flannel (or Canal) with its original manifest first; this tool only moves ' +
          'nodes between a live flannel and Calico.',
      );
    }
    const nodes = await this.client.list('v1', 'Node');
    if ('nodes' in this.opts.target) {
      const missing = this.opts.target.nodes.filter((n) => !nodes.some((x) => x.metadata?.name === n));
      if (missing.length)
        throw new RevertRefusedError(
          `no such node: ${missing.join(', ')}`,
          'List the nodes with `flannel2calico status`.',
        );
    }
    const touched = nodes.filter((n) => MIGRATION_LABEL in (n.metadata?.labels ?? {}) || readNodeState(n));
    if (!record && !touched.length)
      return { nothing: 'Nothing to revert: no migration is recorded in this cluster and no node carries its label.' };
    if (record) {
      const { name, namespace } = record.flannelDaemonSet;
      if (!(await this.client.find({ apiVersion: 'apps/v1', kind: 'DaemonSet', name, namespace }))) {
        throw new RevertRefusedError(
          `flannel's DaemonSet ${namespace}/${name} is gone, so nodes cannot be moved back to flannel`,
          'Reinstall flannel (or Canal) with its original manifest first.',
        );
      }
    } else {
      throw new RevertRefusedError(
        `the migration record ConfigMap ${STATE_NAMESPACE}/flannel2calico-state is missing, but ${touched.length} ` +
          `node(s) carry the migration label`,
        'Run `flannel2calico migrate --dry-run=client` to see the state, or rerun `flannel2calico ' +
          'migrate` once to write the record.',
      );
    }
    const wanted =
      'nodes' in this.opts.target
        ? nodes.filter((n) => (this.opts.target as { nodes: string[] }).nodes.includes(n.metadata!.name!))
        : nodes;
    const order = new Map(record.nodeOrder.map((n, i) => [n, i]));
    const pending = wanted
      .filter(needsRevert)
      .sort(
        (a, b) =>
          (order.get(b.metadata!.name!) ?? -1) - (order.get(a.metadata!.name!) ?? -1) ||
          a.metadata!.name!.localeCompare(b.metadata!.name!),
      );
    return { nodes: pending, record };
  }

  /** What a run would revert, without changing anything (refusals included). */
  async preview(): Promise<{ nodes: string[] } | { nothing: string }> {
    const checked = await this.check();
    if ('nothing' in checked) return checked;
    if (!checked.nodes.length && !this.all) return { nothing: this.alreadyOnFlannel() };
    return { nodes: checked.nodes.map((n) => n.metadata!.name!) };
  }

  private alreadyOnFlannel(): string {
    return (
      `Nothing to revert: ${('nodes' in this.opts.target ? this.opts.target.nodes : []).join(', ')} ` +
      `already run(s) flannel.`
    );
  }

  async run(): Promise<RevertOutcome> {
    const checked = await this.check();
    if ('nothing' in checked) return { status: 'nothing', message: checked.nothing };
    this.record = checked.record;
    if (!checked.nodes.length && !this.all) {
      return { status: 'nothing', message: this.alreadyOnFlannel() };
    }
    const { tookOverFrom } = await this.lock.acquire();
    if (tookOverFrom)
      this.emit({
        type: 'warning',
        message: `took over the migration lock from ${tookOverFrom}, which stopped renewing it`,
      });
    const reverted: string[] = [];
    try {
      if (this.all) {
        const question =
          `Revert the whole migration: move ${checked.nodes.length} node(s) back to flannel, then ` +
          `remove Calico and every trace of the migration?`;
        if (!(await this.ctx.ask({ kind: 'revert', message: question }))) return { status: 'declined', reverted };
        if (this.record!.phase !== 'reverting')
          await writeMigrationRecord(this.client, {
            ...this.record!,
            phase: 'reverting',
            updatedAt: new Date().toISOString(),
          });
      }
      const nodes = checked.nodes.map((n) => n.metadata!.name!);
      const batches: string[][] = [];
      for (let i = 0; i < nodes.length; i += this.opts.maxParallel)
        batches.push(nodes.slice(i, i + this.opts.maxParallel));
      for (const [index, batch] of batches.entries()) {
        if (this.ctx.signal?.aborted) throw new InterruptedError('starting the next batch');
        if (index === 0) await this.checkHelperImage(batch[0]);
        const question: Confirmation =
          index === 0 && !this.all
            ? {
                kind: 'revert',
                message:
                  `Move ${batch.join(', ')} back to flannel now? Its pods are evicted and its network ` +
                  `switches to flannel.`,
                allowAll: true,
              }
            : {
                kind: 'revert',
                message: `Revert batch ${index + 1}/${batches.length} (${batch.join(', ')})?`,
                allowAll: true,
              };
        if (!(this.all && index === 0) && !(await this.ctx.ask(question))) return { status: 'declined', reverted };
        this.emit({ type: 'batch-start', index: index + 1, total: batches.length, nodes: batch });
        const results = await Promise.allSettled(batch.map((n) => this.revertNode(n)));
        batch.forEach((n, i) => {
          if (results[i].status === 'fulfilled') reverted.push(n);
        });
        const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason as
          | Error
          | undefined;
        if (failure) {
          const stepError = failure instanceof RevertStepError ? failure : undefined;
          return {
            status: 'failed',
            reverted,
            node: stepError?.node,
            step: stepError?.step,
            error: stepError?.cause ?? failure,
          };
        }
      }
      let kept: string[] = [];
      if (this.all) kept = await this.restoreCluster();
      return { status: 'completed', reverted, restored: this.all, kept };
    } catch (err) {
      return { status: 'failed', reverted, error: err as Error };
    } finally {
      await this.lock.release().catch(() => undefined);
    }
  }

  private async revertNode(name: string): Promise<void> {
    const started = Date.now();
    const node = await this.client.get(nodeRef(name));
    const now = new Date().toISOString();
    const recorded = stateFor(node, 'revert');
    let state: NodeMigrationState =
      recorded && !recorded.completed.includes('done')
        ? recorded
        : {
            operation: 'revert',
            step: 'cordon',
            completed: untouchedNetworkSteps(node),
            wasUnschedulable: wasUnschedulableBefore(node),
            startedAt: now,
            updatedAt: now,
          };
    if (state !== recorded) await writeNodeState(this.client, name, state);
    const ran: StepDuration[] = [];
    for (const step of REVERT_STEPS) {
      if (state.completed.includes(step)) continue;
      if (this.ctx.signal?.aborted) throw new InterruptedError(`starting ${STEP_TITLES[step]} on ${name}`);
      const stepStarted = Date.now();
      // Recorded before it is announced, so `status` shows the step a stopped run was in.
      state = { ...state, step, updatedAt: new Date().toISOString(), error: undefined };
      await writeNodeState(this.client, name, state);
      this.emit({ type: 'step-start', node: name, step, message: STEP_TITLES[step] });
      try {
        await this.runStep(step, name, state);
      } catch (err) {
        const error = err as Error;
        await writeNodeState(this.client, name, {
          ...state,
          error: error.message,
          updatedAt: new Date().toISOString(),
        }).catch(() => undefined);
        await nodeEvent(
          this.client,
          name,
          'Warning',
          'RevertStepFailed',
          `${STEP_TITLES[step]} failed: ${error.message}`,
        );
        this.emit({ type: 'node-failed', node: name, step, message: error.message });
        throw new RevertStepError(name, step, error);
      }
      state = { ...state, completed: [...state.completed, step], updatedAt: new Date().toISOString() };
      await writeNodeState(this.client, name, state);
      const elapsedMs = Date.now() - stepStarted;
      ran.push({ step, ms: elapsedMs });
      this.emit({ type: 'step-done', node: name, step, message: STEP_TITLES[step], elapsedMs });
    }
    // History, not state: one Event for the whole node, written once its last step is recorded.
    if (ran.length)
      await nodeEvent(
        this.client,
        name,
        'Normal',
        NODE_SUMMARY_REASONS.revert,
        nodeSummaryMessage('revert', Date.now() - started, ran),
      );
    this.emit({ type: 'node-done', node: name, elapsedMs: Date.now() - started, network: 'flannel' });
  }

  private async hostJobOptions(node: string): Promise<HostScriptJobOptions> {
    const record = this.record!;
    const pools = (await this.client.listIfServed(CALICO_GV, 'IPPool')) ?? [];
    return {
      script: 'revert',
      scriptText: loadHostScript('revert'),
      node,
      namespace: STATE_NAMESPACE,
      vni: Number(record.settings.flannelVni && (record.settings.flannelVni as { value?: unknown }).value) || 1,
      cniConfigDir: String(
        (record.settings.cniConfigDir as { value?: unknown } | undefined)?.value ?? '/etc/cni/net.d',
      ),
      flavour: record.flavour === 'canal' ? 'canal' : 'flannel',
      image: this.opts.helperImage,
      runId: 'revert',
      podNetworks: pools.map((p) => p.spec?.cidr).filter(Boolean),
    };
  }

  private hostJobRun(): HostJobRun {
    return {
      what: 'host revert',
      image: this.opts.helperImage,
      timeoutMs: this.stepTimeoutMs,
      signal: this.ctx.signal,
      onReplace: (message) => this.emit({ type: 'info', message }),
    };
  }

  /** The revert script's command check in the helper image, on the first node, before anything is drained. */
  private async checkHelperImage(first: string): Promise<void> {
    if (this.client.serverDryRun) return;
    const job = hostScriptJob({ ...(await this.hostJobOptions(first)), mode: 'check' });
    this.emit({
      type: 'phase',
      phase: 'helper-image-check',
      message:
        `checking that helper image ${this.opts.helperImage} has the host revert's commands (Job ` +
        `${job.metadata!.namespace}/${job.metadata!.name} on ${first}, changes nothing)`,
    });
    await checkHelperImage(this.client, job, first, this.hostJobRun());
    this.emit({ type: 'info', message: `helper image ${this.opts.helperImage} can run the host revert` });
  }

  private async daemonSetSelector(name: string, namespace: string): Promise<string | undefined> {
    const ds = await this.client.find({ apiVersion: 'apps/v1', kind: 'DaemonSet', name, namespace });
    return labelSelector(ds?.spec?.selector?.matchLabels) || undefined;
  }

  private async runStep(step: NodeStep, name: string, state: NodeMigrationState): Promise<void> {
    const record = this.record!;
    const wait = (message: string) => this.emit({ type: 'step-wait', node: name, step, message });
    const dryRun = this.client.serverDryRun;
    switch (step) {
      case 'cordon':
        return setUnschedulable(this.client, name, true);
      case 'drain':
        return cordonAndDrain(this.client, name, {
          drain: this.opts.drain,
          timeoutMs: this.opts.drain.timeoutSeconds * 1000,
          retryDelayMs: this.opts.drainRetryDelayMs ?? 5000,
          onWaiting: wait,
          onEvicted: (pod) => this.ctx.audit.write({ type: 'evicted', node: name, pod }),
          signal: this.ctx.signal,
        });
      case 'stop-calico': {
        await setNetworkLabel(this.client, name, 'none');
        const selector = await this.daemonSetSelector(record.calicoDaemonSet, 'kube-system');
        if (selector && !dryRun) {
          wait(`waiting for the calico-node pod to leave ${name}`);
          await waitForNoPodOnNode(
            this.client,
            name,
            'kube-system',
            selector,
            this.stepTimeoutMs,
            `calico-node to leave ${name}`,
            this.ctx.signal,
          );
        }
        return;
      }
      case 'host-revert': {
        await runHostScriptJob(this.client, hostScriptJob(await this.hostJobOptions(name)), {
          ...this.hostJobRun(),
          wait,
        });
        if (dryRun) return;
        return restartPodNetworkPods(this.client, name, 'Calico', wait);
      }
      case 'start-flannel': {
        await setNetworkLabel(this.client, name, 'flannel');
        const { name: dsName, namespace } = record.flannelDaemonSet;
        const selector = await this.daemonSetSelector(dsName, namespace);
        if (selector && !dryRun) {
          wait(`waiting for the ${namespace}/${dsName} pod on ${name} to be Ready`);
          await waitForPodReadyOnNode(
            this.client,
            name,
            namespace,
            selector,
            this.stepTimeoutMs,
            `the flannel pod on ${name} to be Ready`,
            this.ctx.signal,
          );
        }
        return;
      }
      case 'release-ipam': {
        const nodes = await this.client.list('v1', 'Node');
        const onCalico = nodes.filter(
          (n) => n.metadata?.name !== name && ['calico', 'none'].includes(n.metadata?.labels?.[MIGRATION_LABEL] ?? ''),
        );
        if (onCalico.length) {
          wait(
            `kept: ${onCalico.length} node(s) still run Calico and reach ${name}'s pods through its ` +
              `IPAM block and tunnel address`,
          );
          return;
        }
        const held = await releaseNodeIpam(this.client, name, (m) =>
          this.emit({ type: 'info', node: name, message: m }),
        );
        if (held.length) wait(`kept ${held.length} IPAM object(s) still holding pod addresses: ${held.join(', ')}`);
        return;
      }
      case 'probe':
        if (this.opts.skipProbe || dryRun) return;
        return probeNode(this.client, name, {
          image: this.opts.probeImage,
          timeoutMs: this.stepTimeoutMs,
          peerNetwork: 'calico',
          wait,
        });
      case 'uncordon':
        if (!state.wasUnschedulable) await setUnschedulable(this.client, name, false);
        return;
      default:
        return;
    }
  }

  /**
   * After every node is back on flannel: flannel's DaemonSet without the migration nodeSelector,
   * Calico's install and the tool's Calico objects removed (pools and FelixConfiguration as
   * before), nodes without the migration's labels and annotations, helper Jobs, Events and the
   * record deleted. Returns what had to be kept (IPAM still holding pod addresses).
   */
  private async restoreCluster(): Promise<string[]> {
    const record = this.record!;
    const before = record.before;
    const emit = (message: string) => this.emit({ type: 'phase', phase: 'restore', message });
    const { name: flannelName, namespace: flannelNamespace } = record.flannelDaemonSet;
    const flannelRef = { apiVersion: 'apps/v1', kind: 'DaemonSet', name: flannelName, namespace: flannelNamespace };
    const flannel = await this.client.get(flannelRef);
    if (flannel.spec?.template?.spec?.nodeSelector?.[MIGRATION_LABEL] !== undefined) {
      emit(`removing the migration nodeSelector from DaemonSet ${flannelNamespace}/${flannelName}`);
      await this.client.strategicPatch(flannelRef, {
        spec: { template: { spec: { nodeSelector: { [MIGRATION_LABEL]: null } } } },
      });
    }
    if (!before)
      this.emit({
        type: 'warning',
        message:
          'the migration record has no snapshot of the cluster before the migration (written by an ' +
          "older version): Calico's install is left in place",
      });
    const created = before?.createdByInstall ?? [];
    const createdCrds = created.filter((r) => r.kind === 'CustomResourceDefinition');
    const createdRest = created.filter((r) => r.kind !== 'CustomResourceDefinition');
    if (createdRest.length) {
      emit(
        `deleting the ${createdRest.length} objects of Calico's install (DaemonSet ${record.calicoDaemonSet} first)`,
      );
      createdRest.sort((a, b) => Number(b.kind === 'DaemonSet') - Number(a.kind === 'DaemonSet'));
      for (const ref of createdRest) await this.client.delete(ref);
    }

    const kept: string[] = [];
    if ((await this.client.listIfServed(CALICO_GV, 'IPPool')) !== undefined) {
      emit('releasing the IPAM blocks, affinities and handles written for every node');
      const nodes = await this.client.list('v1', 'Node');
      for (const n of nodes)
        kept.push(
          ...(await releaseNodeIpam(this.client, n.metadata!.name!, (m) => this.emit({ type: 'info', message: m }))),
        );
      emit('restoring IP pools and FelixConfiguration as they were');
      const pools = await this.client.list(CALICO_GV, 'IPPool');
      const beforePools = new Map((before?.pools ?? []).map((p) => [p.name, p.spec]));
      for (const pool of pools) {
        const was = beforePools.get(pool.metadata!.name!);
        if (!was || JSON.stringify(was) !== JSON.stringify(pool.spec))
          await this.client.delete({ apiVersion: CALICO_GV, kind: 'IPPool', name: pool.metadata!.name! });
      }
      for (const [name, spec] of beforePools) {
        const current = await this.client.find({ apiVersion: CALICO_GV, kind: 'IPPool', name });
        if (!current) await this.client.create({ apiVersion: CALICO_GV, kind: 'IPPool', metadata: { name }, spec });
      }
      const felixRef = { apiVersion: CALICO_GV, kind: 'FelixConfiguration', name: 'default' };
      const felix = await this.client.find(felixRef);
      if (felix && !before?.felixConfiguration) await this.client.delete(felixRef);
      else if (
        felix &&
        before?.felixConfiguration &&
        JSON.stringify(felix.spec) !== JSON.stringify(before.felixConfiguration)
      ) {
        await this.client.jsonPatch(felixRef, [{ op: 'replace', path: '/spec', value: before.felixConfiguration }]);
      }
    }
    if (createdCrds.length) {
      if (kept.length)
        this.emit({
          type: 'warning',
          message:
            `Calico's CustomResourceDefinitions are kept: ${kept.length} IPAM object(s) still hold ` + `pod addresses`,
        });
      else {
        emit(`deleting Calico's ${createdCrds.length} CustomResourceDefinitions created by the install`);
        for (const ref of createdCrds) await this.client.delete(ref);
      }
    }

    emit('removing the migration label and Calico annotations from every node');
    // Canal's calico-node writes its IPv4Address again when it starts; nothing reads it meanwhile (policy only).
    const calicoAnnotations: string[] = Object.values(NODE_ANNOTATIONS);
    for (const node of await this.client.list('v1', 'Node')) {
      const labels = node.metadata?.labels ?? {};
      const annotations = node.metadata?.annotations ?? {};
      const drop = [NODE_STATE_ANNOTATION, ...calicoAnnotations].filter((a) => a in annotations);
      if (MIGRATION_LABEL in labels || drop.length) {
        await this.client.mergePatch(nodeRef(node.metadata!.name!), {
          metadata: {
            labels: { [MIGRATION_LABEL]: null },
            annotations: Object.fromEntries(drop.map((a) => [a, null])),
          },
        });
      }
    }
    emit('deleting helper Jobs and pods, the migration Events and the migration record');
    await deleteHelperObjects(this.client);
    for (const event of await this.client.list('v1', 'Event', {
      namespace: EVENT_NAMESPACE,
      labelSelector: MANAGED_BY_SELECTOR,
    })) {
      await this.client.delete({
        apiVersion: 'v1',
        kind: 'Event',
        name: event.metadata!.name!,
        namespace: EVENT_NAMESPACE,
      });
    }
    await deleteMigrationRecord(this.client);
    return kept;
  }
}

/**
 * Deletes a node's IPAM objects (blocks affine to it, their affinities, its tunnel handle) unless a
 * pod that still exists holds an address in the block. Returns the objects kept.
 */
export async function releaseNodeIpam(client: ClusterPort, node: string, info: (m: string) => void): Promise<string[]> {
  const [blocks, affinities, handles] = await Promise.all(IPAM_KINDS.map((k) => client.listIfServed(CALICO_GV, k)));
  if (!blocks) return [];
  const kept: string[] = [];
  const releasedCidrs = new Set<string>();
  for (const block of blocks.filter((b) => b.spec?.affinity === `host:${node}`)) {
    const holders: string[] = [];
    const allocations: Array<number | null> = block.spec?.allocations ?? [];
    for (const index of allocations) {
      if (index === null || index === undefined) continue;
      const attr = block.spec?.attributes?.[index] ?? {};
      if (TUNNEL_HANDLE.test(attr.handle_id ?? '')) continue;
      const ns = attr.secondary?.namespace;
      const pod = attr.secondary?.pod;
      if (!ns || !pod) {
        holders.push(attr.handle_id ?? `allocation ${index}`);
        continue;
      }
      const live = await client.find({ apiVersion: 'v1', kind: 'Pod', name: pod, namespace: ns });
      if (live && !['Succeeded', 'Failed'].includes(live.status?.phase)) holders.push(`${ns}/${pod}`);
    }
    if (holders.length) {
      kept.push(`IPAMBlock ${block.metadata!.name} (${holders.join(', ')})`);
      info(`kept IPAMBlock ${block.spec?.cidr}: pods still hold addresses from it (${holders.join(', ')})`);
      continue;
    }
    await client.delete({ apiVersion: CALICO_GV, kind: 'IPAMBlock', name: block.metadata!.name! });
    releasedCidrs.add(block.spec?.cidr);
  }
  for (const affinity of (affinities ?? []).filter((a) => a.spec?.node === node && releasedCidrs.has(a.spec?.cidr))) {
    await client.delete({ apiVersion: CALICO_GV, kind: 'BlockAffinity', name: affinity.metadata!.name! });
  }
  if (!kept.length) {
    for (const handle of (handles ?? []).filter(
      (h) => TUNNEL_HANDLE.test(h.spec?.handleID ?? '') && h.spec.handleID.replace(TUNNEL_HANDLE, '') === node,
    )) {
      await client.delete({ apiVersion: CALICO_GV, kind: 'IPAMHandle', name: handle.metadata!.name! });
    }
  }
  return kept;
}
