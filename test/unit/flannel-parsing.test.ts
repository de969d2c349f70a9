import { describe, it, expect } from '@jest/globals';
import { NetConfError, cniConfMtu, flannelDefaultSubnetLen, parseNetConf } from '../../src/flannel/netconf.js';
import { parseSubnetEnv } from '../../src/flannel/subnet-env.js';
import { canalManifest, flannelManifest, subnetEnvFixture } from './flannel-fixtures.js';

describe('parseNetConf', () => {
  it('reads the upstream kube-flannel.yml net-conf.json', () => {
    const nc = parseNetConf(flannelManifest().configMap.data!['net-conf.json']);
    expect(nc).toEqual({
      network: '10.244.0.0/16',
      networks: [],
      enableIPv4: true,
      enableIPv6: false,
      backend: { type: 'vxlan', typeDefaulted: false },
    });
  });

  it("reads Canal's net-conf.json", () => {
    expect(parseNetConf(canalManifest().configMap.data!['net-conf.json']).backend.type).toBe('vxlan');
  });

  it('reads every field, case-insensitively as flanneld does', () => {
    const nc = parseNetConf(
      JSON.stringify({
        network: '10.50.0.0/16',
        IPv6Network: 'fd00:50::/56',
        EnableIPv6: true,
        SubnetLen: 26,
        IPv6SubnetLen: 80,
        Backend: { type: 'VXLAN', VNI: 4096, Port: 4789, DirectRouting: false, MTU: 1400 },
      }),
    );
    expect(nc).toEqual({
      network: '10.50.0.0/16',
      ipv6Network: 'fd00:50::/56',
      networks: [],
      enableIPv4: true,
      enableIPv6: true,
      subnetLen: 26,
      ipv6SubnetLen: 80,
      backend: { type: 'vxlan', typeDefaulted: false, vni: 4096, port: 4789, directRouting: false, mtu: 1400 },
    });
  });

  it('defaults the backend to udp when Backend is missing, as flanneld does', () => {
    expect(parseNetConf('{"Network":"10.244.0.0/16"}').backend).toEqual({ type: 'udp', typeDefaulted: true });
  });

  it('lists every problem in one error', () => {
    let error: unknown;
    try {
      parseNetConf(
        JSON.stringify({
          Network: '10.244.0.0',
          SubnetLen: 'x',
          Backend: { Type: 'vxlan', VNI: -1, Port: 70000, DirectRouting: 'yes' },
        }),
      );
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(NetConfError);
    const problems = (error as NetConfError).problems.join('\n');
    expect(problems).toMatch(/Network must be an IPv4 CIDR/);
    expect(problems).toMatch(/SubnetLen must be a whole number/);
    expect(problems).toMatch(/VNI must be a whole number from 0 to 16777215/);
    expect(problems).toMatch(/Port must be a whole number from 0 to 65535/);
    expect(problems).toMatch(/DirectRouting must be true or false/);
  });

  it('refuses text that is not JSON, and a missing Network', () => {
    expect(() => parseNetConf('{ Network: 10.244.0.0/16 }')).toThrow(/not JSON/);
    expect(() => parseNetConf('{"Backend":{"Type":"vxlan"}}')).toThrow(/Network is missing/);
    expect(() => parseNetConf('{"Network":"10.244.0.0/16","EnableIPv6":true}')).toThrow(/IPv6Network is missing/);
    expect(() => parseNetConf('{"Network":"fd00::/48"}')).toThrow(/IPv4 CIDR/);
  });

  it('refuses a SubnetLen that cannot fit the network', () => {
    expect(() => parseNetConf('{"Network":"10.244.0.0/16","SubnetLen":12}')).toThrow(/shorter than Network's prefix/);
    expect(() => parseNetConf('{"Network":"10.244.0.0/16","SubnetLen":31}')).toThrow(/at most 30/);
  });

  it('accepts IPv6-only configurations', () => {
    const nc = parseNetConf(
      '{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00::/48","Backend":{"Type":"vxlan"}}',
    );
    expect(nc.network).toBeUndefined();
    expect(nc.ipv6Network).toBe('fd00::/48');
  });
});

describe('flannelDefaultSubnetLen', () => {
  it('is /24 for big networks and splits small ones in four', () => {
    expect(flannelDefaultSubnetLen('10.244.0.0/16')).toBe(24);
    expect(flannelDefaultSubnetLen('10.244.0.0/22')).toBe(24);
    expect(flannelDefaultSubnetLen('10.244.0.0/23')).toBe(25);
    expect(flannelDefaultSubnetLen('fd00::/48')).toBe(64);
    expect(flannelDefaultSubnetLen('fd00::/64')).toBe(66);
    expect(flannelDefaultSubnetLen('nonsense')).toBeUndefined();
  });
});

describe('cniConfMtu', () => {
  it('ignores Canal\'s veth_mtu "0" (auto) and reads a set one', () => {
    const data = canalManifest().configMap.data!;
    expect(cniConfMtu(data)).toBeUndefined();
    expect(cniConfMtu({ ...data, veth_mtu: '1410' })).toEqual({ value: 1410, key: 'veth_mtu' });
  });

  it("reads an mtu from flannel's cni-conf.json delegate", () => {
    const data = flannelManifest().configMap.data!;
    expect(cniConfMtu(data)).toBeUndefined();
    const conf = JSON.parse(data['cni-conf.json']);
    conf.plugins[0].delegate.mtu = 1370;
    expect(cniConfMtu({ 'cni-conf.json': JSON.stringify(conf) })).toEqual({
      value: 1370,
      key: 'cni-conf.json (delegate.mtu)',
    });
  });
});

describe('parseSubnetEnv', () => {
  it('reads the subnet.env flanneld v0.28.10 wrote', () => {
    expect(parseSubnetEnv(subnetEnvFixture())).toEqual({
      network: '10.244.0.0/16',
      subnet: '10.244.0.1/24',
      mtu: 1450,
      ipMasq: true,
      problems: [],
    });
  });

  it('reads the IPv6 keys and ignores unknown ones', () => {
    const env = parseSubnetEnv(
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\nOTHER=1\n',
    );
    expect(env).toEqual({
      network: '10.244.0.0/16',
      ipv6Network: 'fd00:10:244::/56',
      ipv6Subnet: 'fd00:10:244::1/64',
      mtu: 1430,
      ipMasq: false,
      problems: [],
    });
  });

  it('reports bad lines instead of guessing', () => {
    const env = parseSubnetEnv('FLANNEL_MTU=big\nFLANNEL_IPMASQ=maybe\ngarbage\nFLANNEL_NETWORK=fd00::/64\n');
    expect(env.mtu).toBeUndefined();
    expect(env.ipMasq).toBeUndefined();
    expect(env.network).toBeUndefined();
    expect(env.problems).toHaveLength(4);
  });
});
