/**
 * The planner's one I/O: reads everything the plan depends on from the cluster, in parallel.
 * Calico kinds are read only when their CRDs are served (undefined otherwise). Pods and Nodes are
 * kept only in the parts the plan reads (projection.ts), page by page.
 */
import type {
  ClusterClient,
  KubeObject,
  V1ConfigMap,
  V1DaemonSet,
  V1Node,
  V1Pod,
  V1PodDisruptionBudget,
  V1Service,
} from '../cluster/index.js';
import type { Detection } from '../flannel/types.js';
import { CALICO_GROUP_VERSION as CALICO } from '../names.js';
import { planNode, planPod } from './projection.js';
import type { ClusterSnapshot } from './types.js';

export type { ClusterSnapshot } from './types.js';
export { stateHash, fingerprint, diffSnapshots, diffFingerprints, type DriftChange } from './fingerprint.js';

/** The part of a snapshot that does not depend on what detection finds. */
export type ClusterRead = Omit<ClusterSnapshot, 'collectedAt' | 'server' | 'context' | 'annotationPrefix' | 'flannel'>;

/**
 * Starts reading the lists of the snapshot that need no detection (nodes, pods, budgets, DaemonSets,
 * Calico objects): a command starts it before `detect`, so both run at once. A failure surfaces when
 * collectSnapshot awaits it, never as an unhandled rejection.
 */
export function readCluster(client: ClusterClient): Promise<ClusterRead> {
  const read = (async (): Promise<ClusterRead> => {
    const [
      nodes,
      pods,
      pdbs,
      daemonSets,
      kubernetesService,
      serviceCidrs,
      ipPools,
      ipamBlocks,
      blockAffinities,
      ipamHandles,
    ] = await Promise.all([
      client.list<V1Node & KubeObject, V1Node>('v1', 'Node', { project: planNode }),
      client.list<V1Pod & KubeObject, V1Pod>('v1', 'Pod', { project: planPod }),
      client.list<V1PodDisruptionBudget & KubeObject>('policy/v1', 'PodDisruptionBudget'),
      client.list<V1DaemonSet & KubeObject>('apps/v1', 'DaemonSet'),
      client.find<V1Service & KubeObject>({
        apiVersion: 'v1',
        kind: 'Service',
        name: 'kubernetes',
        namespace: 'default',
      }),
      client.listIfServed('networking.k8s.io/v1', 'ServiceCIDR'),
      client.listIfServed(CALICO, 'IPPool'),
      client.listIfServed(CALICO, 'IPAMBlock'),
      client.listIfServed(CALICO, 'BlockAffinity'),
      client.listIfServed(CALICO, 'IPAMHandle'),
    ]);
    return {
      nodes,
      pods,
      pdbs,
      daemonSets,
      kubernetesService,
      serviceCidrs,
      calico: { ipPools, ipamBlocks, blockAffinities, ipamHandles },
    };
  })();
  read.catch(() => undefined);
  return read;
}

export async function collectSnapshot(
  client: ClusterClient,
  detection: Detection,
  reading: Promise<ClusterRead> = readCluster(client),
): Promise<ClusterSnapshot> {
  const ds = detection.daemonSet;
  const cm = detection.configMap;
  const [read, configMap] = await Promise.all([
    reading,
    cm
      ? client.find<V1ConfigMap & KubeObject>({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          name: cm.name,
          namespace: cm.namespace,
        })
      : Promise.resolve(undefined),
  ]);
  const daemonSet = ds
    ? read.daemonSets.find((d) => d.metadata?.name === ds.name && d.metadata?.namespace === ds.namespace)
    : undefined;
  return {
    collectedAt: new Date().toISOString(),
    server: client.server,
    context: client.contextName,
    annotationPrefix: detection.settings.flannelAnnotationPrefix.value,
    ...read,
    flannel: { daemonSet, configMap },
  };
}
