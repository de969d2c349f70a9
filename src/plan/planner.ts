/**
 * The planner: a pure function from a cluster snapshot and the detected (or overridden) flannel
 * settings to a Plan. No I/O here; collectSnapshot (snapshot.ts) reads the cluster.
 */
import { cidrContains, familyOf, parseCidr } from '../net/cidr.js';
import {
  blockSizeFor,
  felixConfigurationPatch,
  ipPool,
  nodeCalicoAnnotations,
  nodeIpam,
  type CalicoNodeIdentity,
} from '../calico/objects.js';
import type { V1Node, V1Pod } from '../cluster/index.js';
import { MIGRATION_LABEL } from '../names.js';
import type { Detection, FlannelNodeInfo } from '../flannel/types.js';
import { classifyNodePods, drainContext } from './drain-filters.js';
import { fingerprint, fingerprintHash } from './fingerprint.js';
import { PlanInputError, batchSize, isControlPlane, makeBatches, orderNodes, parseMaxParallel } from './order.js';
import { runPreflight, type NodeProblem, type PoolPlan } from './preflight.js';
import { DEFAULT_HELPER_IMAGE, type ClusterSnapshot, type Plan, type PlanOptions, type PlannedNode } from './types.js';

export { PlanInputError } from './order.js';

const DEFAULT_DRAIN_TIMEOUT_SECONDS = 600;

export function nodePodCidrs(node: V1Node): string[] {
  const spec = node.spec ?? {};
  if (spec.podCIDRs?.length) return [...spec.podCIDRs];
  return spec.podCIDR ? [spec.podCIDR] : [];
}

/** Pods indexed by the node they run on. */
function podsByNode(pods: readonly V1Pod[]): Map<string, V1Pod[]> {
  const out = new Map<string, V1Pod[]>();
  for (const pod of pods) {
    const node = pod.spec?.nodeName;
    if (!node) continue;
    let list = out.get(node);
    if (!list) out.set(node, (list = []));
    list.push(pod);
  }
  return out;
}

function poolsFor(detection: Detection): PoolPlan[] {
  const s = detection.settings;
  const pools: PoolPlan[] = [];
  const natOutgoing = Boolean(s.flannelIpMasq.value);
  const families = [
    { family: 4 as const, cidr: s.flannelNetwork.value, subnetLen: s.flannelSubnetLen.value },
    { family: 6 as const, cidr: s.flannelIpv6Network.value, subnetLen: s.flannelIpv6SubnetLen.value },
  ];
  for (const { family, cidr, subnetLen } of families) {
    if (!cidr) continue;
    const blockSize = blockSizeFor(family, subnetLen);
    pools.push({ family, cidr, blockSize, natOutgoing, object: ipPool({ family, cidr, blockSize, natOutgoing }) });
  }
  return pools;
}

/**
 * The Calico identity of a node: its podCIDR per family (only families flannel runs, and only a
 * podCIDR the pool can hold as whole blocks), flannel's VTEP MAC and public IP. Problems that
 * keep a family out are returned for the preflight.
 */
function identityFor(
  node: V1Node,
  info: FlannelNodeInfo | undefined,
  pools: PoolPlan[],
): { identity: CalicoNodeIdentity; problems: NodeProblem[] } {
  const name = node.metadata?.name ?? '';
  const identity: CalicoNodeIdentity = { node: name };
  const problems: NodeProblem[] = [];
  const cidrs = nodePodCidrs(node);
  for (const pool of pools) {
    const v = pool.family === 4 ? 'V4' : 'V6';
    const cidr = cidrs.find((c) => safeFamily(c) === pool.family);
    if (!cidr) {
      problems.push({
        id: 'node.pod-cidr',
        node: name,
        message:
          `node ${name} has no IPv${pool.family} podCIDR (spec.podCIDRs: ` +
          `${cidrs.length ? cidrs.join(', ') : 'none'})`,
        fix:
          'flannel with the Kubernetes subnet manager needs spec.podCIDR: run ' +
          'kube-controller-manager with --allocate-node-cidrs and --cluster-cidr covering the ' +
          'flannel network, or leave the node out with --nodes.',
      });
      continue;
    }
    let prefix: number;
    try {
      prefix = parseCidr(cidr).prefix;
    } catch (err) {
      problems.push({
        id: 'node.pod-cidr',
        node: name,
        message: `node ${name} has an invalid podCIDR "${cidr}": ${(err as Error).message}`,
        fix: 'Correct spec.podCIDR (it cannot be changed in place: the node must be re-registered).',
      });
      continue;
    }
    if (!cidrInside(pool.cidr, cidr)) {
      problems.push({
        id: 'node.pod-cidr-outside-network',
        node: name,
        message:
          `node ${name}'s podCIDR ${cidr} is not inside the flannel network ${pool.cidr}, so ` +
          `Calico's IP pool cannot hold it`,
        fix:
          `Check the flannel network (--flannel-${pool.family === 4 ? '' : 'ipv6-'}network) against ` +
          `kube-controller-manager's --cluster-cidr.`,
      });
      continue;
    }
    if (prefix > pool.blockSize) {
      problems.push({
        id: 'node.pod-cidr-smaller-than-block',
        node: name,
        message:
          `node ${name}'s podCIDR ${cidr} is smaller than one /${pool.blockSize} Calico IPAM block, ` +
          `so it cannot be claimed as affine blocks`,
        fix:
          `Set the subnet length to the podCIDR length ` +
          `(--flannel-${pool.family === 4 ? '' : 'ipv6-'}subnet-len ${prefix}) so the pool's ` +
          `blockSize matches.`,
      });
      continue;
    }
    if (pool.family === 4) identity.podCidrV4 = cidr;
    else identity.podCidrV6 = cidr;
    const mac = pool.family === 4 ? info?.vtepMacV4 : info?.vtepMacV6;
    const publicIp = pool.family === 4 ? info?.publicIpV4 : info?.publicIpV6;
    if (mac) identity[`vtepMac${v}`] = mac;
    else
      problems.push({
        id: 'node.vtep',
        node: name,
        message:
          `node ${name} has no flannel IPv${pool.family} VTEP MAC ` +
          `(${pool.family === 4 ? '' : 'v6-'}backend-data annotation), which Calico must reuse`,
        fix:
          'Make sure flanneld (VXLAN backend) runs on the node and has written its annotations ' +
          '(kubectl get node -o yaml), then plan again.',
      });
    if (publicIp) identity[`publicIp${v}`] = publicIp;
    else
      problems.push({
        id: 'node.vtep',
        node: name,
        message:
          `node ${name} has no flannel IPv${pool.family} public IP ` +
          `(${pool.family === 4 ? '' : 'v6-'}public-ip annotation)`,
        fix: 'Make sure flanneld runs on the node and has written its annotations, then plan again.',
      });
  }
  return { identity, problems };
}

function safeFamily(cidr: string): 4 | 6 | undefined {
  try {
    return familyOf(cidr);
  } catch {
    return undefined;
  }
}

function cidrInside(outer: string, inner: string): boolean {
  return safeFamily(outer) === safeFamily(inner) && cidrContains(outer, inner);
}

/** Builds the plan. Throws PlanInputError for options that cannot be planned (unknown --nodes, bad --max-parallel). */
export function buildPlan(snapshot: ClusterSnapshot, detection: Detection, options: PlanOptions = {}): Plan {
  if (detection.flavour !== 'flannel' && detection.flavour !== 'canal') {
    throw new PlanInputError(
      `there is nothing to plan: detection found ${detection.flavour === 'embedded' ? 'an embedded flannel (k3s), which has no DaemonSet to migrate' : 'no flannel or Canal DaemonSet'}`,
      'Run flannel2calico detect to see what was found; point it at the DaemonSet with ' +
        '--flannel-daemonset and --flannel-namespace.',
    );
  }
  const maxParallel = parseMaxParallel(options.maxParallel ?? '1');
  const now = options.now ?? new Date();
  const drain = {
    force: options.force ?? false,
    deleteEmptyDirData: options.deleteEmptyDirData ?? false,
    timeoutSeconds: options.drainTimeoutSeconds ?? DEFAULT_DRAIN_TIMEOUT_SECONDS,
    gracePeriodSeconds: options.gracePeriodSeconds ?? -1,
  };

  const allNames = new Set(snapshot.nodes.map((n) => n.metadata?.name ?? ''));
  let selected = snapshot.nodes;
  if (options.nodes?.length) {
    const unknown = options.nodes.filter((n) => !allNames.has(n));
    if (unknown.length) {
      throw new PlanInputError(
        `--nodes: no such node${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`,
        'List the nodes with kubectl get nodes.',
      );
    }
    const wanted = new Set(options.nodes);
    selected = snapshot.nodes.filter((n) => wanted.has(n.metadata?.name ?? ''));
  }

  const pools = poolsFor(detection);
  const blockSizeV4 =
    pools.find((p) => p.family === 4)?.blockSize ?? blockSizeFor(4, detection.settings.flannelSubnetLen.value);
  const blockSizeV6 = pools.find((p) => p.family === 6)?.blockSize;
  const flannelNodes = new Map(detection.nodes.map((n) => [n.name, n]));
  const podsOn = podsByNode(snapshot.pods);
  const drainCtx = drainContext({
    ...drain,
    daemonSets: snapshot.daemonSets,
    pdbs: snapshot.pdbs,
    skipWaitForDeleteTimeoutSeconds: options.skipWaitForDeleteTimeoutSeconds,
    now,
  });

  const nodeProblems: NodeProblem[] = [];
  const planned: PlannedNode[] = orderNodes(
    selected.map((node) => ({
      node,
      name: node.metadata?.name ?? '',
      role: isControlPlane(node) ? ('control-plane' as const) : ('worker' as const),
    })),
  ).map(({ node, name, role }) => {
    const { identity, problems } = identityFor(node, flannelNodes.get(name), pools);
    nodeProblems.push(...problems);
    let ipam: PlannedNode['ipam'] = { blocks: [], affinities: [], handles: [] };
    let tunnelAddressV4: string | undefined;
    let tunnelAddressV6: string | undefined;
    let annotations: Record<string, string> = {};
    if (identity.podCidrV4 || identity.podCidrV6) {
      try {
        const built = nodeIpam(
          identity,
          blockSizeV4,
          blockSizeV6 ?? blockSizeFor(6, detection.settings.flannelIpv6SubnetLen.value),
        );
        ipam = { blocks: built.blocks, affinities: built.affinities, handles: built.handles };
        tunnelAddressV4 = built.tunnelAddressV4;
        tunnelAddressV6 = built.tunnelAddressV6;
        annotations = nodeCalicoAnnotations(identity);
      } catch (err) {
        nodeProblems.push({
          id: 'node.ipam',
          node: name,
          message: `cannot compute the Calico IPAM objects of node ${name}: ${(err as Error).message}`,
        });
      }
    }
    return {
      name,
      role,
      batch: -1,
      podCidrs: nodePodCidrs(node),
      identity,
      ipam,
      tunnelAddressV4,
      tunnelAddressV6,
      annotations,
      pods: classifyNodePods(podsOn.get(name) ?? [], drainCtx),
      currentState: node.metadata?.labels?.[MIGRATION_LABEL] ?? 'unlabelled',
    };
  });

  const size = batchSize(maxParallel, planned.filter((n) => n.role === 'worker').length);
  const batches = makeBatches(planned, size);
  const batchOf = new Map<string, number>();
  batches.forEach((names, i) => names.forEach((n) => batchOf.set(n, i)));
  for (const node of planned) node.batch = batchOf.get(node.name) ?? -1;

  const fp = fingerprint(snapshot);
  const preflight = runPreflight({ snapshot, detection, planned, batches, pools, nodeProblems, podsOn, drain });

  const settings: Plan['settings'] = {};
  for (const [key, setting] of Object.entries(detection.settings)) {
    settings[key] = { value: setting.value, source: setting.source, ...(setting.from ? { from: setting.from } : {}) };
  }

  return {
    apiVersion: 'flannel2calico/v1',
    kind: 'Plan',
    createdAt: now.toISOString(),
    cluster: { server: snapshot.server, context: snapshot.context, stateHash: fingerprintHash(fp), fingerprint: fp },
    flavour: detection.flavour,
    flannelDaemonSet: {
      name: detection.daemonSet?.name ?? detection.settings.flannelDaemonSetName.value,
      namespace: detection.daemonSet?.namespace ?? detection.settings.flannelDaemonSetNamespace.value,
    },
    settings,
    calico: {
      pools: pools.map((p) => p.object),
      replacePools: preflight.replacePools,
      felixConfigurationPatch: felixConfigurationPatch({
        vni: detection.settings.flannelVni.value,
        port: detection.settings.flannelPort.value,
        mtu: detection.settings.flannelMtu.value,
        ipv6: pools.some((p) => p.family === 6),
      }),
      blockSizeV4,
      ...(blockSizeV6 !== undefined ? { blockSizeV6 } : {}),
    },
    drain,
    hostCleanup: hostCleanupPlan(options.helperImage ?? DEFAULT_HELPER_IMAGE, batches[0]?.[0]),
    maxParallel: maxParallel.percent ? `${maxParallel.value}%` : String(maxParallel.value),
    nodes: planned,
    batches,
    preflight: preflight.findings,
  };
}

function hostCleanupPlan(helperImage: string, firstNode: string | undefined): Plan['hostCleanup'] {
  return {
    helperImage,
    preDrainCheck:
      `before the first drain, a Job on the first node to move (${firstNode ?? 'none planned'}) ` +
      `runs the host cleanup's command check (MODE=check, changes nothing) in ${helperImage}; a ` +
      `missing command stops the run with every node still on flannel`,
  };
}

/** True when any finding fails: migrate refuses such a plan. */
export function planFails(plan: Pick<Plan, 'preflight'>): boolean {
  return plan.preflight.some((f) => f.level === 'fail');
}
