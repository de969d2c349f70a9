import { isNodeReady } from '../k8s.js';
import type { ClusterPort } from './cluster-port.js';
import { classifyPod, drainContext } from '../plan/drain-filters.js';
import type { Plan } from '../plan/types.js';
import {
  EVENT_NAMESPACE,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  MANAGED_BY_SELECTOR,
  MIGRATION_LABEL,
  STATE_NAMESPACE,
  type NetworkLabel,
} from '../names.js';
import { drainNode } from './drain.js';
import { PROBE_NAMESPACE, probeClientJob, probeServerPod, probeServerSelector } from './probe.js';
import { waitForJob, waitForPodReadyOnNode } from './waits.js';

/** The building blocks of a node's move, shared by migrate and revert. Each checks before it acts. */

export const nodeRef = (name: string) => ({ apiVersion: 'v1', kind: 'Node', name });

export async function setUnschedulable(client: ClusterPort, node: string, value: boolean): Promise<void> {
  const current = await client.get(nodeRef(node));
  if ((current.spec?.unschedulable === true) === value) return;
  await client.strategicPatch(nodeRef(node), { spec: { unschedulable: value } });
}

export async function setNetworkLabel(client: ClusterPort, node: string, value: NetworkLabel): Promise<void> {
  const current = await client.get(nodeRef(node));
  if (current.metadata?.labels?.[MIGRATION_LABEL] === value) return;
  await client.mergePatch(nodeRef(node), { metadata: { labels: { [MIGRATION_LABEL]: value } } });
}

/** A Normal or Warning Event on the Node; best effort (history, not state). */
export async function nodeEvent(
  client: ClusterPort,
  node: string,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
): Promise<void> {
  const now = new Date().toISOString();
  await client
    .create({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        generateName: 'flannel2calico-',
        namespace: EVENT_NAMESPACE,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
      },
      involvedObject: { apiVersion: 'v1', kind: 'Node', name: node },
      reason,
      message,
      type,
      source: { component: 'flannel2calico' },
      reportingComponent: 'flannel2calico',
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    })
    .catch(() => undefined);
}

export interface DrainRun {
  drain: Plan['drain'];
  timeoutMs: number;
  retryDelayMs: number;
  onWaiting: (message: string) => void;
  onEvicted: (pod: string) => void;
  signal?: AbortSignal;
}

/** Cordons (again, in case someone uncordoned a stopped node) and drains with kubectl drain's filters. */
export async function cordonAndDrain(client: ClusterPort, node: string, run: DrainRun): Promise<void> {
  await setUnschedulable(client, node, true);
  const filters = drainContext({
    force: run.drain.force,
    deleteEmptyDirData: run.drain.deleteEmptyDirData,
    daemonSets: await client.list('apps/v1', 'DaemonSet'),
    pdbs: await client.list('policy/v1', 'PodDisruptionBudget'),
  });
  await drainNode(client, node, {
    timeoutMs: run.timeoutMs,
    gracePeriodSeconds: run.drain.gracePeriodSeconds >= 0 ? run.drain.gracePeriodSeconds : undefined,
    retryDelayMs: run.retryDelayMs,
    classify: (pod) => classifyPod(pod, filters),
    onWaiting: run.onWaiting,
    onEvicted: run.onEvicted,
    signal: run.signal,
  });
}

/**
 * Pods the drain left (DaemonSet pods) still hold addresses of the network the node just left:
 * delete them so their controllers recreate them on the new one.
 */
export async function restartPodNetworkPods(
  client: ClusterPort,
  node: string,
  leaving: string,
  wait: (m: string) => void,
): Promise<void> {
  const pods = await client.list('v1', 'Pod', { fieldSelector: `spec.nodeName=${node}` });
  const stale = pods.filter(
    (p) => !p.spec?.hostNetwork && !p.metadata?.deletionTimestamp && !['Succeeded', 'Failed'].includes(p.status?.phase),
  );
  if (stale.length)
    wait(
      `restarting ${stale.length} pod(s) still on ${leaving}'s network: ${stale.map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`).join(', ')}`,
    );
  for (const pod of stale)
    await client.delete({
      apiVersion: 'v1',
      kind: 'Pod',
      name: pod.metadata!.name!,
      namespace: pod.metadata!.namespace,
    });
}

/** An unmigrated, Ready node (flannel side of the overlay), else any other Ready node. */
export async function pickPeer(
  client: ClusterPort,
  except: string,
  prefer: NetworkLabel = 'flannel',
): Promise<string | undefined> {
  const nodes = await client.list('v1', 'Node');
  const ready = nodes.filter((n) => n.metadata?.name !== except && isNodeReady(n));
  const preferred = ready.filter((n) => n.metadata?.labels?.[MIGRATION_LABEL] === prefer);
  return (preferred[0] ?? ready[0])?.metadata?.name;
}

/**
 * Proves a node's pod network: a server pod there, reached from a peer on the other network; DNS
 * from the node. Everything it creates is deleted afterwards.
 */
export async function probeNode(
  client: ClusterPort,
  node: string,
  opts: {
    image: string;
    timeoutMs: number;
    peerNetwork: NetworkLabel;
    wait: (m: string) => void;
    signal?: AbortSignal;
  },
): Promise<void> {
  const { image, wait } = opts;
  const server = probeServerPod(node, image);
  await client.ensure(server);
  wait('waiting for the probe server pod to be Ready');
  const ready = await waitForPodReadyOnNode(
    client,
    node,
    PROBE_NAMESPACE,
    probeServerSelector(node),
    opts.timeoutMs,
    `the probe server on ${node}`,
    opts.signal,
  );
  const serverIps: string[] = (ready.status?.podIPs ?? []).map((p: any) => p.ip).filter(Boolean);
  const peer = await pickPeer(client, node, opts.peerNetwork);
  const jobs = [
    probeClientJob({
      runOn: peer ?? node,
      migratedNode: node,
      image,
      httpTargets: serverIps,
      dnsNames: [],
      suffix: 'peer',
    }),
    probeClientJob({
      runOn: node,
      migratedNode: node,
      image,
      httpTargets: [],
      dnsNames: ['kubernetes.default.svc.cluster.local'],
      suffix: 'dns',
    }),
  ];
  try {
    for (const job of jobs) await client.ensure(job);
    wait(
      `waiting for probes: ${peer ? `${peer} -> ${node} (${serverIps.join(', ')})` : 'no peer left; same-node check'}, DNS from ${node}`,
    );
    for (const job of jobs) {
      const outcome = await waitForJob(
        client,
        job.metadata!.namespace!,
        job.metadata!.name!,
        opts.timeoutMs,
        opts.signal,
      );
      if (!outcome.succeeded)
        throw new Error(
          `probe Job ${job.metadata!.namespace}/${job.metadata!.name} failed (${outcome.reason}); see kubectl -n ${job.metadata!.namespace} logs job/${job.metadata!.name}`,
        );
    }
  } finally {
    for (const obj of [server, ...jobs]) {
      await client
        .delete({
          apiVersion: obj.apiVersion!,
          kind: obj.kind!,
          name: obj.metadata!.name!,
          namespace: obj.metadata!.namespace,
        })
        .catch(() => undefined);
    }
  }
}

/** Deletes the tool's helper Jobs and pods (host scripts, probes). */
export async function deleteHelperObjects(client: ClusterPort): Promise<void> {
  for (const kind of [
    { apiVersion: 'batch/v1', kind: 'Job' },
    { apiVersion: 'v1', kind: 'Pod' },
  ]) {
    for (const obj of await client.list(kind.apiVersion, kind.kind, {
      namespace: STATE_NAMESPACE,
      labelSelector: MANAGED_BY_SELECTOR,
    })) {
      await client.delete(
        { ...kind, name: obj.metadata!.name!, namespace: STATE_NAMESPACE },
        { propagationPolicy: 'Background' },
      );
    }
  }
}
