/**
 * Preflight findings: everything that would stop or slow the migration, found before any change.
 * Each finding is pass, warn (shown, accepted) or fail (migrate refuses the plan), with a fix.
 */
import { RangeIndex, canonicalIpOrUndefined, cidrsOverlap, familyOf, ordinalIn, parseCidr } from '../net/cidr.js';
import type { KubeObject, V1Node, V1Pod } from '../cluster/index.js';
import { formatDuration } from '../duration.js';
import { isNodeReady, readyCondition } from '../k8s.js';
import { MIGRATION_LABEL } from '../names.js';
import type { Detection } from '../flannel/types.js';
import { controllerRef, isFinished, type ClassifiedPod } from './drain-filters.js';
import {
  formatCpu,
  formatMemory,
  nodeAllocatable,
  podRequests,
  sumResources,
  ZERO,
  type Resources,
} from './resources.js';
import type { ClusterSnapshot, Finding, PdbRef, PlannedNode, Plan } from './types.js';

export interface PoolPlan {
  family: 4 | 6;
  cidr: string;
  blockSize: number;
  natOutgoing: boolean;
  object: KubeObject;
}

/** A problem found while building a node's part of the plan. */
export interface NodeProblem {
  id: string;
  node: string;
  message: string;
  fix?: string;
}

export interface PreflightInput {
  snapshot: ClusterSnapshot;
  detection: Detection;
  planned: PlannedNode[];
  batches: string[][];
  pools: PoolPlan[];
  nodeProblems: NodeProblem[];
  podsOn: Map<string, V1Pod[]>;
  drain: Plan['drain'];
}

export interface PreflightResult {
  findings: Finding[];
  /** Existing pools to delete and recreate (Canal's non-VXLAN default pool). */
  replacePools: string[];
}

const PRESSURE_CONDITIONS = ['MemoryPressure', 'DiskPressure', 'PIDPressure'];
const MAX_NAMED = 10;

/** "a, b, c and 4 more" */
export function nameList(names: readonly string[], max = MAX_NAMED): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

function canonicalCidr(cidr: string | undefined): string | undefined {
  if (!cidr) return undefined;
  try {
    const p = parseCidr(cidr);
    return `${p.network}/${p.prefix}`;
  } catch {
    return cidr;
  }
}

function sameFamily(a: string, b: string): boolean {
  try {
    return familyOf(a) === familyOf(b);
  } catch {
    return false;
  }
}

function overlaps(a: string, b: string): boolean {
  try {
    return sameFamily(a, b) && cidrsOverlap(a, b);
  } catch {
    return false;
  }
}

function podKey(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`;
}

// ---------------------------------------------------------------------------------------------

function detectionFindings(detection: Detection): Finding[] {
  const out: Finding[] = detection.checks.map((c) => ({
    id: `detect.${c.id}`,
    level: c.level,
    message: `${c.title}: ${c.message}`,
    ...(c.fix ? { fix: c.fix } : {}),
  }));
  return out;
}

function singleNodeFindings(snapshot: ClusterSnapshot): Finding[] {
  if (snapshot.nodes.length === 1) {
    const name = snapshot.nodes[0].metadata?.name;
    return [
      {
        id: 'cluster.single-node',
        level: 'fail',
        message:
          `the cluster has a single node (${name}): its pods have nowhere to go while it is ` +
          `drained, and every pod loses its network while the node switches from flannel to Calico`,
        fix:
          'Join a second node first so workloads can move while this one migrates; on a single-node ' +
          'cluster install Calico fresh in a maintenance window instead.',
      },
    ];
  }
  return [{ id: 'cluster.single-node', level: 'pass', message: `the cluster has ${snapshot.nodes.length} nodes` }];
}

function nodeFindings(input: PreflightInput): Finding[] {
  const out: Finding[] = [];
  const byName = new Map(input.snapshot.nodes.map((n) => [n.metadata?.name ?? '', n]));
  for (const planned of input.planned) {
    const node = byName.get(planned.name);
    if (!node) continue;
    const ready = readyCondition(node);
    if (ready?.status !== 'True') {
      out.push({
        id: 'node.not-ready',
        level: 'fail',
        node: planned.name,
        message: `node ${planned.name} is NotReady${ready?.reason ? ` (${ready.reason}${ready.message ? `: ${ready.message}` : ''})` : ready ? '' : ' (no Ready condition)'}`,
        fix: `Bring it back to Ready first (kubectl describe node ${planned.name}), or leave it out with --nodes.`,
      });
    }
    const pressures = (node.status?.conditions ?? [])
      .filter((c) => PRESSURE_CONDITIONS.includes(c.type) && c.status === 'True')
      .map((c) => c.type);
    if (pressures.length) {
      out.push({
        id: 'node.pressure',
        level: 'fail',
        node: planned.name,
        message:
          `node ${planned.name} reports ${pressures.join(', ')}: the kubelet may evict pods on its ` +
          `own while it migrates, and rescheduled pods may not start`,
        fix: `Relieve the pressure first (free disk, memory or PIDs on ${planned.name}), or leave it out with --nodes.`,
      });
    }
  }
  for (const p of input.nodeProblems)
    out.push({ id: p.id, level: 'fail', node: p.node, message: p.message, ...(p.fix ? { fix: p.fix } : {}) });
  if (!out.some((f) => f.level === 'fail')) {
    out.unshift({
      id: 'node.health',
      level: 'pass',
      message:
        `all ${plural(input.planned.length, 'planned node')} are Ready, without pressure, with a ` +
        `podCIDR and a flannel VTEP`,
    });
  }
  return out;
}

interface PdbUse {
  pdb: PdbRef;
  pods: string[];
  nodes: Set<string>;
}

/** The pods kubectl drain refuses to delete without a flag, as preflight findings (kubectl's wording in brackets). */
const DRAIN_REFUSALS = [
  {
    filter: 'unreplicated',
    id: 'drain.unreplicated',
    what: 'without a controller',
    kind: ' (Pods that declare no controller)',
    fix:
      'Rerun with --force to delete them (they are not recreated anywhere), or move them under ' +
      'a Deployment/StatefulSet first.',
  },
  {
    filter: 'local-storage',
    id: 'drain.emptydir',
    what: 'with emptyDir volumes',
    kind: ' (Pods with local storage)',
    fix: 'Rerun with --delete-emptydir-data (the data in their emptyDir volumes is lost when they move).',
  },
  {
    filter: 'daemonset',
    id: 'drain.orphaned-daemonset-pods',
    what: 'whose DaemonSet no longer exists',
    kind: '',
    fix: 'Rerun with --force to delete them, or delete them yourself (kubectl delete pod).',
  },
];

function drainFindings(input: PreflightInput): Finding[] {
  const out: Finding[] = [];
  const timeout = formatDuration(input.drain.timeoutSeconds);
  const forced: string[] = [];
  const forcedNodes = new Set<string>();
  const wiped: string[] = [];
  for (const node of input.planned) {
    const pods = node.pods as ClassifiedPod[];
    const refused = (filter: string) => pods.filter((p) => p.action === 'refuse' && p.filter === filter).map(podKey);
    for (const refusal of DRAIN_REFUSALS) {
      const refusedPods = refused(refusal.filter);
      if (refusedPods.length)
        out.push({
          id: refusal.id,
          level: 'fail',
          node: node.name,
          message:
            `node ${node.name}: ${plural(refusedPods.length, 'pod')} ${refusal.what} would stop the ` +
            `drain${refusal.kind}: ${nameList(refusedPods)}`,
          fix: refusal.fix,
        });
    }
    const forcedHere = pods.filter((p) => p.action === 'evict' && p.filter === 'unreplicated').map(podKey);
    if (forcedHere.length) forcedNodes.add(node.name);
    forced.push(...forcedHere);
    wiped.push(
      ...pods
        .filter((p) => p.action === 'evict' && p.warnings.includes('deleting Pods with local storage'))
        .map(podKey),
    );
  }
  if (forced.length) {
    out.push({
      id: 'drain.unreplicated',
      level: 'warn',
      message:
        `--force deletes ${plural(forced.length, 'pod')} without a controller on ` +
        `${plural(forcedNodes.size, 'node')}, and nothing recreates them: ${nameList(forced)}`,
      fix: 'Recreate them yourself after their node has migrated if you still need them.',
    });
  }
  if (wiped.length) {
    out.push({
      id: 'drain.emptydir',
      level: 'warn',
      message: `--delete-emptydir-data drops the emptyDir data of ${plural(wiped.length, 'pod')}: ${nameList(wiped)}`,
    });
  }
  const refusals = out.filter((f) => f.level === 'fail').length;
  if (!out.length)
    out.push({
      id: 'drain.pods',
      level: 'pass',
      message: 'every pod on the planned nodes can be evicted or is skipped (DaemonSet, mirror pods)',
    });
  else if (!refusals) out.unshift({ id: 'drain.pods', level: 'pass', message: 'no pod stops the drain' });

  // PodDisruptionBudgets: per batch, how many covered pods go at once versus what each budget allows.
  const nodeByName = new Map(input.planned.map((n) => [n.name, n]));
  const zero = new Map<string, PdbUse>();
  const multiple: string[] = [];
  const short = new Map<string, { pdb: PdbRef; most: number; batches: number[] }>();
  for (const [index, batch] of input.batches.entries()) {
    const perBatch = new Map<string, PdbUse>();
    for (const name of batch) {
      for (const pod of nodeByName.get(name)?.pods ?? []) {
        if (pod.action !== 'evict' || pod.blockingPdbs.length === 0) continue;
        if (pod.blockingPdbs.length > 1)
          multiple.push(`${podKey(pod)} (${pod.blockingPdbs.map((b) => b.name).join(', ')})`);
        for (const pdb of pod.blockingPdbs) {
          const key = podKey(pdb);
          const target = pdb.disruptionsAllowed <= 0 ? zero : perBatch;
          let use = target.get(key);
          if (!use) target.set(key, (use = { pdb, pods: [], nodes: new Set() }));
          use.pods.push(podKey(pod));
          use.nodes.add(name);
        }
      }
    }
    for (const [key, use] of perBatch) {
      if (use.pods.length <= use.pdb.disruptionsAllowed) continue;
      const entry = short.get(key) ?? { pdb: use.pdb, most: 0, batches: [] };
      entry.most = Math.max(entry.most, use.pods.length);
      entry.batches.push(index + 1);
      short.set(key, entry);
    }
  }
  if (short.size) {
    const list = [...short.values()]
      .sort((a, b) => (podKey(a.pdb) < podKey(b.pdb) ? -1 : 1))
      .map(
        (s) =>
          `${podKey(s.pdb)} (allows ${s.pdb.disruptionsAllowed}, up to ${s.most} at once in batch${s.batches.length > 1 ? 'es' : ''} ` +
          `${nameList(s.batches.map(String), 5)})`,
      );
    out.push({
      id: 'drain.pdb-wait',
      level: 'warn',
      message:
        `${plural(short.size, 'PodDisruptionBudget')} allow${short.size === 1 ? 's' : ''} fewer ` +
        `disruptions now than a batch evicts: the drain waits for replacements to become ready: ${nameList(list)}`,
      fix: 'Nothing to do if the workloads recover quickly; otherwise lower --max-parallel or add replicas.',
    });
  }
  for (const use of [...zero.values()].sort((a, b) => (podKey(a.pdb) < podKey(b.pdb) ? -1 : 1))) {
    out.push({
      id: 'drain.pdb-blocked',
      level: 'warn',
      message:
        `PodDisruptionBudget ${podKey(use.pdb)} allows 0 disruptions now: the drain of ${[...use.nodes].join(', ')} ` +
        `will wait (up to --drain-timeout ${timeout}) to evict ${nameList(use.pods)}`,
      fix:
        `Add replicas or relax the budget (kubectl -n ${use.pdb.namespace} edit pdb ` +
        `${use.pdb.name}) before migrating; if it never allows a disruption the migration stops ` +
        `at that node (exit 4) and resumes when rerun.`,
    });
  }
  if (multiple.length) {
    out.push({
      id: 'drain.multiple-pdbs',
      level: 'fail',
      message:
        `${plural(multiple.length, 'pod')} ${multiple.length === 1 ? 'is' : 'are'} covered by ` +
        `more than one PodDisruptionBudget, which the Eviction API refuses (HTTP 500): ${nameList(multiple)}`,
      fix: "Make the budgets' selectors disjoint so each pod has at most one.",
    });
  }
  if (!zero.size && !multiple.length && !out.some((f) => f.id === 'drain.pdb-wait')) {
    out.push({
      id: 'drain.pdb',
      level: 'pass',
      message:
        `no PodDisruptionBudget blocks the evictions now (${plural(input.snapshot.pdbs.length, 'budget')} ` +
        `in the cluster)`,
    });
  }
  return out;
}

function hasBlockingTaint(node: V1Node): boolean {
  return (node.spec?.taints ?? []).some(
    (t) => (t.effect === 'NoSchedule' || t.effect === 'NoExecute') && t.key !== 'node.kubernetes.io/unschedulable',
  );
}

/** Whether pods evicted elsewhere could be scheduled here (ignoring tolerations and affinities). */
function isSchedulingTarget(node: V1Node): boolean {
  return !node.spec?.unschedulable && isNodeReady(node) && !hasBlockingTaint(node);
}

function capacityFindings(input: PreflightInput): Finding[] {
  const free = new Map<string, Resources>();
  let total = ZERO;
  for (const node of input.snapshot.nodes) {
    if (!isSchedulingTarget(node)) continue;
    const name = node.metadata?.name ?? '';
    const used = sumResources((input.podsOn.get(name) ?? []).filter((p) => !isFinished(p)).map(podRequests));
    const alloc = nodeAllocatable(node);
    const f = { cpu: Math.max(0, alloc.cpu - used.cpu), memory: Math.max(0, alloc.memory - used.memory) };
    free.set(name, f);
    total = { cpu: total.cpu + f.cpu, memory: total.memory + f.memory };
  }
  const plannedByName = new Map(input.planned.map((n) => [n.name, n]));
  const out: Finding[] = [];
  for (const [index, batch] of input.batches.entries()) {
    let demand = ZERO;
    let supply = total;
    for (const name of batch) {
      const f = free.get(name);
      if (f) supply = { cpu: supply.cpu - f.cpu, memory: supply.memory - f.memory };
      const pods = input.podsOn.get(name) ?? [];
      const byKey = new Map(pods.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p]));
      for (const d of plannedByName.get(name)?.pods ?? []) {
        const pod = byKey.get(podKey(d));
        if (!pod || d.action !== 'evict' || isFinished(pod)) continue;
        const owner = controllerRef(pod);
        if (!owner || owner.kind === 'DaemonSet') continue; // not recreated elsewhere
        const r = podRequests(pod);
        demand = { cpu: demand.cpu + r.cpu, memory: demand.memory + r.memory };
      }
    }
    if (demand.cpu > supply.cpu + 1e-9 || demand.memory > supply.memory) {
      const short = [demand.cpu > supply.cpu + 1e-9 ? 'CPU' : '', demand.memory > supply.memory ? 'memory' : '']
        .filter(Boolean)
        .join(' and ');
      out.push({
        id: 'capacity.spare',
        level: 'warn',
        message:
          `batch ${index + 1} (${nameList(batch)}): the evicted pods request ${formatCpu(demand.cpu)} ` +
          `CPU / ${formatMemory(demand.memory)} but the other schedulable nodes have ${formatCpu(Math.max(0, supply.cpu))} ` +
          `CPU / ${formatMemory(Math.max(0, supply.memory))} unrequested: not enough ${short}; some ` +
          `pods may stay Pending until the batch is back`,
        fix: 'Lower --max-parallel, add a node, or scale workloads down for the migration.',
      });
    }
  }
  if (!out.length)
    out.push({
      id: 'capacity.spare',
      level: 'pass',
      message: 'the other schedulable nodes have room for the pods evicted from every batch (by resource requests)',
    });
  return out;
}

/** The service network, from the best source visible. */
export function serviceNetwork(snapshot: ClusterSnapshot): { cidrs: string[]; ips: string[]; sources: string[] } {
  const cidrs = new Set<string>();
  const sources: string[] = [];
  for (const sc of snapshot.serviceCidrs ?? []) {
    const list: string[] = sc.spec?.cidrs ?? [];
    if (list.length) {
      list.forEach((c) => cidrs.add(c));
      sources.push(`ServiceCIDR ${sc.metadata?.name}`);
    }
  }
  for (const pod of snapshot.pods) {
    if (pod.metadata?.namespace !== 'kube-system') continue;
    const isApiserver =
      pod.metadata?.labels?.component === 'kube-apiserver' || (pod.metadata?.name ?? '').startsWith('kube-apiserver');
    if (!isApiserver) continue;
    for (const c of pod.spec?.containers ?? []) {
      const args = [...(c.command ?? []), ...(c.args ?? [])];
      for (let i = 0; i < args.length; i++) {
        const m = /^--service-cluster-ip-range(?:=(.*))?$/.exec(args[i]);
        if (!m) continue;
        const value = m[1] ?? args[i + 1] ?? '';
        const list = value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        if (list.length) {
          list.forEach((cidr) => cidrs.add(cidr));
          sources.push(`kube-apiserver pod kube-system/${pod.metadata?.name} --service-cluster-ip-range`);
        }
      }
    }
  }
  const svc = snapshot.kubernetesService;
  const ips = (
    svc?.spec?.clusterIPs?.length ? svc.spec.clusterIPs : svc?.spec?.clusterIP ? [svc.spec.clusterIP] : []
  ).filter((ip) => ip && ip !== 'None');
  if (!cidrs.size && ips.length) sources.push('the kubernetes Service ClusterIP');
  return { cidrs: [...cidrs], ips, sources };
}

function cidrFindings(input: PreflightInput): Finding[] {
  const out: Finding[] = [];
  const pools = input.pools;
  if (!pools.length) return out;
  const service = serviceNetwork(input.snapshot);
  for (const pool of pools) {
    for (const cidr of service.cidrs) {
      if (overlaps(pool.cidr, cidr)) {
        out.push({
          id: 'cidr.service-overlap',
          level: 'fail',
          message: `the pod network ${pool.cidr} overlaps the service network ${cidr} (${service.sources.join('; ')})`,
          fix:
            "The pod and service networks must be disjoint; fix the cluster's addressing before " +
            'migrating (the flannel network and --service-cluster-ip-range).',
        });
      }
    }
    if (!service.cidrs.length) {
      for (const ip of service.ips) {
        if (overlaps(pool.cidr, ip)) {
          out.push({
            id: 'cidr.service-overlap',
            level: 'fail',
            message: `the kubernetes Service address ${ip} lies inside the pod network ${pool.cidr}`,
            fix: "The pod and service networks must be disjoint; fix the cluster's addressing before migrating.",
          });
        }
      }
    }
  }
  if (!service.cidrs.length && !service.ips.length) {
    out.push({
      id: 'cidr.service-overlap',
      level: 'warn',
      message:
        'the service network could not be checked against the pod network: no ServiceCIDR ' +
        'objects, no visible kube-apiserver --service-cluster-ip-range, no kubernetes Service ' +
        'ClusterIP',
      fix: 'Check by hand that --service-cluster-ip-range does not overlap the flannel network.',
    });
  } else if (!out.length) {
    out.push({
      id: 'cidr.service-overlap',
      level: 'pass',
      message: service.cidrs.length
        ? `the service network ${service.cidrs.join(', ')} does not overlap the pod network (from ` +
          `${service.sources.join('; ')})`
        : `the kubernetes Service address ${service.ips.join(', ')} is outside the pod network (the ` +
          `service range itself is not visible)`,
    });
  }
  const nodeHits: string[] = [];
  for (const node of input.snapshot.nodes) {
    for (const addr of node.status?.addresses ?? []) {
      if (addr.type !== 'InternalIP') continue;
      const hit = pools.find((p) => overlaps(p.cidr, addr.address));
      if (hit) nodeHits.push(`${node.metadata?.name} ${addr.address} (in ${hit.cidr})`);
    }
  }
  if (nodeHits.length) {
    out.push({
      id: 'cidr.node-overlap',
      level: 'fail',
      message: `node InternalIP addresses lie inside the pod network: ${nameList(nodeHits)}`,
      fix: 'The pod network must not contain node addresses; Calico would route them into the overlay.',
    });
  } else {
    out.push({ id: 'cidr.node-overlap', level: 'pass', message: 'no node InternalIP lies inside the pod network' });
  }
  return out;
}

function describePool(spec: any): string {
  return (
    `cidr ${spec?.cidr}, blockSize ${spec?.blockSize ?? 'default'}, natOutgoing ` +
    `${Boolean(spec?.natOutgoing)}, vxlanMode ${spec?.vxlanMode ?? 'Never'}`
  );
}

function calicoFindings(input: PreflightInput, replacePools: string[]): Finding[] {
  const out: Finding[] = [];
  const { snapshot, detection } = input;
  const existing = snapshot.calico.ipPools;
  const servedKinds = Object.entries(snapshot.calico).filter(([, v]) => v !== undefined).length;
  if (!servedKinds) {
    out.push({ id: 'calico.crds', level: 'pass', message: 'no Calico CRDs installed yet: migrate installs them' });
  }
  if (!input.pools.length) {
    out.push({
      id: 'calico.pool',
      level: 'fail',
      message: 'the flannel network is unknown, so no Calico IP pool can be planned',
      fix: 'Give it with --flannel-network (and --flannel-ipv6-network) or FLANNEL_NETWORK.',
    });
  }
  for (const pool of input.pools) {
    const name = pool.object.metadata?.name ?? '';
    const wanted = {
      cidr: canonicalCidr(pool.cidr),
      blockSize: pool.blockSize,
      natOutgoing: pool.natOutgoing,
      vxlanMode: 'Always',
    };
    const same = existing?.find((p) => p.metadata?.name === name);
    if (same) {
      const spec = same.spec ?? {};
      const defaultBlock = pool.family === 4 ? 26 : 122;
      const matches =
        canonicalCidr(spec.cidr) === wanted.cidr &&
        (spec.blockSize ?? defaultBlock) === wanted.blockSize &&
        Boolean(spec.natOutgoing) === wanted.natOutgoing &&
        spec.vxlanMode === 'Always';
      if (matches) {
        out.push({
          id: 'calico.pool',
          level: 'pass',
          message: `IPPool ${name} already exists as planned (${describePool(spec)})`,
        });
      } else if (detection.flavour === 'canal' && spec.vxlanMode !== 'Always') {
        replacePools.push(name);
        out.push({
          id: 'calico.pool',
          level: 'warn',
          message:
            `IPPool ${name} is Canal's default pool (${describePool(spec)}); migrate deletes it and ` +
            `creates it with ${describePool(pool.object.spec)}, as Calico's migration controller does`,
        });
      } else {
        out.push({
          id: 'calico.pool',
          level: 'fail',
          message:
            `IPPool ${name} already exists and differs from the plan: current ` +
            `[${describePool(spec)}], planned [${describePool(pool.object.spec)}]`,
          fix:
            `Delete it if nothing uses it (kubectl delete ippools.crd.projectcalico.org ${name}), or ` +
            `make the flannel settings match it (--flannel-network, --flannel-subnet-len, ` +
            `--flannel-ip-masq).`,
        });
      }
    } else {
      out.push({
        id: 'calico.pool',
        level: 'pass',
        message: `IPPool ${name} (${describePool(pool.object.spec)}) will be created`,
      });
    }
    for (const other of existing ?? []) {
      const otherName = other.metadata?.name ?? '';
      if (
        otherName === name ||
        replacePools.includes(otherName) ||
        input.pools.some((p) => p.object.metadata?.name === otherName)
      )
        continue;
      if (!other.spec?.cidr || !sameFamily(other.spec.cidr, pool.cidr)) continue;
      if (overlaps(other.spec.cidr, pool.cidr)) {
        out.push({
          id: 'calico.pool-overlap',
          level: 'fail',
          message: `IPPool ${otherName} (${other.spec.cidr}) overlaps the flannel network ${pool.cidr}`,
          fix:
            `Delete it (kubectl delete ippools.crd.projectcalico.org ${otherName}) if nothing uses ` +
            `it; Calico IPAM must own the flannel network through ${name} alone.`,
        });
      } else if (!other.spec?.disabled) {
        out.push({
          id: 'calico.pool-extra',
          level: 'warn',
          message:
            `IPPool ${otherName} (${other.spec.cidr}) is enabled: Calico may give pods addresses from ` +
            `it, which nodes still on flannel cannot reach`,
          fix:
            `Disable it for the migration (kubectl patch ippools.crd.projectcalico.org ${otherName} ` +
            `--type merge -p '{"spec":{"disabled":true}}').`,
        });
      }
    }
  }
  const calicoName = detection.settings.calicoDaemonSetName.value;
  const calicoDs = snapshot.daemonSets.find(
    (d) => d.metadata?.namespace === 'kube-system' && d.metadata?.name === calicoName,
  );
  if (calicoDs) {
    const selector = calicoDs.spec?.template?.spec?.nodeSelector ?? {};
    if (selector[MIGRATION_LABEL] === 'calico') {
      out.push({
        id: 'calico.existing-install',
        level: 'pass',
        message: `DaemonSet kube-system/${calicoName} exists and runs only on nodes labelled ${MIGRATION_LABEL}=calico`,
      });
    } else {
      out.push({
        id: 'calico.existing-install',
        level: 'fail',
        message:
          `DaemonSet kube-system/${calicoName} already exists and is not restricted to migrated ` +
          `nodes (nodeSelector ${MIGRATION_LABEL}=calico): it would take over nodes still on ` +
          `flannel`,
        fix: `Delete it, or apply Calico's flannel-migration manifest, which adds that nodeSelector.`,
      });
    }
  }
  return out;
}

function handleOf(
  block: KubeObject,
  ordinal: bigint,
): { handle?: string; secondary?: Record<string, string> } | undefined {
  const allocations: Array<number | null> = block.spec?.allocations ?? [];
  if (ordinal < 0n || ordinal >= BigInt(allocations.length)) return undefined;
  const index = allocations[Number(ordinal)];
  if (index === null || index === undefined) return undefined;
  const attr = block.spec?.attributes?.[index] ?? {};
  return { handle: attr.handle_id, secondary: attr.secondary ?? undefined };
}

function ipamFindings(input: PreflightInput): Finding[] {
  const out: Finding[] = [];
  const blocks = new RangeIndex<KubeObject>();
  for (const b of input.snapshot.calico.ipamBlocks ?? []) if (b.spec?.cidr) blocks.add(b.spec.cidr, b);
  const affinities = new RangeIndex<KubeObject>();
  for (const a of input.snapshot.calico.blockAffinities ?? []) if (a.spec?.cidr) affinities.add(a.spec.cidr, a);
  const podsByIp = new Map<string, string[]>();
  for (const pod of input.snapshot.pods) {
    if (isFinished(pod)) continue;
    const ips = pod.status?.podIPs?.length
      ? pod.status.podIPs.map((p) => p.ip)
      : pod.status?.podIP
        ? [pod.status.podIP]
        : [];
    for (const ip of ips) {
      const key = canonicalIpOrUndefined(ip);
      if (!key) continue;
      const list = podsByIp.get(key) ?? [];
      list.push(`${pod.metadata?.namespace}/${pod.metadata?.name}${pod.spec?.hostNetwork ? ' (hostNetwork)' : ''}`);
      podsByIp.set(key, list);
    }
  }
  for (const node of input.planned) {
    const ownHandle = `vxlan-tunnel-addr-${node.name}`;
    for (const [cidr, tunnel] of [
      [node.identity.podCidrV4, node.tunnelAddressV4],
      [node.identity.podCidrV6, node.tunnelAddressV6],
    ] as const) {
      if (!cidr) continue;
      if (tunnel) {
        for (const block of blocks.overlapping(tunnel)) {
          const owner = handleOf(block, ordinalIn(block.spec.cidr, tunnel));
          if (!owner) continue;
          const ours =
            owner.handle === ownHandle ||
            (owner.secondary?.type === 'vxlanTunnelAddress' && owner.secondary?.node === node.name);
          if (!ours) {
            out.push({
              id: 'ipam.tunnel-address',
              level: 'fail',
              node: node.name,
              message:
                `node ${node.name}'s tunnel address ${tunnel} (first IP of ${cidr}, flannel's VTEP ` +
                `address) is already allocated in IPAMBlock ${block.metadata?.name} to handle ${owner.handle ?? '(none)'}`,
              fix:
                `Release that allocation (it must not be in use: calicoctl ipam release --ip=${tunnel}) ` +
                `so Calico can reuse flannel's VTEP address.`,
            });
          }
        }
        const users = podsByIp.get(canonicalIpOrUndefined(tunnel) ?? tunnel);
        if (users?.length) {
          out.push({
            id: 'ipam.tunnel-address',
            level: 'fail',
            node: node.name,
            message: `node ${node.name}'s tunnel address ${tunnel} (first IP of ${cidr}) is used by ${nameList(users)}`,
            fix: 'Move or delete that pod; the first address of the podCIDR belongs to the VXLAN device.',
          });
        }
      }
      const plannedBlocks = new Set(node.ipam.blocks.map((b) => b.metadata?.name));
      for (const block of blocks.overlapping(cidr)) {
        const affinity: string | undefined = block.spec?.affinity ?? undefined;
        if (affinity && affinity !== `host:${node.name}`) {
          out.push({
            id: 'ipam.block-affinity',
            level: 'fail',
            node: node.name,
            message:
              `IPAMBlock ${block.metadata?.name} (${block.spec.cidr}) inside node ${node.name}'s ` +
              `podCIDR ${cidr} is affine to ${affinity.replace(/^host:/, 'node ')}`,
            fix:
              'Remove the stale block and its affinity if that node no longer uses it (calicoctl ipam ' +
              'check); podCIDRs and Calico blocks must agree.',
          });
        } else if (!plannedBlocks.has(block.metadata?.name)) {
          out.push({
            id: 'ipam.block-affinity',
            level: 'fail',
            node: node.name,
            message:
              `IPAMBlock ${block.metadata?.name} (${block.spec.cidr}) overlaps node ${node.name}'s ` +
              `podCIDR ${cidr} but is not one of the planned /${node.ipam.blocks[0]?.spec?.cidr?.split('/')[1] ?? '?'} ` +
              `blocks`,
            fix:
              'Remove the stray block (it was made with another block size) or plan with the matching ' +
              '--flannel-subnet-len.',
          });
        }
      }
      for (const aff of affinities.overlapping(cidr)) {
        const deleted = aff.spec?.deleted === true || aff.spec?.deleted === 'true';
        if (deleted || aff.spec?.node === node.name) continue;
        out.push({
          id: 'ipam.block-affinity',
          level: 'fail',
          node: node.name,
          message:
            `BlockAffinity ${aff.metadata?.name} claims ${aff.spec?.cidr} inside node ${node.name}'s ` +
            `podCIDR ${cidr} for node ${aff.spec?.node}`,
          fix:
            `Delete the stale affinity if node ${aff.spec?.node} does not use that block (kubectl ` +
            `delete blockaffinities.crd.projectcalico.org ${aff.metadata?.name}).`,
        });
      }
    }
  }
  if (!out.length) {
    out.push({
      id: 'ipam.conflicts',
      level: 'pass',
      message: 'no existing Calico block, affinity, allocation or pod uses the planned blocks or tunnel addresses',
    });
  }
  return out;
}

/** All preflight findings, in a stable order. */
export function runPreflight(input: PreflightInput): PreflightResult {
  const replacePools: string[] = [];
  const findings = [
    ...detectionFindings(input.detection),
    ...singleNodeFindings(input.snapshot),
    ...nodeFindings(input),
    ...cidrFindings(input),
    ...calicoFindings(input, replacePools),
    ...ipamFindings(input),
    ...drainFindings(input),
    ...capacityFindings(input),
  ];
  return { findings, replacePools };
}
