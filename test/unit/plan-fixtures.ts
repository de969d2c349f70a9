/** Builders of plain Kubernetes objects and detections for the planner's unit tests. */
import type { KubeObject, V1DaemonSet, V1Node, V1Pod, V1PodDisruptionBudget } from '../../src/cluster/index.js';
import type { Detection, FlannelNodeInfo } from '../../src/flannel/types.js';
import type { MigrationSettings, Setting } from '../../src/flannel/settings.js';
import type { ClusterSnapshot } from '../../src/plan/types.js';

export interface NodeSpec {
  podCIDR?: string | null;
  podCIDRs?: string[];
  controlPlane?: boolean | 'master';
  ready?: boolean;
  pressure?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  unschedulable?: boolean;
  taints?: Array<{ key: string; effect: string }>;
  cpu?: string;
  memory?: string;
  internalIP?: string;
}

let ipCounter = 10;

export function node(name: string, o: NodeSpec = {}): V1Node {
  const labels: Record<string, string> = { 'kubernetes.io/hostname': name, ...(o.labels ?? {}) };
  if (o.controlPlane === 'master') labels['node-role.kubernetes.io/master'] = '';
  else if (o.controlPlane) labels['node-role.kubernetes.io/control-plane'] = '';
  const conditions = [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', reason: o.ready === false ? 'KubeletNotReady' : 'KubeletReady' }];
  for (const p of ['MemoryPressure', 'DiskPressure', 'PIDPressure']) conditions.push({ type: p, status: o.pressure?.includes(p) ? 'True' : 'False', reason: '' });
  const podCIDRs = o.podCIDRs ?? (o.podCIDR ? [o.podCIDR] : o.podCIDR === null ? [] : []);
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels, annotations: o.annotations ?? {}, resourceVersion: String(ipCounter++) },
    spec: { podCIDR: podCIDRs[0], podCIDRs: podCIDRs.length ? podCIDRs : undefined, unschedulable: o.unschedulable, taints: o.taints },
    status: {
      conditions,
      allocatable: { cpu: o.cpu ?? '4', memory: o.memory ?? '8Gi', pods: '110' },
      addresses: [{ type: 'InternalIP', address: o.internalIP ?? `192.168.0.${ipCounter++ % 250}` }, { type: 'Hostname', address: name }],
    },
  } as V1Node;
}

export interface PodSpec {
  node?: string;
  owner?: { kind: string; name: string; apiVersion?: string } | null;
  phase?: string;
  labels?: Record<string, string>;
  emptyDir?: boolean;
  mirror?: boolean;
  deletionTimestamp?: string;
  cpu?: string;
  memory?: string;
  ip?: string;
  hostNetwork?: boolean;
  args?: string[];
}

export function pod(namespace: string, name: string, o: PodSpec = {}): V1Pod {
  const owner = o.owner === undefined ? { kind: 'ReplicaSet', name: `${name.replace(/-[a-z0-9]+$/, '')}-rs` } : o.owner;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace,
      name,
      labels: o.labels ?? {},
      annotations: o.mirror ? { 'kubernetes.io/config.mirror': 'abc' } : {},
      ownerReferences: owner ? [{ apiVersion: owner.apiVersion ?? (owner.kind === 'Job' ? 'batch/v1' : 'apps/v1'), kind: owner.kind, name: owner.name, uid: 'u', controller: true }] : undefined,
      deletionTimestamp: o.deletionTimestamp as any,
      resourceVersion: String(ipCounter++),
    },
    spec: {
      nodeName: o.node ?? 'worker-1',
      hostNetwork: o.hostNetwork,
      containers: [{ name: 'main', image: 'busybox', args: o.args, resources: { requests: { ...(o.cpu ? { cpu: o.cpu } : {}), ...(o.memory ? { memory: o.memory } : {}) } } }],
      volumes: o.emptyDir ? [{ name: 'scratch', emptyDir: {} }] : [],
    },
    status: { phase: o.phase ?? 'Running', podIP: o.ip, podIPs: o.ip ? [{ ip: o.ip }] : undefined, startTime: new Date().toISOString() as any },
  } as V1Pod;
}

export function pdb(namespace: string, name: string, selector: any, disruptionsAllowed: number): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { namespace, name, resourceVersion: String(ipCounter++) },
    spec: { selector, minAvailable: 1 },
    status: { disruptionsAllowed, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 },
  } as V1PodDisruptionBudget;
}

export function daemonSet(namespace: string, name: string, nodeSelector?: Record<string, string>): V1DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { namespace, name },
    spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { nodeSelector, containers: [{ name, image: `${name}:1` }] } } },
  } as V1DaemonSet;
}

function s<T>(value: T, source: Setting<T>['source'] = 'net-conf.json'): Setting<T> {
  return { value, source };
}

export interface DetectionSpec {
  flavour?: Detection['flavour'];
  network?: string | null;
  ipv6Network?: string | null;
  subnetLen?: number;
  ipv6SubnetLen?: number;
  ipMasq?: boolean;
  vni?: number;
  port?: number;
  mtu?: number;
  checks?: Detection['checks'];
  conflicts?: string[];
}

let macCounter = 1;

/** flannel's view of a node: the VTEP MAC and public IP it wrote in the annotations. */
export function flannelInfo(n: V1Node, dual = false): FlannelNodeInfo {
  const podCidrs = n.spec?.podCIDRs ?? [];
  const hex = (macCounter++).toString(16).padStart(4, '0');
  const internal = n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  return {
    name: n.metadata!.name!,
    podCidrs,
    backendType: 'vxlan',
    vtepMacV4: `aa:bb:cc:dd:${hex.slice(0, 2)}:${hex.slice(2)}`,
    publicIpV4: internal,
    ...(dual ? { vtepMacV6: `ee:bb:cc:dd:${hex.slice(0, 2)}:${hex.slice(2)}`, publicIpV6: `fd00:198:51:100::${hex}` } : {}),
    vni: 1,
    problems: [],
  };
}

export function detection(nodes: V1Node[], o: DetectionSpec = {}): Detection {
  const flavour = o.flavour ?? 'flannel';
  const dual = Boolean(o.ipv6Network);
  const settings: MigrationSettings = {
    flannelNetwork: s(o.network === undefined ? '10.244.0.0/16' : o.network),
    flannelIpv6Network: s(o.ipv6Network ?? null, o.ipv6Network ? 'net-conf.json' : 'unset'),
    flannelDaemonSetName: s(flavour === 'canal' ? 'canal' : 'kube-flannel-ds', 'daemonset'),
    flannelDaemonSetNamespace: s(flavour === 'canal' ? 'kube-system' : 'kube-flannel', 'daemonset'),
    flannelMtu: s(o.mtu ?? 1450, 'subnet.env'),
    flannelIpMasq: s(o.ipMasq ?? true, 'daemonset-args'),
    flannelSubnetLen: s(o.subnetLen ?? 24, 'default'),
    flannelIpv6SubnetLen: s(o.ipv6SubnetLen ?? 64, 'default'),
    flannelAnnotationPrefix: s('flannel.alpha.coreos.com', 'default'),
    flannelVni: s(o.vni ?? 1, 'default'),
    flannelPort: s(o.port ?? 8472, 'default'),
    calicoDaemonSetName: s('calico-node', 'default'),
    cniConfigDir: s('/etc/cni/net.d', 'default'),
  };
  return {
    flavour,
    daemonSet: { name: settings.flannelDaemonSetName.value, namespace: settings.flannelDaemonSetNamespace.value, container: 'kube-flannel' },
    configMap: { name: flavour === 'canal' ? 'canal-config' : 'kube-flannel-cfg', namespace: settings.flannelDaemonSetNamespace.value },
    backend: { type: 'vxlan', vni: 1, port: 8472 },
    settings,
    conflicts: o.conflicts ?? [],
    checks: o.checks ?? [{ id: 'backend', title: 'flannel backend', level: 'pass', message: 'vxlan' }],
    nodes: nodes.map((n) => flannelInfo(n, dual)),
    candidates: [],
    subnetEnv: { read: true },
    summary: 'flannel found',
  };
}

export function snapshot(o: {
  nodes: V1Node[];
  pods?: V1Pod[];
  pdbs?: V1PodDisruptionBudget[];
  daemonSets?: V1DaemonSet[];
  calico?: ClusterSnapshot['calico'];
  serviceCidrs?: string[];
  kubernetesServiceIp?: string;
}): ClusterSnapshot {
  return {
    collectedAt: '2026-01-01T00:00:00Z',
    server: 'https://127.0.0.1:6443',
    context: 'test',
    annotationPrefix: 'flannel.alpha.coreos.com',
    nodes: o.nodes,
    pods: o.pods ?? [],
    pdbs: o.pdbs ?? [],
    daemonSets: o.daemonSets ?? [daemonSet('kube-flannel', 'kube-flannel-ds')],
    kubernetesService: o.kubernetesServiceIp ? { metadata: { name: 'kubernetes', namespace: 'default' }, spec: { clusterIP: o.kubernetesServiceIp, clusterIPs: [o.kubernetesServiceIp] } } : undefined,
    serviceCidrs: o.serviceCidrs ? [{ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'kubernetes' }, spec: { cidrs: o.serviceCidrs } } as KubeObject] : undefined,
    flannel: {
      daemonSet: daemonSet('kube-flannel', 'kube-flannel-ds'),
      configMap: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-flannel-cfg', namespace: 'kube-flannel' }, data: { 'net-conf.json': '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}' } },
    },
    calico: o.calico ?? {},
  };
}

/** Three workers and one control-plane node with /24 podCIDRs from 10.244.0.0/16. */
export function smallCluster(): V1Node[] {
  return [
    node('cp-1', { podCIDR: '10.244.0.0/24', controlPlane: true, taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] }),
    node('worker-1', { podCIDR: '10.244.1.0/24' }),
    node('worker-2', { podCIDR: '10.244.2.0/24' }),
    node('worker-3', { podCIDR: '10.244.3.0/24' }),
  ];
}

/** A seeded pseudo-random generator (mulberry32), so property tests are reproducible. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
