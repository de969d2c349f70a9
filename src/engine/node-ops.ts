import { refOf, type KubeObject } from '../cluster/index.js';
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
import { drainNode, listPodsOnNode, type BudgetWaiters } from './drain.js';
import { ensureFresh } from './host-jobs.js';
import { PROBE_NAMESPACE, probeClientJob, probeServerPod, probeServerSelector, staleProbeReason } from './probe.js';
import type { SharedWatch } from './shared-watch.js';
import { waitForJob, waitForPodReadyOnNode } from './waits.js';

/** The building blocks of a node's move, shared by migrate and revert. Each checks before it acts. */

export const nodeRef = (name: string) => ({ apiVersion: 'v1', kind: 'Node', name });

/**
 * Cordons or uncordons. With `annotations` (the node's migration state), one patch sets both at once,
 * unconditionally, so the state and the change are recorded together; without, the node is read
 * first and left alone when it already is as wanted.
 */
export async function setUnschedulable(
  client: ClusterPort,
  node: string,
  value: boolean,
  annotations?: Record<string, string>,
): Promise<void> {
  if (annotations) {
    await client.strategicPatch(nodeRef(node), { metadata: { annotations }, spec: { unschedulable: value } });
    return;
  }
  const current = await client.get(nodeRef(node));
  if ((current.spec?.unschedulable === true) === value) return;
  await client.strategicPatch(nodeRef(node), { spec: { unschedulable: value } });
}

/** Sets the migration label; with `annotations` (the node's migration state) in the same patch, unconditionally. */
export async function setNetworkLabel(
  client: ClusterPort,
  node: string,
  value: NetworkLabel,
  annotations?: Record<string, string>,
): Promise<void> {
  if (annotations) {
    await client.mergePatch(nodeRef(node), { metadata: { labels: { [MIGRATION_LABEL]: value }, annotations } });
    return;
  }
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

/** The DaemonSets and PodDisruptionBudgets kubectl drain's filters look at. */
export interface DrainObjects {
  daemonSets: KubeObject[];
  pdbs: KubeObject[];
}

export async function listDrainObjects(client: ClusterPort): Promise<DrainObjects> {
  const [daemonSets, pdbs] = await Promise.all([
    client.list('apps/v1', 'DaemonSet'),
    client.list('policy/v1', 'PodDisruptionBudget'),
  ]);
  return { daemonSets, pdbs };
}

export interface DrainRun {
  drain: Plan['drain'];
  timeoutMs: number;
  retryDelayMs: number;
  /** Shared by the nodes of a batch: one list of DaemonSets and budgets, one watch per budget. */
  objects?: () => Promise<DrainObjects>;
  budgets?: BudgetWaiters;
  /** The node was cordoned by this run's cordon step a moment ago: no need to check again. */
  cordoned?: boolean;
  onWaiting: (message: string) => void;
  onEvicted: (pod: string) => void;
  signal?: AbortSignal;
}

/** Cordons (again, in case someone uncordoned a stopped node) and drains with kubectl drain's filters. */
export async function cordonAndDrain(client: ClusterPort, node: string, run: DrainRun): Promise<void> {
  if (!run.cordoned) await setUnschedulable(client, node, true);
  // The node's pods are listed along with the DaemonSets and budgets (after the cordon: no pod lands after it).
  const [objects, pods] = await Promise.all([
    (run.objects ?? (() => listDrainObjects(client)))(),
    listPodsOnNode(client, node),
  ]);
  const filters = drainContext({
    force: run.drain.force,
    deleteEmptyDirData: run.drain.deleteEmptyDirData,
    ...objects,
  });
  await drainNode(client, node, {
    timeoutMs: run.timeoutMs,
    gracePeriodSeconds: run.drain.gracePeriodSeconds >= 0 ? run.drain.gracePeriodSeconds : undefined,
    retryDelayMs: run.retryDelayMs,
    budgets: run.budgets,
    classify: (pod) => classifyPod(pod, filters),
    pdbListing: objects.pdbs,
    pods,
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
  const pods = await listPodsOnNode(client, node);
  const stale = pods.filter(
    (p) => !p.spec?.hostNetwork && !p.metadata?.deletionTimestamp && !['Succeeded', 'Failed'].includes(p.status?.phase),
  );
  if (stale.length)
    wait(
      `restarting ${stale.length} pod(s) still on ${leaving}'s network: ${stale.map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`).join(', ')}`,
    );
  await Promise.all(
    stale.map((pod) =>
      client.delete({ apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, namespace: pod.metadata!.namespace }),
    ),
  );
}

/** An unmigrated, Ready node (flannel side of the overlay), else any other Ready node. */
export async function pickPeer(
  client: ClusterPort,
  except: string,
  prefer: NetworkLabel = 'flannel',
): Promise<string | undefined> {
  const readyPeer = (nodes: KubeObject[]) =>
    nodes.find((n) => n.metadata?.name !== except && isNodeReady(n))?.metadata?.name;
  // Nodes of the preferred network first, one page at a time: a large cluster is not read whole for one peer.
  return (
    (await client.findInList('v1', 'Node', { labelSelector: `${MIGRATION_LABEL}=${prefer}` }, readyPeer)) ??
    client.findInList('v1', 'Node', {}, readyPeer)
  );
}

/**
 * Proves a node's pod network: a server pod there, reached from a peer on the other network; DNS
 * from the node. The probe's Jobs are owned by the server pod: deleting the pod afterwards is the one
 * request that removes everything it created (the garbage collector deletes the Jobs and their pods).
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
    /** Run-wide watches over the tool's pods and Jobs (in PROBE_NAMESPACE), which then answer the waits. */
    shared?: { pods: SharedWatch; jobs: SharedWatch };
  },
): Promise<void> {
  const { image, wait } = opts;
  const fresh = { timeoutMs: opts.timeoutMs, signal: opts.signal, onReplace: wait };
  const ensureProbe = (obj: KubeObject) =>
    ensureFresh(client, obj, (existing) => staleProbeReason(existing, obj), fresh);
  const server = probeServerPod(node, image);
  const serverRef = refOf(server);
  try {
    const created = await ensureProbe(server);
    const owner = { name: created.metadata!.name!, uid: created.metadata!.uid! };
    // The DNS check needs neither a Ready server nor a peer: it starts while the server starts.
    const dnsJob = probeClientJob({
      runOn: node,
      migratedNode: node,
      image,
      httpTargets: [],
      dnsNames: ['kubernetes.default.svc.cluster.local'],
      suffix: 'dns',
      owner,
    });
    wait('waiting for the probe server pod to be Ready');
    const [dns, ready, peer] = await Promise.all([
      ensureProbe(dnsJob),
      waitForPodReadyOnNode(
        client,
        node,
        PROBE_NAMESPACE,
        probeServerSelector(node),
        opts.timeoutMs,
        `the probe server on ${node}`,
        opts.signal,
        opts.shared?.pods,
      ),
      pickPeer(client, node, opts.peerNetwork),
    ]);
    const serverIps: string[] = (ready.status?.podIPs ?? []).map((p: any) => p.ip).filter(Boolean);
    const peerJob = probeClientJob({
      runOn: peer ?? node,
      migratedNode: node,
      image,
      httpTargets: serverIps,
      dnsNames: [],
      suffix: 'peer',
      owner,
    });
    const uids = new Map([
      [dnsJob, dns.metadata?.uid],
      [peerJob, (await ensureProbe(peerJob)).metadata?.uid],
    ]);
    wait(
      `waiting for probes: ` +
        `${peer ? `${peer} -> ${node} (${serverIps.join(', ')})` : 'no peer left; same-node check'}, ` +
        `DNS from ${node}`,
    );
    const jobs = [peerJob, dnsJob];
    const outcomes = await Promise.all(
      jobs.map((job) =>
        waitForJob(
          client,
          job.metadata!.namespace!,
          job.metadata!.name!,
          opts.timeoutMs,
          opts.signal,
          opts.shared?.jobs,
          uids.get(job),
        ),
      ),
    );
    outcomes.forEach((outcome, i) => {
      const job = jobs[i];
      if (!outcome.succeeded)
        throw new Error(
          `probe Job ${job.metadata!.namespace}/${job.metadata!.name} failed (${outcome.reason}); ` +
            `see kubectl -n ${job.metadata!.namespace} logs job/${job.metadata!.name}`,
        );
    });
  } finally {
    await client.delete(serverRef, { propagationPolicy: 'Background' }).catch(() => undefined);
  }
}

/**
 * Deletes the tool's helper Jobs and pods (host scripts, probes): one request per kind, whatever the
 * number of nodes; the Jobs' own pods go with them (in the background).
 */
export async function deleteHelperObjects(client: ClusterPort): Promise<void> {
  for (const [apiVersion, kind] of [
    ['batch/v1', 'Job'],
    ['v1', 'Pod'],
  ])
    await client.deleteCollection(apiVersion, kind, { namespace: STATE_NAMESPACE, labelSelector: MANAGED_BY_SELECTOR });
}
