import { describe, expect, it } from '@jest/globals';
import { addressCount, cidrContains, networkAddress, parseCidr } from '../../src/net/cidr.js';
import { buildPlan, planFails } from '../../src/plan/planner.js';
import { stateHash } from '../../src/plan/fingerprint.js';
import { detection, node, random, smallCluster, snapshot } from './plan-fixtures.js';

const now = new Date('2026-02-03T04:05:06Z');

describe('buildPlan: Calico objects', () => {
  const nodes = smallCluster();
  const det = detection(nodes);
  const plan = buildPlan(snapshot({ nodes, serviceCidrs: ['10.96.0.0/12'] }), det, { now });

  it('is a flannel2calico/v1 Plan with the cluster identity and state hash', () => {
    expect(plan.apiVersion).toBe('flannel2calico/v1');
    expect(plan.kind).toBe('Plan');
    expect(plan.createdAt).toBe('2026-02-03T04:05:06.000Z');
    expect(plan.cluster.server).toBe('https://127.0.0.1:6443');
    expect(plan.cluster.context).toBe('test');
    expect(plan.cluster.stateHash).toMatch(/^[0-9a-f]{64}$/);
    expect(plan.cluster.stateHash).toBe(stateHash(snapshot({ nodes, serviceCidrs: ['10.96.0.0/12'] })));
    expect(plan.flavour).toBe('flannel');
    expect(plan.flannelDaemonSet).toEqual({ name: 'kube-flannel-ds', namespace: 'kube-flannel' });
    expect(plan.settings.flannelNetwork).toEqual({ value: '10.244.0.0/16', source: 'net-conf.json' });
    expect(plan.settings.flannelMtu).toEqual({ value: 1450, source: 'subnet.env' });
  });

  it(
    'plans one VXLAN IPv4 pool from the flannel network, blockSize max(26, SubnetLen), ' + 'natOutgoing from ip-masq',
    () => {
      expect(plan.calico.pools).toHaveLength(1);
      expect(plan.calico.pools[0]).toMatchObject({
        kind: 'IPPool',
        metadata: { name: 'default-ipv4-ippool' },
        spec: { cidr: '10.244.0.0/16', blockSize: 26, vxlanMode: 'Always', ipipMode: 'Never', natOutgoing: true },
      });
      expect(plan.calico.blockSizeV4).toBe(26);
      expect(plan.calico.blockSizeV6).toBeUndefined();
      expect(plan.calico.replacePools).toEqual([]);
      const noMasq = buildPlan(snapshot({ nodes }), detection(nodes, { ipMasq: false }));
      expect(noMasq.calico.pools[0].spec.natOutgoing).toBe(false);
    },
  );

  it("patches FelixConfiguration with flannel's VNI, port and MTU", () => {
    expect(plan.calico.felixConfigurationPatch).toEqual({ spec: { vxlanVNI: 1, vxlanPort: 8472, vxlanMTU: 1450 } });
    const custom = buildPlan(snapshot({ nodes }), detection(nodes, { vni: 4096, port: 4789, mtu: 8950 }));
    expect(custom.calico.felixConfigurationPatch).toEqual({
      spec: { vxlanVNI: 4096, vxlanPort: 4789, vxlanMTU: 8950 },
    });
  });

  it("claims each node's podCIDR as affine /26 blocks, tunnel address = first IP, MAC and address from flannel", () => {
    const w1 = plan.nodes.find((n) => n.name === 'worker-1')!;
    const info = det.nodes.find((n) => n.name === 'worker-1')!;
    expect(w1.podCidrs).toEqual(['10.244.1.0/24']);
    expect(w1.ipam.blocks.map((b) => b.spec.cidr)).toEqual([
      '10.244.1.0/26',
      '10.244.1.64/26',
      '10.244.1.128/26',
      '10.244.1.192/26',
    ]);
    expect(w1.ipam.blocks.map((b) => b.metadata?.name)).toEqual([
      '10-244-1-0-26',
      '10-244-1-64-26',
      '10-244-1-128-26',
      '10-244-1-192-26',
    ]);
    expect(w1.ipam.blocks.every((b) => b.spec.affinity === 'host:worker-1')).toBe(true);
    expect(w1.ipam.affinities.map((a) => a.spec.node)).toEqual(['worker-1', 'worker-1', 'worker-1', 'worker-1']);
    expect(w1.ipam.handles.map((h) => h.spec.handleID)).toEqual(['vxlan-tunnel-addr-worker-1']);
    expect(w1.tunnelAddressV4).toBe('10.244.1.0');
    expect(w1.identity).toEqual({
      node: 'worker-1',
      podCidrV4: '10.244.1.0/24',
      vtepMacV4: info.vtepMacV4,
      publicIpV4: info.publicIpV4,
    });
    expect(w1.annotations).toEqual({
      'projectcalico.org/IPv4VXLANTunnelAddr': '10.244.1.0',
      'projectcalico.org/VXLANTunnelMACAddr': info.vtepMacV4,
      'projectcalico.org/IPv4Address': `${info.publicIpV4}/32`,
    });
    expect(w1.currentState).toBe('unlabelled');
    expect(w1.role).toBe('worker');
  });

  it("records the node's current migration label", () => {
    const labelled = smallCluster();
    labelled[1].metadata!.labels!['projectcalico.org/node-network-during-migration'] = 'calico';
    const p = buildPlan(snapshot({ nodes: labelled }), detection(labelled));
    expect(p.nodes.find((n) => n.name === 'worker-1')!.currentState).toBe('calico');
  });

  it('uses the subnet length as block size when it is smaller than a /26', () => {
    const small = [node('a', { podCIDR: '10.244.0.16/28' }), node('b', { podCIDR: '10.244.0.32/28' })];
    const p = buildPlan(snapshot({ nodes: small }), detection(small, { subnetLen: 28 }));
    expect(p.calico.blockSizeV4).toBe(28);
    expect(p.calico.pools[0].spec.blockSize).toBe(28);
    expect(p.nodes[0].ipam.blocks.map((b) => b.spec.cidr)).toEqual(['10.244.0.16/28']);
    const big = [node('a', { podCIDR: '10.244.4.0/22' }), node('b', { podCIDR: '10.244.8.0/22' })];
    const q = buildPlan(snapshot({ nodes: big }), detection(big, { subnetLen: 22 }));
    expect(q.calico.blockSizeV4).toBe(26);
    expect(q.nodes[0].ipam.blocks).toHaveLength(16);
  });

  it('keeps the drain settings, with kubectl-like defaults', () => {
    expect(plan.drain).toEqual({
      force: false,
      deleteEmptyDirData: false,
      timeoutSeconds: 600,
      gracePeriodSeconds: -1,
    });
    const p = buildPlan(snapshot({ nodes }), det, {
      force: true,
      deleteEmptyDirData: true,
      drainTimeoutSeconds: 90,
      gracePeriodSeconds: 30,
    });
    expect(p.drain).toEqual({ force: true, deleteEmptyDirData: true, timeoutSeconds: 90, gracePeriodSeconds: 30 });
  });

  it('is plain data that survives a JSON round trip', () => {
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
    expect(planFails(plan)).toBe(false);
  });

  it('plans Canal like flannel, with flavour canal', () => {
    const p = buildPlan(snapshot({ nodes }), detection(nodes, { flavour: 'canal' }));
    expect(p.flavour).toBe('canal');
    expect(p.flannelDaemonSet).toEqual({ name: 'canal', namespace: 'kube-system' });
  });

  it('refuses to plan without flannel', () => {
    expect(() => buildPlan(snapshot({ nodes }), detection(nodes, { flavour: 'none' }))).toThrow(/nothing to plan/);
    expect(() => buildPlan(snapshot({ nodes }), detection(nodes, { flavour: 'embedded' }))).toThrow(/k3s/);
  });
});

describe('buildPlan: dual stack', () => {
  const nodes = [
    node('w1', { podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'] }),
    node('w2', { podCIDRs: ['10.244.2.0/24', 'fd00:10:244:2::/64'] }),
  ];
  const det = detection(nodes, { ipv6Network: 'fd00:10:244::/56' });
  const plan = buildPlan(snapshot({ nodes }), det);

  it('plans an IPv6 pool with blockSize max(122, SubnetLen) next to the IPv4 one', () => {
    expect(plan.calico.pools.map((p) => [p.metadata?.name, p.spec.cidr, p.spec.blockSize, p.spec.vxlanMode])).toEqual([
      ['default-ipv4-ippool', '10.244.0.0/16', 26, 'Always'],
      ['default-ipv6-ippool', 'fd00:10:244::/56', 122, 'Always'],
    ]);
    expect(plan.calico.blockSizeV6).toBe(122);
    expect(plan.calico.felixConfigurationPatch).toMatchObject({ spec: { vxlanMTUV6: 1450 } });
  });

  it('gives each node an IPv6 tunnel address (first IP of its IPv6 podCIDR), MAC and address', () => {
    const w2 = plan.nodes[1];
    const info = det.nodes[1];
    expect(w2.tunnelAddressV4).toBe('10.244.2.0');
    expect(w2.tunnelAddressV6).toBe('fd00:10:244:2::');
    expect(w2.identity).toMatchObject({
      podCidrV6: 'fd00:10:244:2::/64',
      vtepMacV6: info.vtepMacV6,
      publicIpV6: info.publicIpV6,
    });
    expect(w2.annotations['projectcalico.org/IPv6VXLANTunnelAddr']).toBe('fd00:10:244:2::');
    expect(w2.annotations['projectcalico.org/VXLANTunnelMACAddrV6']).toBe(info.vtepMacV6);
    const v6Blocks = w2.ipam.blocks.filter((b) => b.spec.cidr.includes(':'));
    expect(v6Blocks.map((b) => b.spec.cidr)).toEqual(['fd00:10:244:2::/122']);
    expect(w2.ipam.handles.map((h) => h.spec.handleID).sort()).toEqual([
      'vxlan-tunnel-addr-w2',
      'vxlan-v6-tunnel-addr-w2',
    ]);
    expect(planFails(plan)).toBe(false);
  });

  it('ignores IPv6 podCIDRs when flannel runs IPv4 only', () => {
    const v4only = buildPlan(snapshot({ nodes }), detection(nodes));
    expect(v4only.calico.pools).toHaveLength(1);
    expect(v4only.nodes[0].tunnelAddressV6).toBeUndefined();
    expect(v4only.nodes[0].ipam.blocks.every((b) => !b.spec.cidr.includes(':'))).toBe(true);
  });
});

describe('buildPlan: CIDR maths, property style', () => {
  /** n distinct subnets of length `len` inside `network`, picked at random. */
  function randomSubnets(rnd: () => number, network: string, len: number, n: number): string[] {
    const { network: base, prefix } = parseCidr(network);
    const count = 2 ** (len - prefix);
    const baseValue = base.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    const picked = new Set<number>();
    while (picked.size < Math.min(n, count)) picked.add(Math.floor(rnd() * count));
    return [...picked].map((i) => {
      const v = baseValue + i * 2 ** (32 - len);
      return `${[24, 16, 8, 0].map((s) => Math.floor(v / 2 ** s) % 256).join('.')}/${len}`;
    });
  }

  it('blocks tile every podCIDR exactly, never overlap between nodes, and the tunnel IP opens the first block', () => {
    const rnd = random(2026);
    for (let round = 0; round < 40; round++) {
      const prefix = 8 + Math.floor(rnd() * 13); // /8 .. /20
      const subnetLen = Math.max(prefix + 1, 20 + Math.floor(rnd() * 11)); // /20 .. /30: at most 64 blocks per node
      const network = `10.${Math.floor(rnd() * 256) & (prefix >= 16 ? 255 : 0)}.0.0/${prefix}`;
      const net = parseCidr(network, { loose: true });
      const canonicalNetwork = `${net.network}/${net.prefix}`;
      const subnets = randomSubnets(rnd, canonicalNetwork, subnetLen, 2 + Math.floor(rnd() * 5));
      const nodes = subnets.map((cidr, i) => node(`n${i}`, { podCIDR: cidr, internalIP: `192.0.2.${i + 1}` }));
      const plan = buildPlan(snapshot({ nodes }), detection(nodes, { network: canonicalNetwork, subnetLen }));
      const blockSize = Math.max(26, subnetLen);
      expect(plan.calico.blockSizeV4).toBe(blockSize);
      const seen = new Set<string>();
      for (const planned of plan.nodes) {
        const podCidr = planned.podCidrs[0];
        const blocks = planned.ipam.blocks.map((b) => b.spec.cidr as string);
        let total = 0n;
        for (const block of blocks) {
          expect(parseCidr(block).prefix).toBe(blockSize);
          expect(cidrContains(podCidr, block)).toBe(true);
          expect(seen.has(block)).toBe(false);
          seen.add(block);
          total += addressCount(block);
        }
        expect(total).toBe(addressCount(podCidr));
        expect(planned.tunnelAddressV4).toBe(networkAddress(podCidr));
        expect(networkAddress(blocks[0])).toBe(planned.tunnelAddressV4);
        expect(planned.ipam.affinities.map((a) => a.spec.cidr)).toEqual(blocks);
      }
      expect(plan.preflight.filter((f) => f.level === 'fail').map((f) => f.message)).toEqual([]);
    }
  });

  it('IPv6: the tunnel address is the first IP of the podCIDR and opens a /122 inside it', () => {
    const rnd = random(6);
    const hex = () => Math.floor(rnd() * 0x10000).toString(16);
    for (let round = 0; round < 30; round++) {
      const network = `fd${Math.floor(rnd() * 256)
        .toString(16)
        .padStart(2, '0')}:${hex()}:${hex()}::/48`;
      const canonical = `${parseCidr(network, { loose: true }).network}/48`;
      const base = canonical.split('::')[0];
      const subnets = [...new Set(Array.from({ length: 4 }, () => Math.floor(rnd() * 0x10000)))].map(
        (n) => `${base}:${n.toString(16)}::/64`,
      );
      const nodes = subnets.map((v6, i) =>
        node(`n${i}`, { podCIDRs: [`10.244.${i}.0/24`, v6], internalIP: `192.0.2.${i + 1}` }),
      );
      const plan = buildPlan(snapshot({ nodes }), detection(nodes, { ipv6Network: canonical }));
      for (const planned of plan.nodes) {
        const v6 = planned.identity.podCidrV6!;
        expect(planned.tunnelAddressV6).toBe(networkAddress(v6));
        const block = planned.ipam.blocks.find((b) => String(b.spec.cidr).includes(':'))!;
        expect(parseCidr(block.spec.cidr).prefix).toBe(122);
        expect(cidrContains(v6, block.spec.cidr)).toBe(true);
        expect(networkAddress(block.spec.cidr)).toBe(planned.tunnelAddressV6);
      }
      expect(plan.preflight.filter((f) => f.level === 'fail').map((f) => f.message)).toEqual([]);
    }
  });
});
