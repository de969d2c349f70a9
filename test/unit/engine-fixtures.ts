/** A small cluster, a plan over it and a run context that records, for the engine's unit tests. */
import type { KubeObject } from '../../src/cluster/index.js';
import { MIGRATION_LABEL, NODE_STATE_ANNOTATION, STATE_NAMESPACE } from '../../src/names.js';
import { hostScriptJob, loadHostScript, type HostScriptMode } from '../../src/host/pods.js';
import { MigrationEngine, type EngineOptions, type RunOutcome } from '../../src/engine/engine.js';
import type { EngineEvent, NodeStep } from '../../src/engine/events.js';
import { RunContext, type Answer, type Confirmation } from '../../src/engine/run-context.js';
import type { NodeMigrationState } from '../../src/engine/state.js';
import type { Plan, PlannedNode } from '../../src/plan/types.js';
import { FakeCluster, type FakeClusterOptions } from './fake-cluster.js';

export const FLANNEL_DS = { name: 'kube-flannel-ds', namespace: 'kube-flannel' };

export function nodeObject(
  name: string,
  o: { label?: string; unschedulable?: boolean; state?: Partial<NodeMigrationState> | string } = {},
): KubeObject {
  const annotations: Record<string, string> = {};
  if (typeof o.state === 'string') annotations[NODE_STATE_ANNOTATION] = o.state;
  else if (o.state) {
    annotations[NODE_STATE_ANNOTATION] = JSON.stringify({
      operation: 'migrate',
      step: 'cordon',
      completed: [],
      wasUnschedulable: false,
      startedAt: '2026-01-01T00:00:00Z',
      updatedAt: '2026-01-01T00:00:00Z',
      ...o.state,
    });
  }
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { 'kubernetes.io/hostname': name, ...(o.label ? { [MIGRATION_LABEL]: o.label } : {}) },
      annotations,
    },
    spec: o.unschedulable ? { unschedulable: true } : {},
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

export function workloadPod(node: string, name: string, namespace = 'default'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: { app: name.replace(/-\d+$/, '') },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-rs`, uid: `rs-${name}`, controller: true },
      ],
    },
    spec: { nodeName: node, containers: [{ name: 'c', image: 'app' }] },
    status: { phase: 'Running' },
  };
}

function daemonSet(name: string, namespace: string, app: string, nodeSelector: Record<string, string>): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels: { app } },
      template: { metadata: { labels: { app } }, spec: { nodeSelector, containers: [{ name: app, image: app }] } },
    },
  };
}

/** flannel on every node (not yet restricted), Calico installed in migration mode, one workload pod per node. */
export function clusterObjects(nodes: KubeObject[], o: { pods?: boolean } = {}): KubeObject[] {
  return [
    ...nodes,
    daemonSet(FLANNEL_DS.name, FLANNEL_DS.namespace, 'flannel', {}),
    daemonSet('calico-node', 'kube-system', 'calico-node', { [MIGRATION_LABEL]: 'calico' }),
    ...(o.pods === false ? [] : nodes.map((n) => workloadPod(n.metadata!.name!, `web-${n.metadata!.name}`))),
  ];
}

export function fakeCluster(nodes: KubeObject[], o: FakeClusterOptions & { pods?: boolean } = {}): FakeCluster {
  return new FakeCluster(clusterObjects(nodes, o), o);
}

function plannedNode(name: string, batch: number): PlannedNode {
  return {
    name,
    role: 'worker',
    batch,
    podCidrs: [],
    identity: {} as PlannedNode['identity'],
    ipam: { blocks: [], affinities: [], handles: [] },
    annotations: {},
    pods: [],
    currentState: 'unlabelled',
  };
}

export function plan(batches: string[][]): Plan {
  return {
    apiVersion: 'flannel2calico/v1',
    kind: 'Plan',
    createdAt: '2026-01-01T00:00:00Z',
    cluster: { server: 'https://127.0.0.1:6443', context: 'test', stateHash: 'hash', fingerprint: {} },
    flavour: 'flannel',
    flannelDaemonSet: FLANNEL_DS,
    settings: {},
    calico: { pools: [], replacePools: [], felixConfigurationPatch: { spec: { vxlanVNI: 1 } }, blockSizeV4: 24 },
    drain: { force: false, deleteEmptyDirData: false, timeoutSeconds: 2, gracePeriodSeconds: -1 },
    hostCleanup: { helperImage: 'calico/node:test', preDrainCheck: '' },
    maxParallel: '1',
    nodes: batches.flatMap((b, i) => b.map((n) => plannedNode(n, i))),
    batches,
    preflight: [],
  };
}

export interface Recorded {
  events: EngineEvent[];
  audit: Array<Record<string, unknown>>;
  questions: Confirmation[];
}

export function recordingContext(
  answer: (c: Confirmation) => Answer = () => 'yes',
  signal?: AbortSignal,
): { ctx: RunContext; recorded: Recorded } {
  const recorded: Recorded = { events: [], audit: [], questions: [] };
  const ctx = new RunContext({
    onEvent: (e) => recorded.events.push(e),
    confirm: async (c) => {
      recorded.questions.push(c);
      return answer(c);
    },
    audit: { write: (e) => recorded.audit.push(e) },
    signal,
  });
  return { ctx, recorded };
}

export type MigrateOptions = Partial<EngineOptions> & { answer?: (c: Confirmation) => Answer; signal?: AbortSignal };

export async function migrate(
  cluster: FakeCluster,
  p: Plan,
  o: MigrateOptions = {},
): Promise<{ outcome: RunOutcome; recorded: Recorded }> {
  const { ctx, recorded } = recordingContext(o.answer, o.signal);
  const engine = new MigrationEngine(cluster, ctx, {
    plan: p,
    helperImage: 'calico/node:test',
    probeImage: 'busybox:test',
    drainTimeoutMs: 2000,
    drainRetryDelayMs: 10,
    stepTimeoutMs: 2000,
    finalize: 'no',
    apiOutageMs: 1000,
    ...o,
  });
  return { outcome: await engine.run(), recorded };
}

export function stepsStarted(recorded: Recorded, node: string): NodeStep[] {
  return recorded.events.flatMap((e) => (e.type === 'step-start' && e.node === node ? [e.step] : []));
}

/** The Kubernetes Events the tool wrote on a node, in the order it wrote them. */
export function nodeEvents(
  cluster: FakeCluster,
  node: string,
): Array<{ type: string; reason: string; message: string }> {
  return cluster.changes('Event').flatMap((c) => {
    const e = c.body as KubeObject;
    return c.verb === 'create' && e.involvedObject?.kind === 'Node' && e.involvedObject?.name === node
      ? [{ type: String(e.type), reason: String(e.reason), message: String(e.message) }]
      : [];
  });
}

/** The steps and durations the engine reported done for a node (its `step-done` events), in order. */
export function stepsDone(recorded: Recorded, node: string): Array<{ step: NodeStep; ms: number }> {
  return recorded.events.flatMap((e) =>
    e.type === 'step-done' && e.node === node ? [{ step: e.step, ms: e.elapsedMs }] : [],
  );
}

export function nodeState(cluster: FakeCluster, node: string): NodeMigrationState | undefined {
  const raw = cluster.peek('Node', node)?.metadata?.annotations?.[NODE_STATE_ANNOTATION];
  return raw ? (JSON.parse(raw) as NodeMigrationState) : undefined;
}

/** The host cleanup Job the engine makes for `node` (mode check: its helper image check Job). */
export function cleanupJob(node: string, mode: HostScriptMode = 'run'): KubeObject {
  return hostScriptJob({
    script: 'cleanup',
    scriptText: loadHostScript('cleanup'),
    node,
    namespace: STATE_NAMESPACE,
    vni: 1,
    cniConfigDir: '/etc/cni/net.d',
    flavour: 'flannel',
    image: 'calico/node:test',
    runId: 'migrate',
    mode,
  });
}
