import type { ClusterClient, KubeObject } from '../cluster/index.js';
import { CONTROL_PLANE_LABELS, EVENT_NAMESPACE, LEASE_NAME, MIGRATION_LABEL, STATE_NAMESPACE } from '../names.js';
import { NODE_STEPS, REVERT_STEPS, type NodeStep } from './events.js';
import { holderIsDeadLocalProcess } from './lock.js';
import { readMigrationRecord, readNodeState, type MigrationRecord } from './state.js';
import { labelSelector } from '../k8s.js';
import { isPodReady } from './waits.js';

/** Version of the `status -o json|yaml` document (docs/status.md); bumped on any incompatible change. */
export const STATUS_SCHEMA_VERSION = 1;

export type RunPhase = 'not-started' | 'migrating' | 'stopped' | 'all-calico' | 'finalized' | 'reverting';
export type NodeNetwork = 'flannel' | 'none' | 'calico';
/** Grouping of nodes, most interesting first. */
export type NodeCondition = 'failed' | 'in-progress' | 'stopped' | 'pending' | 'reverted' | 'migrated';
export const NODE_CONDITION_ORDER: readonly NodeCondition[] = [
  'failed',
  'in-progress',
  'stopped',
  'pending',
  'reverted',
  'migrated',
];
export type PodReadiness = 'ready' | 'not-ready' | 'absent' | 'unknown';

export interface NodeHistoryEntry {
  time: string;
  type: string;
  reason: string;
  message: string;
}

export interface NodeStatus {
  name: string;
  controlPlane: boolean;
  network: NodeNetwork;
  condition: NodeCondition;
  /** Which way the node is (or was last) moving; null when the tool never touched it. */
  operation: 'migrate' | 'revert' | null;
  /** Current step (or the step it stopped at); 'done' when its last operation finished; null if untouched. */
  step: NodeStep | null;
  completedSteps: NodeStep[];
  /** When the current step started (or the operation finished). */
  since: string | null;
  startedAt: string | null;
  cordoned: boolean;
  flannelPod: PodReadiness;
  calicoPod: PodReadiness;
  lastError: string | null;
  /** The next thing to do for this node, as a command; null when nothing is needed. */
  next: string | null;
  /** Only with `--node`: the node's migration Events, oldest first. */
  history?: NodeHistoryEntry[];
}

export interface LockStatus {
  holder: string;
  renewedAt: string | null;
  /** false when the holder stopped renewing it: the next run takes it over. */
  active: boolean;
}

export interface StatusDocument {
  apiVersion: 'flannel2calico/v1';
  kind: 'Status';
  schemaVersion: number;
  generatedAt: string;
  phase: RunPhase;
  /** For phase "stopped": where and why. */
  stoppedAt: { node: string; step: NodeStep | null; error: string | null } | null;
  lock: LockStatus | null;
  flavour: string | null;
  flannelDaemonSet: { name: string; namespace: string } | null;
  startedAt: string | null;
  counts: Record<NodeCondition, number> & { total: number; flannel: number; none: number; calico: number };
  /** Estimate of the time left, from the measured times of the nodes that finished. */
  eta: { remainingNodes: number; secondsPerNode: number; seconds: number; measuredNodes: number } | null;
  /** The next thing to do for the run as a whole. */
  next: string | null;
  /**
   * Grouped by condition, interesting first (failed, in progress, stopped, pending, reverted, migrated), then by name.
   */
  nodes: NodeStatus[];
}

/** Everything `buildStatus` needs, read from the cluster by `readStatusSnapshot` (get/list only). */
export interface StatusSnapshot {
  now: Date;
  record?: MigrationRecord;
  lease?: KubeObject;
  /** The Lease's holder is a process on this machine that no longer exists. */
  lockHolderGone?: boolean;
  nodes: KubeObject[];
  flannelPods?: KubeObject[];
  calicoPods?: KubeObject[];
  /** Node Events written by the tool, for the nodes whose history is wanted. */
  events?: KubeObject[];
}

function podReadiness(
  pods: KubeObject[] | undefined,
  byNode: Map<string, KubeObject[]> | undefined,
  node: string,
): PodReadiness {
  if (!pods || !byNode) return 'unknown';
  const here = (byNode.get(node) ?? []).filter((p) => !p.metadata?.deletionTimestamp);
  if (!here.length) return 'absent';
  return here.some(isPodReady) ? 'ready' : 'not-ready';
}

function groupByNode(pods: KubeObject[] | undefined): Map<string, KubeObject[]> | undefined {
  if (!pods) return undefined;
  const out = new Map<string, KubeObject[]>();
  for (const p of pods) {
    const n = p.spec?.nodeName;
    if (!n) continue;
    const list = out.get(n);
    if (list) list.push(p);
    else out.set(n, [p]);
  }
  return out;
}

function lockOf(lease: KubeObject | undefined, now: Date, holderGone: boolean): LockStatus | null {
  const holder: string | undefined = lease?.spec?.holderIdentity;
  if (!holder) return null;
  const renewedAt: string | undefined = lease!.spec?.renewTime ?? lease!.spec?.acquireTime;
  const duration = Number(lease!.spec?.leaseDurationSeconds ?? 30);
  const active = !holderGone && renewedAt ? Date.parse(renewedAt) + duration * 1000 > now.getTime() : false;
  return { holder, renewedAt: renewedAt ?? null, active };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function nodeNext(
  name: string,
  condition: NodeCondition,
  operation: 'migrate' | 'revert' | null,
  finalized: boolean,
): string | null {
  if (finalized) return null;
  switch (condition) {
    case 'failed':
    case 'stopped':
      return operation === 'revert' ? `flannel2calico revert --node ${name}` : `flannel2calico migrate --nodes ${name}`;
    case 'pending':
    case 'reverted':
      return `flannel2calico migrate --nodes ${name}`;
    default:
      return null;
  }
}

/**
 * The status read model: where the run and every node stand, from what the migration records in
 * the cluster (node label and state annotation, the migration record, the Lease, pods, Events).
 * Pure, so the CLI, `--watch` and any report render the same document.
 */
export function buildStatus(s: StatusSnapshot): StatusDocument {
  const finalized = s.record?.phase === 'finalized';
  const lock = lockOf(s.lease, s.now, s.lockHolderGone === true);
  const running = lock?.active === true;
  const flannelByNode = groupByNode(s.flannelPods);
  const calicoByNode = groupByNode(s.calicoPods);
  const eventsByNode = new Map<string, NodeHistoryEntry[]>();
  for (const e of s.events ?? []) {
    const node = e.involvedObject?.name;
    if (!node) continue;
    const entry = {
      time: e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp ?? '',
      type: e.type ?? 'Normal',
      reason: e.reason ?? '',
      message: e.message ?? '',
    };
    const list = eventsByNode.get(node);
    if (list) list.push(entry);
    else eventsByNode.set(node, [entry]);
  }

  const nodes: NodeStatus[] = s.nodes.map((n) => {
    const name = n.metadata!.name!;
    const labels = n.metadata?.labels ?? {};
    const label = labels[MIGRATION_LABEL];
    const network: NodeNetwork =
      label === 'none' || label === 'calico' || label === 'flannel' ? label : finalized ? 'calico' : 'flannel';
    const state = readNodeState(n);
    const operation = state ? (state.operation ?? 'migrate') : null;
    const done = state?.completed.includes('done') ?? false;
    let condition: NodeCondition;
    if (!state) condition = network === 'calico' ? 'migrated' : 'pending';
    else if (done) condition = operation === 'revert' ? 'reverted' : 'migrated';
    else if (state.error) condition = 'failed';
    else condition = running ? 'in-progress' : 'stopped';
    const history = s.events ? (eventsByNode.get(name) ?? []) : undefined;
    return {
      name,
      controlPlane: CONTROL_PLANE_LABELS.some((l) => l in labels),
      network,
      condition,
      operation,
      step: state ? (done ? 'done' : state.step) : null,
      completedSteps: state?.completed ?? [],
      since: state?.updatedAt ?? null,
      startedAt: state?.startedAt ?? null,
      cordoned: n.spec?.unschedulable === true,
      flannelPod: podReadiness(s.flannelPods, flannelByNode, name),
      calicoPod: podReadiness(s.calicoPods, calicoByNode, name),
      lastError: state?.error ?? null,
      next: nodeNext(name, condition, operation, finalized),
      ...(history ? { history: history.sort((a, b) => a.time.localeCompare(b.time)) } : {}),
    };
  });
  const rank = new Map(NODE_CONDITION_ORDER.map((c, i) => [c, i]));
  nodes.sort((a, b) => rank.get(a.condition)! - rank.get(b.condition)! || a.name.localeCompare(b.name));

  const counts = {
    total: nodes.length,
    flannel: 0,
    none: 0,
    calico: 0,
    failed: 0,
    'in-progress': 0,
    stopped: 0,
    pending: 0,
    reverted: 0,
    migrated: 0,
  };
  for (const n of nodes) {
    counts[n.network]++;
    counts[n.condition]++;
  }

  const touched =
    nodes.some((n) => n.operation !== null) || s.nodes.some((n) => MIGRATION_LABEL in (n.metadata?.labels ?? {}));
  const reverting = s.record?.phase === 'reverting' || nodes.some((n) => n.operation === 'revert' && n.step !== 'done');
  const problem =
    nodes.find((n) => n.condition === 'failed') ?? (running ? undefined : nodes.find((n) => n.condition === 'stopped'));
  let phase: RunPhase;
  if (finalized) phase = 'finalized';
  else if (!s.record && !touched) phase = 'not-started';
  else if (problem && !running) phase = 'stopped';
  else if (reverting) phase = 'reverting';
  else if (nodes.length && nodes.every((n) => n.network === 'calico' && n.condition === 'migrated'))
    phase = 'all-calico';
  else phase = 'migrating';

  // ETA: median of the finished nodes' times (for the direction the run is going), times the nodes left.
  const direction = phase === 'reverting' ? 'revert' : 'migrate';
  const measured = s.nodes.flatMap((n) => {
    const st = readNodeState(n);
    if (!st || (st.operation ?? 'migrate') !== direction || !st.completed.includes('done')) return [];
    const ms = Date.parse(st.updatedAt) - Date.parse(st.startedAt);
    return Number.isFinite(ms) && ms >= 0 ? [ms / 1000] : [];
  });
  const remainingNodes =
    phase === 'finalized' || phase === 'not-started'
      ? 0
      : direction === 'revert'
        ? nodes.filter((n) => n.network !== 'flannel' || (n.operation !== null && n.step !== 'done')).length
        : nodes.filter((n) => n.condition !== 'migrated').length;
  const eta =
    measured.length && remainingNodes
      ? {
          remainingNodes,
          secondsPerNode: Math.round(median(measured) * 10) / 10,
          seconds: Math.round(median(measured) * remainingNodes),
          measuredNodes: measured.length,
        }
      : null;

  let next: string | null = null;
  if (phase === 'not-started') next = 'flannel2calico plan';
  else if (phase === 'stopped') next = problem?.next ?? 'flannel2calico migrate';
  else if (phase === 'migrating' && !running) next = 'flannel2calico migrate';
  else if (phase === 'reverting' && !running) next = 'flannel2calico revert --all';
  else if (phase === 'all-calico') next = 'flannel2calico migrate --finalize';

  return {
    apiVersion: 'flannel2calico/v1',
    kind: 'Status',
    schemaVersion: STATUS_SCHEMA_VERSION,
    generatedAt: s.now.toISOString(),
    phase,
    stoppedAt:
      phase === 'stopped' && problem ? { node: problem.name, step: problem.step, error: problem.lastError } : null,
    lock,
    flavour: s.record?.flavour ?? null,
    flannelDaemonSet: s.record?.flannelDaemonSet ?? null,
    startedAt: s.record?.startedAt ?? null,
    counts,
    eta,
    next,
    nodes,
  };
}

/** The steps an operation goes through, for rendering a node's progress. */
export function stepsOf(operation: 'migrate' | 'revert' | null): readonly NodeStep[] {
  return operation === 'revert' ? REVERT_STEPS : NODE_STEPS;
}

async function daemonSetPods(
  client: ClusterClient,
  name: string,
  namespace: string,
  node?: string,
): Promise<KubeObject[] | undefined> {
  const ds = await client.find({ apiVersion: 'apps/v1', kind: 'DaemonSet', name, namespace });
  const selector = labelSelector(ds?.spec?.selector?.matchLabels);
  if (!ds || !selector) return ds ? [] : undefined;
  return client.list('v1', 'Pod', {
    namespace,
    labelSelector: selector,
    ...(node ? { fieldSelector: `spec.nodeName=${node}` } : {}),
  });
}

/** Reads a StatusSnapshot with get/list rights only. With `node`, only that node, plus its Events. */
export async function readStatusSnapshot(client: ClusterClient, opts: { node?: string } = {}): Promise<StatusSnapshot> {
  const record = await readMigrationRecord(client);
  const lease = await client.find({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    name: LEASE_NAME,
    namespace: STATE_NAMESPACE,
  });
  const nodes = opts.node
    ? [await client.get({ apiVersion: 'v1', kind: 'Node', name: opts.node })]
    : await client.list('v1', 'Node');
  const flannel = record?.flannelDaemonSet;
  const flannelPods = flannel ? await daemonSetPods(client, flannel.name, flannel.namespace, opts.node) : undefined;
  const calicoPods = record ? await daemonSetPods(client, record.calicoDaemonSet, 'kube-system', opts.node) : undefined;
  const events = opts.node
    ? (
        await client.list('v1', 'Event', {
          namespace: EVENT_NAMESPACE,
          fieldSelector: `involvedObject.kind=Node,involvedObject.name=${opts.node}`,
        })
      ).filter((e) => e.source?.component === 'flannel2calico' || e.reportingComponent === 'flannel2calico')
    : undefined;
  const holder = lease?.spec?.holderIdentity;
  return {
    now: new Date(),
    record,
    lease,
    lockHolderGone: holder ? holderIsDeadLocalProcess(holder) : false,
    nodes,
    flannelPods,
    calicoPods,
    events: opts.node ? (events ?? []) : undefined,
  };
}
