import { describe, it, expect } from '@jest/globals';
import { Command } from 'commander';
import { addSettingsOptions, settingsOverrides } from '../../src/cli/settings-flags.js';
import { SETTING_DEFINITIONS, SettingError } from '../../src/flannel/settings.js';

function parse(args: string[]): Record<string, unknown> {
  const cmd = addSettingsOptions(new Command('detect').exitOverride());
  cmd.parse(args, { from: 'user' });
  return cmd.opts();
}

describe('addSettingsOptions', () => {
  it('adds one option per setting, with the env name and default in its help', () => {
    const cmd = addSettingsOptions(new Command('detect'));
    expect(cmd.options).toHaveLength(SETTING_DEFINITIONS.length);
    for (const def of SETTING_DEFINITIONS) {
      const option = cmd.options.find((o) => o.long === def.flag)!;
      expect(option.description).toContain(def.description);
      expect(option.description).toContain(`env ${def.env}`);
      expect(option.description).toContain(
        def.defaultValue === null ? 'default: detected' : `default: detected, else ${def.defaultValue}`,
      );
    }
    expect(cmd.options.find((o) => o.long === '--flannel-daemonset')!.flags).toBe(
      '--flannel-daemonset <name|namespace/name>',
    );
  });
});

describe('settingsOverrides', () => {
  it('lets a flag win over the environment', () => {
    const o = settingsOverrides(parse(['--flannel-vni', '7']), { FLANNEL_VNI: '9', FLANNEL_PORT: '4789' });
    expect(o.flannelVni).toEqual({ value: 7, source: 'flag' });
    expect(o.flannelPort).toEqual({ value: 4789, source: 'env' });
  });

  it('maps every flag to its setting', () => {
    const o = settingsOverrides(
      parse([
        '--flannel-network',
        '10.50.0.0/16',
        '--flannel-ipv6-network',
        'fd00:50::/56',
        '--flannel-mtu',
        '1400',
        '--flannel-ip-masq',
        'false',
        '--flannel-subnet-len',
        '26',
        '--flannel-ipv6-subnet-len',
        '80',
        '--flannel-annotation-prefix',
        'example.com/flannel',
        '--flannel-port',
        '4789',
        '--calico-daemonset',
        'calico',
        '--cni-config-dir',
        '/opt/cni/net.d',
        '--flannel-namespace',
        'kube-system',
      ]),
      {},
    );
    expect(Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v!.value]))).toEqual({
      flannelNetwork: '10.50.0.0/16',
      flannelIpv6Network: 'fd00:50::/56',
      flannelMtu: 1400,
      flannelIpMasq: false,
      flannelSubnetLen: 26,
      flannelIpv6SubnetLen: 80,
      flannelAnnotationPrefix: 'example.com/flannel',
      flannelPort: 4789,
      calicoDaemonSetName: 'calico',
      cniConfigDir: '/opt/cni/net.d',
      flannelDaemonSetNamespace: 'kube-system',
    });
  });

  it('splits namespace/name from the flag or FLANNEL_DAEMONSET_NAME', () => {
    expect(settingsOverrides(parse(['--flannel-daemonset', 'kube-system/canal']), {})).toEqual({
      flannelDaemonSetName: { value: 'canal', source: 'flag' },
      flannelDaemonSetNamespace: { value: 'kube-system', source: 'flag' },
    });
    expect(settingsOverrides(parse([]), { FLANNEL_DAEMONSET_NAME: 'kube-flannel/kube-flannel-ds' })).toEqual({
      flannelDaemonSetName: { value: 'kube-flannel-ds', source: 'env' },
      flannelDaemonSetNamespace: { value: 'kube-flannel', source: 'env' },
    });
    // The flag's namespace wins over the environment's.
    expect(
      settingsOverrides(parse(['--flannel-daemonset', 'a/b']), { FLANNEL_DAEMONSET_NAMESPACE: 'c' })
        .flannelDaemonSetNamespace,
    ).toEqual({ value: 'a', source: 'flag' });
  });

  it('refuses bad values with a SettingError naming the flag or variable', () => {
    expect(() => settingsOverrides(parse(['--flannel-vni', 'x']), {})).toThrow(SettingError);
    expect(() => settingsOverrides(parse([]), { FLANNEL_NETWORK: '10.244.0.0' })).toThrow(
      /environment variable FLANNEL_NETWORK/,
    );
    expect(() => settingsOverrides(parse(['--flannel-daemonset', 'a/b/c']), {})).toThrow(
      /--flannel-daemonset: expected NAME or NAMESPACE\/NAME/,
    );
    expect(() => settingsOverrides(parse(['--flannel-daemonset', 'a/b', '--flannel-namespace', 'c']), {})).toThrow(
      /names namespace a, but --flannel-namespace says c/,
    );
  });
});
