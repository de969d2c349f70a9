import type { KubeObject, V1Node } from '../cluster/index.js';
// Not the index: a command's module loads without the Kubernetes client until it connects.
import { isClusterError } from '../cluster/errors.js';
import { sleep } from '../cluster/sleep.js';
import { calicoDaemonSetName } from '../flannel/settings.js';
import { NODE_STATE_ANNOTATION, STATE_CONFIGMAP, STATE_NAMESPACE, MANAGED_BY, MANAGED_BY_LABEL } from '../names.js';
import type { Plan } from '../plan/types.js';
import type { ClusterPort } from './cluster-port.js';
import type { NodeStep } from './events.js';

/** Per-node progress, kept as a JSON annotation on the Node so any rerun resumes where it stopped. */
export interface NodeMigrationState {
  /** Which way the node is moving; absent in states written before revert existed (migrate). */
  operation?: 'migrate' | 'revert';
  step: NodeStep;
  completed: NodeStep[];
  /** The node was cordoned before the migration touched it: leave it cordoned afterwards. */
  wasUnschedulable: boolean;
  startedAt: string;
  updatedAt: string;
  error?: string;
}

export function readNodeState(node: V1Node | KubeObject): NodeMigrationState | undefined {
  const raw = node.metadata?.annotations?.[NODE_STATE_ANNOTATION];
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(raw) as NodeMigrationState;
    return Array.isArray(parsed.completed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Records race other writers (a controller updating the Node, an operator's kubectl): retried on 409 Conflict. */
async function retryOnConflict(write: () => Promise<unknown>, attempts = 5): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await write();
      return;
    } catch (err) {
      if (!isClusterError(err, 'conflict') || attempt >= attempts) throw err;
      await sleep(100 * attempt);
    }
  }
}

export async function writeNodeState(
  client: ClusterPort,
  node: string,
  state: NodeMigrationState | null,
): Promise<void> {
  await retryOnConflict(() =>
    client.mergePatch(
      { apiVersion: 'v1', kind: 'Node', name: node },
      {
        metadata: { annotations: { [NODE_STATE_ANNOTATION]: state ? JSON.stringify(state) : null } },
      },
    ),
  );
}

/** Cluster-wide record of the migration: what was detected and planned, and how far it got. */
export interface MigrationRecord {
  /**
   * migrating: the cluster as it was is recorded and the migration under way (a rerun resumes);
   * finalized: flannel is gone; reverting: `revert --all` is moving every node back.
   */
  phase: 'migrating' | 'finalized' | 'reverting';
  planHash: string;
  flavour: string;
  flannelDaemonSet: { name: string; namespace: string };
  calicoDaemonSet: string;
  settings: Record<string, unknown>;
  nodeOrder: string[];
  startedAt: string;
  updatedAt: string;
  /** The cluster as the first run found it, so that `revert --all` can restore it. */
  before?: ClusterBefore;
  /** How the last run ended, when it did not complete: every node that failed, or where it was interrupted. */
  lastRun?: RunRecord;
}

export interface RunRecord {
  outcome: 'failed' | 'interrupted' | 'completed';
  at: string;
  failures?: Array<{ node?: string; step?: NodeStep; error: string }>;
  /** Nodes of the plan deleted from the cluster before they were migrated. */
  skipped?: string[];
  /** Nodes that joined during the run: not in the plan, left on flannel. */
  notInPlan?: string[];
}

/** What existed before the migration touched the cluster (Calico objects the tool may change). */
export interface ClusterBefore {
  capturedAt: string;
  /** Objects of the Calico manifest that did not exist and were created by the install. */
  createdByInstall: Array<{ apiVersion: string; kind: string; name: string; namespace?: string }>;
  /** IP pools as they were (Canal's may be replaced by the migration), with only their spec. */
  pools: Array<{ name: string; spec: Record<string, unknown> }>;
  /** FelixConfiguration "default" spec, or null when it did not exist. */
  felixConfiguration: Record<string, unknown> | null;
}

/** The state of a node moving the other way; a migrate state does not count for revert and vice versa. */
export function stateFor(node: V1Node | KubeObject, operation: 'migrate' | 'revert'): NodeMigrationState | undefined {
  const state = readNodeState(node);
  if (!state) return undefined;
  return (state.operation ?? 'migrate') === operation ? state : undefined;
}

const stateRef = { apiVersion: 'v1', kind: 'ConfigMap', name: STATE_CONFIGMAP, namespace: STATE_NAMESPACE };

/** What the migration record keeps of the plan it runs. */
export function recordOfPlan(
  plan: Plan,
): Pick<MigrationRecord, 'planHash' | 'flavour' | 'flannelDaemonSet' | 'calicoDaemonSet' | 'settings' | 'nodeOrder'> {
  return {
    planHash: plan.cluster.stateHash,
    flavour: plan.flavour,
    flannelDaemonSet: plan.flannelDaemonSet,
    calicoDaemonSet: calicoDaemonSetName(plan.settings),
    settings: plan.settings,
    nodeOrder: plan.nodes.map((n) => n.name),
  };
}

export async function readMigrationRecord(client: ClusterPort): Promise<MigrationRecord | undefined> {
  const cm = await client.find(stateRef);
  const raw = cm?.data?.record;
  return raw ? (JSON.parse(raw) as MigrationRecord) : undefined;
}

export async function deleteMigrationRecord(client: ClusterPort): Promise<void> {
  await client.delete(stateRef);
}

export async function writeMigrationRecord(client: ClusterPort, record: MigrationRecord): Promise<void> {
  const body = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: STATE_CONFIGMAP, namespace: STATE_NAMESPACE, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
    data: { record: JSON.stringify(record, null, 2) },
  };
  await retryOnConflict(() => client.apply(body));
}
