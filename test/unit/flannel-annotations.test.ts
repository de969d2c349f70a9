import { describe, it, expect } from '@jest/globals';
import {
  annotationKeys,
  annotationPrefixesOnNodes,
  distributionMarkers,
  hasFlannelAnnotations,
  readNodeInfo,
} from '../../src/flannel/annotations.js';
import { fixtureNode, flannelAnnotations, node } from './flannel-fixtures.js';

describe('annotationKeys', () => {
  it('builds the names the way flanneld does', () => {
    expect(annotationKeys('flannel.alpha.coreos.com').backendData).toBe('flannel.alpha.coreos.com/backend-data');
    expect(annotationKeys('example.com/flannel').backendType).toBe('example.com/flannel-backend-type');
    expect(annotationKeys('example.com/flannel-').publicIp).toBe('example.com/flannel-public-ip');
    expect(annotationKeys('example.com/').backendV6Data).toBe('example.com/backend-v6-data');
  });

  it('finds the prefixes nodes carry', () => {
    const nodes = [node('a', [], flannelAnnotations()), node('b', [], { 'example.com/flannel-backend-type': 'vxlan' })];
    expect(annotationPrefixesOnNodes(nodes)).toEqual(['example.com/flannel', 'flannel.alpha.coreos.com']);
    expect(hasFlannelAnnotations(nodes[1], 'example.com/flannel')).toBe(true);
    expect(hasFlannelAnnotations(nodes[1], 'flannel.alpha.coreos.com')).toBe(false);
  });
});

describe('readNodeInfo', () => {
  it('reads the node state flanneld v0.28.10 wrote', () => {
    const { info, findings } = readNodeInfo(fixtureNode(), 'flannel.alpha.coreos.com');
    expect(findings).toEqual([]);
    expect(info).toEqual({
      name: 'n1',
      podCidrs: ['10.244.0.0/24'],
      backendType: 'vxlan',
      kubeSubnetManager: true,
      vtepMacV4: 'ea:93:a6:da:1d:9a',
      vni: 1,
      publicIpV4: '198.51.100.11',
      problems: [],
    });
  });

  it('fails a node without podCIDR or without annotations', () => {
    const { findings } = readNodeInfo(node('bare', []), 'flannel.alpha.coreos.com');
    expect(findings.map((f) => [f.code, f.severity])).toEqual([
      ['podcidr-missing', 'fail'],
      ['annotations-missing', 'fail'],
    ]);
  });

  it('fails partial or broken annotations', () => {
    const a = flannelAnnotations();
    delete a['flannel.alpha.coreos.com/public-ip'];
    a['flannel.alpha.coreos.com/backend-data'] = '{"VNI":1}';
    const { findings } = readNodeInfo(node('n', ['10.244.1.0/24'], a), 'flannel.alpha.coreos.com');
    expect(findings.map((f) => f.message)).toEqual([
      'n lacks flannel.alpha.coreos.com/public-ip',
      'n: flannel.alpha.coreos.com/backend-data has no VtepMAC',
    ]);
  });

  it("warns about a public-ip that is not one of the node's addresses", () => {
    const { findings, info } = readNodeInfo(
      node('n', ['10.244.1.0/24'], flannelAnnotations({ ip: '203.0.113.9' }), ['198.51.100.10']),
      'flannel.alpha.coreos.com',
    );
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ code: 'public-ip-stale', severity: 'warn' });
    expect(info.problems[0]).toMatch(/203\.0\.113\.9 is not among the node's addresses \(198\.51\.100\.10\)/);
  });

  it('flags a non-VXLAN node', () => {
    const { findings } = readNodeInfo(
      node('n', ['10.244.1.0/24'], flannelAnnotations({ type: 'host-gw' })),
      'flannel.alpha.coreos.com',
    );
    expect(findings.map((f) => f.code)).toEqual(['backend-type']);
  });

  it('reads dual-stack nodes and requires the IPv6 annotations only when flannel runs IPv6', () => {
    const v6 = {
      ...flannelAnnotations(),
      'flannel.alpha.coreos.com/backend-v6-data': JSON.stringify({ VNI: 1, VtepMAC: '0a:00:00:00:00:02' }),
      'flannel.alpha.coreos.com/public-ipv6': '2001:db8::a',
    };
    const dual = node('d', ['10.244.1.0/24', 'fd00:10:244:1::/64'], v6, ['198.51.100.10', '2001:db8::a']);
    const read = readNodeInfo(dual, 'flannel.alpha.coreos.com', { ipv6: true });
    expect(read.findings).toEqual([]);
    expect(read.info).toMatchObject({ vtepMacV6: '0a:00:00:00:00:02', publicIpV6: '2001:db8::a', vniV6: 1 });

    const v4Only = node('d', ['10.244.1.0/24', 'fd00:10:244:1::/64'], flannelAnnotations(), ['198.51.100.10']);
    expect(readNodeInfo(v4Only, 'flannel.alpha.coreos.com').findings).toEqual([]);
    expect(readNodeInfo(v4Only, 'flannel.alpha.coreos.com', { ipv6: true }).findings.map((f) => f.code)).toEqual([
      'ipv6-annotations-missing',
    ]);
    const noV6Cidr = node('d', ['10.244.1.0/24'], v6, ['198.51.100.10', '2001:db8::a']);
    expect(readNodeInfo(noV6Cidr, 'flannel.alpha.coreos.com', { ipv6: true }).findings.map((f) => f.code)).toEqual([
      'podcidr-missing',
    ]);
    expect(readNodeInfo(noV6Cidr, 'flannel.alpha.coreos.com').findings.map((f) => f.code)).toEqual([
      'ipv6-annotations-stale',
    ]);
  });
});

describe('distributionMarkers', () => {
  it('recognises k3s and RKE2 nodes', () => {
    expect(distributionMarkers([node('a', [], { 'k3s.io/node-args': '["server"]' })])).toEqual({
      k3s: true,
      rke2: false,
      flannelBackendNone: false,
    });
    expect(distributionMarkers([node('a', [], {}, [], { 'node.kubernetes.io/instance-type': 'rke2' })]).rke2).toBe(
      true,
    );
    expect(distributionMarkers([node('a', [], {}, [], { 'kubernetes.io/os': 'linux' })])).toEqual({
      k3s: false,
      rke2: false,
      flannelBackendNone: false,
    });
  });

  it('notices k3s running with --flannel-backend=none (stale annotations)', () => {
    expect(
      distributionMarkers([node('a', [], { 'k3s.io/node-args': '["server","--flannel-backend","none"]' })])
        .flannelBackendNone,
    ).toBe(true);
    expect(
      distributionMarkers([node('a', [], { 'k3s.io/node-args': '["server","--flannel-backend=none"]' })])
        .flannelBackendNone,
    ).toBe(true);
  });
});
