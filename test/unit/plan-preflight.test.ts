import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../src/cluster/index.js';
import { buildPlan, planFails } from '../../src/plan/planner.js';
import { serviceNetwork } from '../../src/plan/preflight.js';
import type { Finding, PlanOptions } from '../../src/plan/types.js';
import { daemonSet, detection, node, pdb, pod, smallCluster, snapshot, type DetectionSpec } from './plan-fixtures.js';

type SnapshotInput = Parameters<typeof snapshot>[0];

function findings(input: Partial<SnapshotInput> = {}, options: PlanOptions = {}, det: DetectionSpec = {}): Finding[] {
  const nodes = input.nodes ?? smallCluster();
  return buildPlan(snapshot({ serviceCidrs: ['10.96.0.0/12'], ...input, nodes }), detection(nodes, det), options).preflight;
}

function only(list: Finding[], id: string): Finding[] {
  return list.filter((f) => f.id === id);
}

function levels(list: Finding[], id: string): string[] {
  return only(list, id).map((f) => f.level);
}

const rs = (name: string) => ({ kind: 'ReplicaSet', name });

describe('preflight: a healthy cluster', () => {
  it('passes every check and says so', () => {
    const list = findings({ pods: [pod('default', 'web-1', { node: 'worker-1', owner: rs('web') })] });
    expect(list.filter((f) => f.level !== 'pass')).toEqual([]);
    const ids = list.map((f) => f.id);
    for (const id of ['cluster.single-node', 'node.health', 'cidr.service-overlap', 'cidr.node-overlap', 'calico.crds', 'calico.pool', 'ipam.conflicts', 'drain.pods', 'drain.pdb', 'capacity.spare']) {
      expect(ids).toContain(id);
    }
  });

  it('carries detection checks over, failing ones included', () => {
    const list = findings({}, {}, { checks: [
      { id: 'backend', title: 'flannel backend', level: 'fail', message: 'host-gw is not supported', fix: 'switch flannel to vxlan' },
      { id: 'version', title: 'flannel version', level: 'pass', message: 'v0.28.9' },
    ] });
    expect(list[0]).toEqual({ id: 'detect.backend', level: 'fail', message: 'flannel backend: host-gw is not supported', fix: 'switch flannel to vxlan' });
    expect(list[1]).toMatchObject({ id: 'detect.version', level: 'pass' });
  });
});

describe('preflight: nodes', () => {
  it('fails a single-node cluster and explains why', () => {
    const nodes = [node('solo', { podCIDR: '10.244.0.0/24' })];
    const [f] = only(findings({ nodes }), 'cluster.single-node');
    expect(f.level).toBe('fail');
    expect(f.message).toMatch(/single node \(solo\).*nowhere to go/);
    expect(f.fix).toBeTruthy();
  });

  it('fails NotReady and pressured nodes, naming the node', () => {
    const nodes = smallCluster();
    nodes[1] = node('worker-1', { podCIDR: '10.244.1.0/24', ready: false });
    nodes[2] = node('worker-2', { podCIDR: '10.244.2.0/24', pressure: ['DiskPressure', 'PIDPressure'] });
    const list = findings({ nodes });
    expect(only(list, 'node.not-ready')).toEqual([expect.objectContaining({ level: 'fail', node: 'worker-1', message: expect.stringContaining('NotReady (KubeletNotReady)') })]);
    expect(only(list, 'node.pressure')).toEqual([expect.objectContaining({ level: 'fail', node: 'worker-2', message: expect.stringContaining('DiskPressure, PIDPressure') })]);
    expect(only(list, 'node.health')).toEqual([]);
  });

  it('checks only the planned nodes (--nodes)', () => {
    const nodes = smallCluster();
    nodes[1] = node('worker-1', { podCIDR: '10.244.1.0/24', ready: false });
    expect(levels(findings({ nodes }, { nodes: ['worker-2'] }), 'node.not-ready')).toEqual([]);
  });

  it('fails a node without podCIDR, outside the network, or smaller than a block', () => {
    const nodes = [
      node('a', { podCIDR: '10.244.1.0/24' }),
      node('no-cidr', { podCIDR: null }),
      node('outside', { podCIDR: '10.99.1.0/24' }),
      node('tiny', { podCIDR: '10.244.2.0/28' }),
    ];
    const list = findings({ nodes });
    expect(only(list, 'node.pod-cidr')).toEqual([expect.objectContaining({ level: 'fail', node: 'no-cidr' })]);
    expect(only(list, 'node.pod-cidr-outside-network')).toEqual([expect.objectContaining({ level: 'fail', node: 'outside' })]);
    expect(only(list, 'node.pod-cidr-smaller-than-block')).toEqual([expect.objectContaining({ level: 'fail', node: 'tiny' })]);
    const plan = buildPlan(snapshot({ nodes }), detection(nodes));
    expect(plan.nodes.find((n) => n.name === 'no-cidr')!.ipam.blocks).toEqual([]);
  });

  it('fails a node whose flannel VTEP MAC or public IP is unknown', () => {
    const nodes = smallCluster();
    const det = detection(nodes);
    delete det.nodes[1].vtepMacV4;
    det.nodes[2].publicIpV4 = undefined;
    const plan = buildPlan(snapshot({ nodes }), det);
    const vtep = only(plan.preflight, 'node.vtep');
    expect(vtep.map((f) => [f.node, f.level])).toEqual([['worker-1', 'fail'], ['worker-2', 'fail']]);
    expect(vtep[0].message).toMatch(/VTEP MAC/);
    expect(vtep[1].message).toMatch(/public IP/);
  });

  it('fails a podCIDR that holds more blocks than Calico claims at once', () => {
    const nodes = [node('a', { podCIDR: '10.0.0.0/12' }), node('b', { podCIDR: '10.16.0.0/12' })];
    const list = findings({ nodes }, {}, { network: '10.0.0.0/8', subnetLen: 12 });
    expect(levels(list, 'node.ipam')).toEqual(['fail', 'fail']);
  });
});

describe('preflight: drain blockers', () => {
  it('fails unreplicated pods unless --force, then warns they are gone for good', () => {
    const pods = [pod('default', 'lonely', { node: 'worker-2', owner: null })];
    const strict = findings({ pods });
    expect(only(strict, 'drain.unreplicated')).toEqual([expect.objectContaining({ level: 'fail', node: 'worker-2', message: expect.stringContaining('default/lonely'), fix: expect.stringContaining('--force') })]);
    expect(levels(findings({ pods }, { force: true }), 'drain.unreplicated')).toEqual(['warn']);
  });

  it('fails emptyDir pods unless --delete-emptydir-data, then warns the data is dropped', () => {
    const pods = [pod('default', 'cache-1', { node: 'worker-1', emptyDir: true })];
    expect(only(findings({ pods }), 'drain.emptydir')).toEqual([expect.objectContaining({ level: 'fail', fix: expect.stringContaining('--delete-emptydir-data') })]);
    expect(levels(findings({ pods }, { deleteEmptyDirData: true }), 'drain.emptydir')).toEqual(['warn']);
  });

  it('fails pods of a deleted DaemonSet unless --force', () => {
    const pods = [pod('default', 'orphan-x', { node: 'worker-1', owner: { kind: 'DaemonSet', name: 'deleted' } })];
    expect(levels(findings({ pods }), 'drain.orphaned-daemonset-pods')).toEqual(['fail']);
    expect(levels(findings({ pods }, { force: true }), 'drain.orphaned-daemonset-pods')).toEqual([]);
  });

  it('ignores blockers on nodes outside the plan', () => {
    const pods = [pod('default', 'lonely', { node: 'worker-2', owner: null })];
    expect(levels(findings({ pods }, { nodes: ['worker-1'] }), 'drain.unreplicated')).toEqual([]);
  });

  it('warns about PDBs at 0 disruptions, naming them, the nodes and the pods', () => {
    const pods = [
      pod('shop', 'db-0', { node: 'worker-1', owner: { kind: 'StatefulSet', name: 'db' }, labels: { app: 'db' } }),
      pod('shop', 'db-1', { node: 'worker-3', owner: { kind: 'StatefulSet', name: 'db' }, labels: { app: 'db' } }),
    ];
    const list = findings({ pods, pdbs: [pdb('shop', 'db', { matchLabels: { app: 'db' } }, 0)] }, { drainTimeoutSeconds: 300 });
    const [f] = only(list, 'drain.pdb-blocked');
    expect(f.level).toBe('warn');
    expect(f.message).toContain('PodDisruptionBudget shop/db allows 0 disruptions');
    expect(f.message).toContain('worker-1, worker-3');
    expect(f.message).toContain('shop/db-0');
    expect(f.message).toContain('5m');
    expect(f.fix).toContain('kubectl -n shop edit pdb db');
    expect(planFails({ preflight: list })).toBe(false);
  });

  it('warns when a batch evicts more of a budget\'s pods than it allows now', () => {
    const pods = ['worker-1', 'worker-2'].map((n, i) => pod('default', `web-${i}`, { node: n, labels: { app: 'web' } }));
    const pdbs = [pdb('default', 'web', { matchLabels: { app: 'web' } }, 1)];
    const [wait] = only(findings({ pods, pdbs }, { maxParallel: '2' }), 'drain.pdb-wait');
    expect(wait.level).toBe('warn');
    expect(wait.message).toContain('default/web (allows 1, up to 2 at once in batch 1)');
    expect(levels(findings({ pods, pdbs }, { maxParallel: '1' }), 'drain.pdb-wait')).toEqual([]);
  });

  it('fails pods covered by two PDBs: the Eviction API refuses them', () => {
    const pods = [pod('default', 'web-1', { node: 'worker-1', labels: { app: 'web', tier: 'fe' } })];
    const pdbs = [pdb('default', 'by-app', { matchLabels: { app: 'web' } }, 1), pdb('default', 'by-tier', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['fe'] }] }, 1)];
    const [f] = only(findings({ pods, pdbs }), 'drain.multiple-pdbs');
    expect(f.level).toBe('fail');
    expect(f.message).toContain('default/web-1 (by-app, by-tier)');
  });
});

describe('preflight: capacity', () => {
  const heavy = (n: string, i: number) => pod('default', `big-${n}-${i}`, { node: n, cpu: '1500m', memory: '1Gi' });

  it('passes when the other schedulable nodes can take a drained node\'s pods', () => {
    const pods = [heavy('worker-1', 0), heavy('worker-1', 1)];
    expect(levels(findings({ pods }), 'capacity.spare')).toEqual(['pass']);
  });

  it('warns when they cannot (the tainted control plane does not count)', () => {
    // each worker: 4 CPU allocatable, 3 CPU requested -> 1 CPU free; a drained worker needs 3
    const pods = ['worker-1', 'worker-2', 'worker-3'].flatMap((n) => [heavy(n, 0), heavy(n, 1)]);
    const [f] = only(findings({ pods }), 'capacity.spare');
    expect(f.level).toBe('warn');
    expect(f.message).toContain('batch 1 (worker-1)');
    expect(f.message).toContain('request 3 CPU');
    expect(f.message).toContain('2 CPU');
    expect(f.message).toContain('not enough CPU');
  });

  it('counts only pods that come back elsewhere: not DaemonSet, unreplicated or finished pods', () => {
    const pods = [
      pod('default', 'ds-x', { node: 'worker-1', owner: { kind: 'DaemonSet', name: 'node-exporter' }, cpu: '100' }),
      pod('default', 'done', { node: 'worker-1', phase: 'Succeeded', cpu: '100' }),
      pod('default', 'lonely', { node: 'worker-1', owner: null, cpu: '100' }),
    ];
    const list = findings({ pods, daemonSets: [daemonSet('default', 'node-exporter')] }, { force: true });
    expect(levels(list, 'capacity.spare')).toEqual(['pass']);
  });

  it('sums a whole batch against the nodes outside it', () => {
    const pods = ['worker-1', 'worker-2'].map((n) => pod('default', `mid-${n}`, { node: n, cpu: '2500m' }));
    expect(levels(findings({ pods }, { maxParallel: '1' }), 'capacity.spare')).toEqual(['pass']);
    expect(levels(findings({ pods }, { maxParallel: '2' }), 'capacity.spare')).toEqual(['warn']);
  });
});

describe('preflight: CIDR overlaps', () => {
  it('fails a service network that overlaps the pod network', () => {
    const [f] = only(findings({ serviceCidrs: ['10.240.0.0/12'] }), 'cidr.service-overlap');
    expect(f.level).toBe('fail');
    expect(f.message).toContain('10.244.0.0/16 overlaps the service network 10.240.0.0/12');
  });

  it('reads the range from the kube-apiserver pod when there is no ServiceCIDR object', () => {
    const apiserver = pod('kube-system', 'kube-apiserver-cp-1', { node: 'cp-1', owner: null, mirror: true, args: ['--etcd-servers=x', '--service-cluster-ip-range=10.244.128.0/20,fd00:96::/112'] });
    apiserver.metadata!.labels = { component: 'kube-apiserver' };
    const snap = snapshot({ nodes: smallCluster(), pods: [apiserver] });
    expect(serviceNetwork(snap).cidrs).toEqual(['10.244.128.0/20', 'fd00:96::/112']);
    const list = buildPlan(snap, detection(smallCluster())).preflight;
    expect(levels(list, 'cidr.service-overlap')).toEqual(['fail']);
    expect(only(list, 'cidr.service-overlap')[0].message).toContain('kube-apiserver pod kube-system/kube-apiserver-cp-1');
  });

  it('falls back to the kubernetes Service ClusterIP, and warns when nothing is visible', () => {
    const base = { serviceCidrs: undefined };
    expect(levels(findings({ ...base, kubernetesServiceIp: '10.96.0.1' }), 'cidr.service-overlap')).toEqual(['pass']);
    expect(levels(findings({ ...base, kubernetesServiceIp: '10.244.200.1' }), 'cidr.service-overlap')).toEqual(['fail']);
    const [f] = only(findings(base), 'cidr.service-overlap');
    expect(f.level).toBe('warn');
    expect(f.message).toMatch(/could not be checked/);
  });

  it('fails node InternalIPs inside the pod network', () => {
    const nodes = smallCluster();
    nodes[2] = node('worker-2', { podCIDR: '10.244.2.0/24', internalIP: '10.244.250.7' });
    const [f] = only(findings({ nodes }), 'cidr.node-overlap');
    expect(f.level).toBe('fail');
    expect(f.message).toContain('worker-2 10.244.250.7');
  });
});

function ippool(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name }, spec };
}

describe('preflight: existing Calico', () => {
  const planned = { cidr: '10.244.0.0/16', blockSize: 26, natOutgoing: true, vxlanMode: 'Always', ipipMode: 'Never' };

  it('accepts an existing pool that matches the plan', () => {
    const list = findings({ calico: { ipPools: [ippool('default-ipv4-ippool', planned)] } });
    expect(levels(list, 'calico.pool')).toEqual(['pass']);
    expect(only(list, 'calico.pool')[0].message).toMatch(/already exists as planned/);
  });

  it.each([
    ['a different CIDR', { cidr: '10.245.0.0/16' }],
    ['a different block size', { blockSize: 24 }],
    ['no VXLAN', { vxlanMode: 'Never' }],
    ['a different natOutgoing', { natOutgoing: false }],
  ])('fails an existing default pool with %s', (_label, change) => {
    const list = findings({ calico: { ipPools: [ippool('default-ipv4-ippool', { ...planned, ...change })] } });
    expect(levels(list, 'calico.pool')).toEqual(['fail']);
    expect(only(list, 'calico.pool')[0].message).toMatch(/current \[.*\], planned \[/);
  });

  it('plans to replace Canal\'s non-VXLAN default pool, as Calico\'s controller does', () => {
    const nodes = smallCluster();
    const canalPool = ippool('default-ipv4-ippool', { cidr: '10.244.0.0/16', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never', natOutgoing: true });
    const plan = buildPlan(snapshot({ nodes, calico: { ipPools: [canalPool] } }), detection(nodes, { flavour: 'canal' }));
    expect(plan.calico.replacePools).toEqual(['default-ipv4-ippool']);
    expect(levels(plan.preflight, 'calico.pool')).toEqual(['warn']);
    expect(only(plan.preflight, 'calico.pool')[0].message).toMatch(/Canal's default pool/);
    expect(planFails(plan)).toBe(false);
  });

  it('fails another pool overlapping the flannel network and warns about an extra enabled one', () => {
    const list = findings({ calico: { ipPools: [ippool('old', { cidr: '10.244.128.0/17' }), ippool('spare', { cidr: '172.16.0.0/16' }), ippool('off', { cidr: '172.17.0.0/16', disabled: true })] } });
    expect(only(list, 'calico.pool-overlap')).toEqual([expect.objectContaining({ level: 'fail', message: expect.stringContaining('IPPool old (10.244.128.0/17)') })]);
    expect(only(list, 'calico.pool-extra')).toEqual([expect.objectContaining({ level: 'warn', message: expect.stringContaining('IPPool spare') })]);
  });

  it('fails a calico-node DaemonSet that is not restricted to migrated nodes', () => {
    const flannelDs = daemonSet('kube-flannel', 'kube-flannel-ds');
    expect(levels(findings({ daemonSets: [flannelDs, daemonSet('kube-system', 'calico-node')] }), 'calico.existing-install')).toEqual(['fail']);
    const restricted = daemonSet('kube-system', 'calico-node', { 'projectcalico.org/node-network-during-migration': 'calico' });
    expect(levels(findings({ daemonSets: [flannelDs, restricted] }), 'calico.existing-install')).toEqual(['pass']);
  });
});

function block(cidr: string, affinity: string | null, allocations: Array<number | null>, attributes: Array<{ handle_id: string; secondary?: Record<string, string> }>): KubeObject {
  return {
    apiVersion: 'crd.projectcalico.org/v1', kind: 'IPAMBlock', metadata: { name: cidr.replace(/[./]/g, '-') },
    spec: { cidr, affinity, allocations, unallocated: [], attributes, strictAffinity: false },
  };
}

function affinity(nodeName: string, cidr: string, deleted = 'false'): KubeObject {
  return { apiVersion: 'crd.projectcalico.org/v1', kind: 'BlockAffinity', metadata: { name: `${nodeName}-${cidr.replace(/[./]/g, '-')}` }, spec: { node: nodeName, cidr, state: 'confirmed', deleted } };
}

describe('preflight: existing IPAM state', () => {
  it('fails when the tunnel address is allocated to another handle', () => {
    const ipamBlocks = [block('10.244.1.0/26', 'host:worker-1', [0, null], [{ handle_id: 'k8s-pod-network.abc', secondary: { namespace: 'default', pod: 'x' } }])];
    const [f] = only(findings({ calico: { ipamBlocks } }), 'ipam.tunnel-address');
    expect(f).toMatchObject({ level: 'fail', node: 'worker-1' });
    expect(f.message).toContain('10.244.1.0');
    expect(f.message).toContain('k8s-pod-network.abc');
  });

  it('accepts the node\'s own tunnel allocation (a resumed migration)', () => {
    const ipamBlocks = [block('10.244.1.0/26', 'host:worker-1', [0], [{ handle_id: 'vxlan-tunnel-addr-worker-1', secondary: { node: 'worker-1', type: 'vxlanTunnelAddress' } }])];
    const list = findings({ calico: { ipamBlocks, blockAffinities: [affinity('worker-1', '10.244.1.0/26')] } });
    expect(list.filter((f) => f.id.startsWith('ipam.') && f.level !== 'pass')).toEqual([]);
  });

  it('fails when a pod uses the tunnel address', () => {
    const pods = [pod('default', 'squatter', { node: 'worker-3', ip: '10.244.3.0' })];
    const [f] = only(findings({ pods }), 'ipam.tunnel-address');
    expect(f).toMatchObject({ level: 'fail', node: 'worker-3' });
    expect(f.message).toContain('default/squatter');
  });

  it('fails blocks or affinities of another node over this node\'s podCIDR, ignoring deleted affinities', () => {
    const list = findings({ calico: {
      ipamBlocks: [block('10.244.2.64/26', 'host:worker-9', [], [])],
      blockAffinities: [affinity('worker-8', '10.244.2.128/26'), affinity('worker-7', '10.244.2.192/26', 'true')],
    } });
    const found = only(list, 'ipam.block-affinity');
    expect(found.map((f) => [f.level, f.node])).toEqual([['fail', 'worker-2'], ['fail', 'worker-2']]);
    expect(found[0].message).toContain('node worker-9');
    expect(found[1].message).toContain('for node worker-8');
  });

  it('fails a block of another size inside the podCIDR', () => {
    const list = findings({ calico: { ipamBlocks: [block('10.244.3.0/24', 'host:worker-3', [], [])] } });
    expect(only(list, 'ipam.block-affinity')).toEqual([expect.objectContaining({ level: 'fail', message: expect.stringContaining('not one of the planned /26 blocks') })]);
  });
});
