import { describe, it, expect } from '@jest/globals';
import { readNodeInfo } from '../../src/flannel/annotations.js';
import { flannelContainer, flanneldConfig } from '../../src/flannel/discovery.js';
import { parseNetConf } from '../../src/flannel/netconf.js';
import { resolveAnnotationPrefix, resolveSettings, type DetectedSources } from '../../src/flannel/resolve.js';
import { parseOverrides, type SettingOverrides } from '../../src/flannel/settings.js';
import { parseSubnetEnv } from '../../src/flannel/subnet-env.js';
import type { FlannelNodeInfo } from '../../src/flannel/types.js';
import { flannelAnnotations, flannelManifest, node, subnetEnvFixture } from './flannel-fixtures.js';

const PREFIX = { value: 'flannel.alpha.coreos.com', source: 'default' as const };

function nodes(cidrs: string[][], vnis: number[] = []): FlannelNodeInfo[] {
  return cidrs.map(
    (c, i) =>
      readNodeInfo(node(`n${i}`, c, flannelAnnotations({ vni: vnis[i] ?? 1 })), PREFIX.value, { ipv6: c.length > 1 })
        .info,
  );
}

function upstream(extra: Partial<DetectedSources> = {}): DetectedSources {
  const { daemonSet, configMap } = flannelManifest();
  return {
    daemonSet: { name: 'kube-flannel-ds', namespace: 'kube-flannel', from: 'found' },
    netConf: parseNetConf(configMap.data!['net-conf.json']),
    netConfFrom: 'ConfigMap kube-flannel/kube-flannel-cfg key net-conf.json',
    flanneld: flanneldConfig(daemonSet, flannelContainer(daemonSet)!, () => undefined),
    cniConfigDir: { value: '/etc/cni/net.d', from: 'DaemonSet volume cni' },
    nodes: nodes([['10.244.0.0/24'], ['10.244.1.0/24']]),
    subnetEnvMissing: 'exec not possible',
    ...extra,
  };
}

describe('resolveSettings', () => {
  it("resolves the upstream manifest with each value's source", () => {
    const r = resolveSettings(upstream(), {}, PREFIX);
    const view = Object.fromEntries(Object.entries(r.settings).map(([k, s]) => [k, [s.value, s.source]]));
    expect(view).toEqual({
      flannelNetwork: ['10.244.0.0/16', 'net-conf.json'],
      flannelIpv6Network: [null, 'unset'],
      flannelDaemonSetName: ['kube-flannel-ds', 'daemonset'],
      flannelDaemonSetNamespace: ['kube-flannel', 'daemonset'],
      flannelMtu: [1450, 'default'],
      flannelIpMasq: [true, 'daemonset-args'],
      flannelSubnetLen: [24, 'node-podcidr'],
      flannelIpv6SubnetLen: [64, 'default'],
      flannelAnnotationPrefix: ['flannel.alpha.coreos.com', 'default'],
      flannelVni: [1, 'node-annotations'],
      flannelPort: [8472, 'default'],
      calicoDaemonSetName: ['calico-node', 'default'],
      cniConfigDir: ['/etc/cni/net.d', 'daemonset'],
    });
    expect(r.mtuAssumed).toBe(true);
    expect(r.settings.flannelMtu.from).toMatch(
      /assumed: a 1500-byte underlay minus 50 bytes of VXLAN overhead \(exec not possible\)/,
    );
    expect(r.conflicts).toEqual([]);
  });

  it('takes MTU and masquerade from subnet.env when it could be read', () => {
    const r = resolveSettings(
      upstream({
        subnetEnv: parseSubnetEnv(subnetEnvFixture()),
        subnetEnvFrom: 'subnet.env in pod x',
        subnetEnvMissing: undefined,
      }),
      {},
      PREFIX,
    );
    expect(r.settings.flannelMtu).toEqual({
      value: 1450,
      source: 'subnet.env',
      from: 'subnet.env in pod x (FLANNEL_MTU)',
    });
    expect(r.settings.flannelIpMasq.source).toBe('subnet.env');
    expect(r.mtuAssumed).toBe(false);
  });

  it('reads a non-default network, subnet length, VNI, port and MTU', () => {
    const netConf = parseNetConf(
      '{"Network":"10.50.0.0/16","SubnetLen":26,"Backend":{"Type":"vxlan","VNI":4096,"Port":4789,"MTU":1400}}',
    );
    const r = resolveSettings(
      upstream({ netConf, nodes: nodes([['10.50.0.0/26'], ['10.50.0.64/26']], [4096, 4096]) }),
      {},
      PREFIX,
    );
    expect(r.settings.flannelNetwork.value).toBe('10.50.0.0/16');
    expect(r.settings.flannelSubnetLen).toMatchObject({ value: 26, source: 'node-podcidr' });
    expect(r.settings.flannelVni).toMatchObject({ value: 4096, source: 'net-conf.json' });
    expect(r.settings.flannelPort).toMatchObject({ value: 4789, source: 'net-conf.json' });
    expect(r.settings.flannelMtu).toMatchObject({ value: 1400, source: 'net-conf.json' });
    expect(r.conflicts).toEqual([]);
  });

  it('reports disagreements between sources', () => {
    const netConf = parseNetConf('{"Network":"10.244.0.0/16","SubnetLen":25,"Backend":{"Type":"vxlan","VNI":2}}');
    const env = parseSubnetEnv('FLANNEL_NETWORK=10.240.0.0/16\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=false\n');
    const r = resolveSettings(
      upstream({
        netConf,
        subnetEnv: env,
        subnetEnvFrom: 'subnet.env',
        cniMtu: { value: 1450, from: 'veth_mtu' },
        nodes: nodes([['10.244.0.0/24'], ['10.99.1.0/24']], [2, 3]),
      }),
      {},
      PREFIX,
    );
    expect(r.conflicts).toEqual([
      'net-conf.json Network is 10.244.0.0/16 but subnet.env FLANNEL_NETWORK is 10.240.0.0/16 ' +
        '(flanneld has not been restarted since the ConfigMap changed?)',
      "node n1 podCIDR 10.99.1.0/24 is outside flannel's Network 10.244.0.0/16",
      "net-conf.json SubnetLen is 25 but the nodes' IPv4 podCIDRs are /24",
      'subnet.env FLANNEL_MTU is 1400 but the CNI configuration sets MTU 1450',
      'subnet.env FLANNEL_IPMASQ is false but the DaemonSet runs flanneld with ip-masq true',
      "nodes' backend-data disagree on the VNI: VNI 2 on n0; VNI 3 on n1",
      'net-conf.json Backend.VNI is 2 but backend-data on n1 says VNI 3',
    ]);
    expect(r.podCidrsOutsideNetwork).toHaveLength(1);
  });

  it('resolves dual-stack networks and subnet lengths', () => {
    const netConf = parseNetConf(
      '{"Network":"10.244.0.0/16","IPv6Network":"fd00:10:244::/56","EnableIPv6":true,"Backend":{"Type":"vxlan"}}',
    );
    const r = resolveSettings(
      upstream({
        netConf,
        nodes: nodes([
          ['10.244.0.0/24', 'fd00:10:244::/64'],
          ['10.244.1.0/24', 'fd00:10:244:1::/64'],
        ]),
      }),
      {},
      PREFIX,
    );
    expect(r.settings.flannelIpv6Network).toMatchObject({ value: 'fd00:10:244::/56', source: 'net-conf.json' });
    expect(r.settings.flannelIpv6SubnetLen).toMatchObject({ value: 64, source: 'node-podcidr' });
    expect(r.conflicts).toEqual([]);
  });

  it('applies flag > env > detected > default', () => {
    const overrides: SettingOverrides = parseOverrides(
      { flannelVni: '7' },
      { FLANNEL_VNI: '9', FLANNEL_PORT: '4789', FLANNEL_MTU: '1400' },
    );
    const r = resolveSettings(upstream(), overrides, PREFIX);
    expect(r.settings.flannelVni).toEqual({
      value: 7,
      source: 'flag',
      from: 'flag --flannel-vni (detected: 1 from node-annotations)',
    });
    expect(r.settings.flannelPort).toEqual({
      value: 4789,
      source: 'env',
      from: 'environment variable FLANNEL_PORT (detected: 8472 from default)',
    });
    expect(r.settings.flannelMtu).toMatchObject({ value: 1400, source: 'env' });
    expect(r.mtuAssumed).toBe(false);
    expect(r.settings.flannelNetwork.source).toBe('net-conf.json');
  });

  it('falls back to the defaults when nothing is detected', () => {
    const r = resolveSettings({ nodes: [] }, {}, PREFIX);
    expect(r.settings.flannelDaemonSetName).toEqual({
      value: 'kube-flannel-ds',
      source: 'default',
      from: "default of today's kube-flannel.yml",
    });
    expect(r.settings.flannelDaemonSetNamespace).toEqual({
      value: 'kube-flannel',
      source: 'default',
      from: "default of today's kube-flannel.yml",
    });
    expect(r.settings.flannelSubnetLen.from).toBe("default of Calico's flannel-migration controller");
    expect(r.settings.flannelNetwork).toMatchObject({ value: null, source: 'unset' });
    expect(r.settings.flannelSubnetLen).toMatchObject({ value: 24, source: 'default' });
    expect(r.settings.flannelPort).toMatchObject({ value: 8472, source: 'default' });
  });
});

describe('resolveAnnotationPrefix', () => {
  it('takes --kube-annotation-prefix, else what the nodes carry', () => {
    const flanneld = flanneldConfig(
      flannelManifest().daemonSet,
      flannelContainer(flannelManifest().daemonSet)!,
      () => undefined,
    );
    expect(resolveAnnotationPrefix({}, flanneld, ['flannel.alpha.coreos.com']).setting).toMatchObject({
      value: 'flannel.alpha.coreos.com',
      source: 'default',
    });
    expect(resolveAnnotationPrefix({}, flanneld, ['example.com/flannel']).setting).toMatchObject({
      value: 'example.com/flannel',
      source: 'node-annotations',
    });
    const ds = flannelManifest().daemonSet;
    flannelContainer(ds)!.args!.push('--kube-annotation-prefix=example.com/flannel');
    const withFlag = flanneldConfig(ds, flannelContainer(ds)!, () => undefined);
    const r = resolveAnnotationPrefix({}, withFlag, ['flannel.alpha.coreos.com']);
    expect(r.setting).toMatchObject({ value: 'example.com/flannel', source: 'daemonset-args' });
    expect(r.conflicts).toEqual([
      "flanneld's --kube-annotation-prefix is example.com/flannel, but the nodes carry flannel " +
        'annotations under flannel.alpha.coreos.com',
    ]);
  });
});
