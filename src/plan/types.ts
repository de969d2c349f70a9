import type { CalicoNodeIdentity } from '../calico/objects.js';
import type { Finding } from '../finding.js';
import type { KubeObject, V1ConfigMap, V1DaemonSet, V1Node, V1Pod, V1PodDisruptionBudget, V1Service } from '../cluster/index.js';

/** The image of the host Jobs unless --helper-image names another: calico/node, as the Calico manifest pins it. */
export const DEFAULT_HELPER_IMAGE = 'quay.io/calico/node:v3.32.1';

export type { Finding } from '../finding.js';

export type PodAction = 'evict' | 'skip' | 'refuse';

/** How the drain treats one pod, and why (kubectl drain's filters). */
export interface PodVerdict {
  action: PodAction;
  reason: string;
}

/** A PodDisruptionBudget and how many disruptions its status allows now. */
export interface PdbRef {
  namespace: string;
  name: string;
  disruptionsAllowed: number;
}

/** What the drain of a node will do with one pod, and why (kubectl drain's filters). */
export interface PodDisposition extends PodVerdict {
  namespace: string;
  name: string;
  /** PodDisruptionBudgets the eviction of this pod must pass; one with disruptionsAllowed 0 blocks now. */
  blockingPdbs: PdbRef[];
}

export interface PlannedNode {
  name: string;
  role: 'worker' | 'control-plane';
  /** Index into Plan.batches (0-based). */
  batch: number;
  podCidrs: string[];
  identity: CalicoNodeIdentity;
  ipam: { blocks: KubeObject[]; affinities: KubeObject[]; handles: KubeObject[] };
  tunnelAddressV4?: string;
  tunnelAddressV6?: string;
  /** Calico node annotations to write. */
  annotations: Record<string, string>;
  pods: PodDisposition[];
  /** Value of the label projectcalico.org/node-network-during-migration, or 'unlabelled'. */
  currentState: string;
}

export interface PlanSetting {
  value: unknown;
  source: string;
  from?: string;
}

export interface Plan {
  apiVersion: 'flannel2calico/v1';
  kind: 'Plan';
  createdAt: string;
  cluster: {
    server: string;
    context: string;
    /** sha256 over the canonical cluster state the plan was made from (see fingerprint). */
    stateHash: string;
    /** Per-object fingerprints ("node/<name>", "pdb/<ns>/<name>", …) so a drift check can name what changed. */
    fingerprint: Record<string, string>;
  };
  flavour: 'flannel' | 'canal';
  flannelDaemonSet: { name: string; namespace: string };
  settings: Record<string, PlanSetting>;
  calico: {
    pools: KubeObject[];
    /** Existing pools the migration deletes before creating its own (Canal's non-VXLAN default pool). */
    replacePools: string[];
    felixConfigurationPatch: object;
    blockSizeV4: number;
    blockSizeV6?: number;
  };
  drain: { force: boolean; deleteEmptyDirData: boolean; timeoutSeconds: number; gracePeriodSeconds: number };
  /** The host cleanup Job: its image, and the command check run in that image before the first drain. */
  hostCleanup: { helperImage: string; preDrainCheck: string };
  maxParallel: string;
  /** In migration order. */
  nodes: PlannedNode[];
  /** Node names per batch; control-plane nodes last, one per batch. */
  batches: string[][];
  preflight: Finding[];
}

/** Everything the planner reads from the cluster. Collected by collectSnapshot (snapshot.ts). */
export interface ClusterSnapshot {
  collectedAt: string;
  server: string;
  context: string;
  /** flannel's --kube-annotation-prefix, so the fingerprint knows which node annotations are flannel's. */
  annotationPrefix: string;
  nodes: V1Node[];
  pods: V1Pod[];
  pdbs: V1PodDisruptionBudget[];
  daemonSets: V1DaemonSet[];
  /** The `kubernetes` Service in `default`, when present. */
  kubernetesService?: V1Service;
  /** networking.k8s.io/v1 ServiceCIDR objects; undefined when the API does not serve them. */
  serviceCidrs?: KubeObject[];
  flannel: { daemonSet?: V1DaemonSet; configMap?: V1ConfigMap };
  /** crd.projectcalico.org/v1 objects; each undefined when its CRD is not installed. */
  calico: {
    ipPools?: KubeObject[];
    ipamBlocks?: KubeObject[];
    blockAffinities?: KubeObject[];
    ipamHandles?: KubeObject[];
  };
}

export interface PlanOptions {
  /** "N" or "N%" (of the planned worker nodes, rounded up); default "1". */
  maxParallel?: string;
  /** Plan only these nodes. */
  nodes?: string[];
  force?: boolean;
  deleteEmptyDirData?: boolean;
  drainTimeoutSeconds?: number;
  gracePeriodSeconds?: number;
  /** kubectl's --skip-wait-for-delete-timeout; 0 (default) never skips terminating pods. */
  skipWaitForDeleteTimeoutSeconds?: number;
  /** Image of the host Jobs (--helper-image); DEFAULT_HELPER_IMAGE when not given. */
  helperImage?: string;
  /** Clock for createdAt and pod ages; defaults to now. */
  now?: Date;
}
