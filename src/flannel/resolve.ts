import { cidrContainsLoose, parseCidrOrUndefined } from '../net/cidr.js';
import type { Derived, FlanneldConfig } from './discovery.js';
import {
  ASSUMED_UNDERLAY_MTU,
  FLANNEL_DEFAULT_VXLAN_PORT,
  VXLAN_OVERHEAD_V4,
  flannelDefaultSubnetLen,
  type NetConf,
} from './netconf.js';
import {
  SETTING_DEFINITIONS,
  type MigrationSettings,
  type Setting,
  type SettingDefinition,
  type SettingKey,
  type SettingOverrides,
  type SettingSource,
} from './settings.js';
import type { SubnetEnv } from './subnet-env.js';
import type { FlannelNodeInfo } from './types.js';

/** Everything detection read from the cluster, already parsed. Input of resolveSettings. */
export interface DetectedSources {
  daemonSet?: { name: string; namespace: string; from: string };
  netConf?: NetConf;
  /** "ConfigMap kube-flannel/kube-flannel-cfg key net-conf.json" */
  netConfFrom?: string;
  flanneld?: FlanneldConfig;
  /** An MTU written in the CNI configuration (Canal's veth_mtu, a delegate "mtu"). */
  cniMtu?: Derived<number>;
  cniConfigDir?: Derived<string>;
  subnetEnv?: SubnetEnv;
  /** "/run/flannel/subnet.env in pod kube-flannel/kube-flannel-ds-abcde" */
  subnetEnvFrom?: string;
  /** Why subnet.env could not be read, for the MTU's "assumed" note. */
  subnetEnvMissing?: string;
  nodes: FlannelNodeInfo[];
  calicoDaemonSet?: { name: string; namespace: string };
}

export interface Resolution {
  settings: MigrationSettings;
  conflicts: string[];
  /** The MTU is the default, not read from anywhere. */
  mtuAssumed: boolean;
  /** "node podCIDR 10.9.0.0/24 is outside Network 10.244.0.0/16" messages. */
  podCidrsOutsideNetwork: string[];
}

type Value = string | number | boolean | null;
interface Candidate {
  value: Value;
  source: SettingSource;
  from?: string;
}

function definition(key: SettingKey): SettingDefinition {
  return SETTING_DEFINITIONS.find((d) => d.key === key)!;
}

function describeValue(v: Value): string {
  return v === null ? 'none' : String(v);
}

/**
 * flag > env > the first detected candidate > the default. An override keeps a note of what
 * was detected, so the report shows what it replaced.
 */
function pick(key: SettingKey, overrides: SettingOverrides, candidates: Array<Candidate | undefined>): Setting<any> {
  const def = definition(key);
  const detected = candidates.find((c): c is Candidate => c !== undefined);
  const override = overrides[key];
  if (override) {
    const origin = override.source === 'flag' ? `flag ${def.flag}` : `environment variable ${def.env}`;
    const note =
      detected && detected.value !== override.value
        ? ` (detected: ${describeValue(detected.value)} from ${detected.source})`
        : '';
    return { value: override.value, source: override.source, from: `${origin}${note}` };
  }
  if (detected)
    return detected.from
      ? { value: detected.value, source: detected.source, from: detected.from }
      : { value: detected.value, source: detected.source };
  if (def.defaultValue === null)
    return { value: null, source: 'unset', from: `not found; pass ${def.flag} or set ${def.env}` };
  return {
    value: def.defaultValue,
    source: 'default',
    from: def.defaultFrom ? `default of ${def.defaultFrom}` : "default of Calico's flannel-migration controller",
  };
}

/** The most common value and whether every item agreed. */
function consensus<T>(values: T[]): { value: T; unanimous: boolean; counts: Map<T, number> } | undefined {
  if (values.length === 0) return undefined;
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const [value] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
  return { value, unanimous: counts.size === 1, counts };
}

function nodeList(nodes: string[]): string {
  return nodes.length <= 5 ? nodes.join(', ') : `${nodes.slice(0, 5).join(', ')} and ${nodes.length - 5} more`;
}

/** --kube-annotation-prefix: override > the flanneld flag > the prefix the nodes carry > flannel's default. */
export function resolveAnnotationPrefix(
  overrides: SettingOverrides,
  flanneld: FlanneldConfig | undefined,
  prefixesOnNodes: string[],
): { setting: Setting<string>; conflicts: string[] } {
  const conflicts: string[] = [];
  const fromArgs: Candidate | undefined = flanneld?.annotationPrefix
    ? { value: flanneld.annotationPrefix.value, source: 'daemonset-args', from: flanneld.annotationPrefix.from }
    : undefined;
  const defaultPrefix = definition('flannelAnnotationPrefix').defaultValue as string;
  const expected = fromArgs?.value ?? defaultPrefix;
  let fromNodes: Candidate | undefined;
  if (prefixesOnNodes.length === 1 && !fromArgs && prefixesOnNodes[0] !== defaultPrefix) {
    fromNodes = {
      value: prefixesOnNodes[0],
      source: 'node-annotations',
      from:
        `the nodes' annotations ${prefixesOnNodes[0]}/backend-type (the DaemonSet sets no ` +
        `--kube-annotation-prefix)`,
    };
  }
  const normalise = (p: unknown) => String(p).replace(/[/-]$/, '');
  if (prefixesOnNodes.length > 0 && !prefixesOnNodes.some((p) => normalise(p) === normalise(expected)) && fromArgs) {
    conflicts.push(
      `flanneld's --kube-annotation-prefix is ${expected}, but the nodes carry flannel ` +
        `annotations under ${prefixesOnNodes.join(', ')}`,
    );
  }
  if (prefixesOnNodes.length > 1)
    conflicts.push(`nodes carry flannel annotations under several prefixes: ${prefixesOnNodes.join(', ')}`);
  return { setting: pick('flannelAnnotationPrefix', overrides, [fromArgs, fromNodes]), conflicts };
}

/**
 * Resolves every migration setting (FLANNEL_NETWORK … CNI_CONFIG_DIR) from what was detected, and lists where sources
 * disagree. Pure.
 */
export function resolveSettings(
  src: DetectedSources,
  overrides: SettingOverrides,
  annotationPrefix: Setting<string>,
): Resolution {
  const conflicts: string[] = [];
  const nc = src.netConf;
  const env = src.subnetEnv;
  const ncFrom = src.netConfFrom ?? 'net-conf.json';
  const envFrom = src.subnetEnvFrom ?? 'subnet.env';

  // Networks
  const ncNetwork: Candidate | undefined =
    nc?.enableIPv4 !== false && (nc?.network ?? (nc?.networks.length === 1 ? nc.networks[0] : undefined))
      ? {
          value: nc!.network ?? nc!.networks[0],
          source: 'net-conf.json',
          from: `${ncFrom} (${nc!.network ? 'Network' : 'Networks'})`,
        }
      : undefined;
  const envNetwork: Candidate | undefined = env?.network
    ? { value: env.network, source: 'subnet.env', from: `${envFrom} (FLANNEL_NETWORK)` }
    : undefined;
  if (ncNetwork && envNetwork && ncNetwork.value !== envNetwork.value) {
    conflicts.push(
      `net-conf.json Network is ${ncNetwork.value} but subnet.env FLANNEL_NETWORK is ${envNetwork.value} ` +
        `(flanneld has not been restarted since the ConfigMap changed?)`,
    );
  }
  if (nc && nc.networks.length > 1 && !nc.network)
    conflicts.push(`net-conf.json lists several Networks (${nc.networks.join(', ')}); only ${nc.networks[0]} is used`);
  const flannelNetwork = pick('flannelNetwork', overrides, [ncNetwork, envNetwork]);

  const ncNetwork6: Candidate | undefined =
    nc?.enableIPv6 && nc.ipv6Network
      ? { value: nc.ipv6Network, source: 'net-conf.json', from: `${ncFrom} (IPv6Network, EnableIPv6)` }
      : undefined;
  const envNetwork6: Candidate | undefined = env?.ipv6Network
    ? { value: env.ipv6Network, source: 'subnet.env', from: `${envFrom} (FLANNEL_IPV6_NETWORK)` }
    : undefined;
  if (ncNetwork6 && envNetwork6 && ncNetwork6.value !== envNetwork6.value) {
    conflicts.push(
      `net-conf.json IPv6Network is ${ncNetwork6.value} but subnet.env FLANNEL_IPV6_NETWORK is ${envNetwork6.value}`,
    );
  }
  const flannelIpv6Network = pick('flannelIpv6Network', overrides, [ncNetwork6, envNetwork6]);

  // Node podCIDRs against the networks
  const podCidrsOutsideNetwork: string[] = [];
  for (const node of src.nodes) {
    for (const cidr of node.podCidrs) {
      const family = parseCidrOrUndefined(cidr)?.family;
      const network = family === 4 ? flannelNetwork.value : family === 6 ? flannelIpv6Network.value : null;
      if (typeof network === 'string' && !cidrContainsLoose(network, cidr)) {
        podCidrsOutsideNetwork.push(
          `node ${node.name} podCIDR ${cidr} is outside flannel's ${family === 4 ? 'Network' : 'IPv6Network'} ` +
            `${network}`,
        );
      }
    }
  }
  conflicts.push(...podCidrsOutsideNetwork);

  // Subnet lengths: what the nodes actually got wins; net-conf's SubnetLen is only used by flannel without
  // kube-subnet-mgr.
  const subnetLen = (family: 4 | 6): Candidate | undefined => {
    const key = family === 4 ? 'SubnetLen' : 'IPv6SubnetLen';
    const prefixes: Array<{ node: string; prefix: number }> = [];
    for (const node of src.nodes) {
      for (const cidr of node.podCidrs) {
        const p = parseCidrOrUndefined(cidr);
        if (p?.family === family) prefixes.push({ node: node.name, prefix: p.prefix });
      }
    }
    const agreed = consensus(prefixes.map((p) => p.prefix));
    const configured = family === 4 ? nc?.subnetLen : nc?.ipv6SubnetLen;
    if (agreed && !agreed.unanimous) {
      const groups = [...agreed.counts.keys()].map(
        (len) => `/${len} on ${nodeList(prefixes.filter((p) => p.prefix === len).map((p) => p.node))}`,
      );
      conflicts.push(`nodes' IPv${family} podCIDRs have different prefix lengths: ${groups.join('; ')}`);
    }
    if (agreed && configured !== undefined && configured !== agreed.value) {
      conflicts.push(`net-conf.json ${key} is ${configured} but the nodes' IPv${family} podCIDRs are /${agreed.value}`);
    }
    if (agreed)
      return {
        value: agreed.value,
        source: 'node-podcidr',
        from: `prefix of the nodes' IPv${family} podCIDRs${agreed.unanimous ? '' : ' (most common)'}`,
      };
    if (configured !== undefined) return { value: configured, source: 'net-conf.json', from: `${ncFrom} (${key})` };
    const network = family === 4 ? ncNetwork?.value : ncNetwork6?.value;
    const derived = typeof network === 'string' ? flannelDefaultSubnetLen(network) : undefined;
    if (derived !== undefined)
      return {
        value: derived,
        source: 'net-conf.json',
        from: `flannel's default for ${network} (${ncFrom} sets no ${key})`,
      };
    return undefined;
  };
  const flannelSubnetLen = pick('flannelSubnetLen', overrides, [subnetLen(4)]);
  const flannelIpv6SubnetLen = pick('flannelIpv6SubnetLen', overrides, [subnetLen(6)]);

  // The DaemonSet
  const flannelDaemonSetName = pick('flannelDaemonSetName', overrides, [
    src.daemonSet ? { value: src.daemonSet.name, source: 'daemonset', from: src.daemonSet.from } : undefined,
  ]);
  const flannelDaemonSetNamespace = pick('flannelDaemonSetNamespace', overrides, [
    src.daemonSet ? { value: src.daemonSet.namespace, source: 'daemonset', from: src.daemonSet.from } : undefined,
  ]);

  // MTU: subnet.env is what flanneld computed; then what the configuration says; else assumed.
  const envMtu: Candidate | undefined =
    env?.mtu !== undefined ? { value: env.mtu, source: 'subnet.env', from: `${envFrom} (FLANNEL_MTU)` } : undefined;
  const ncMtu: Candidate | undefined =
    nc?.backend.mtu !== undefined
      ? { value: nc.backend.mtu, source: 'net-conf.json', from: `${ncFrom} (Backend.MTU)` }
      : undefined;
  const cniMtu: Candidate | undefined = src.cniMtu
    ? { value: src.cniMtu.value, source: 'cni-conf', from: src.cniMtu.from }
    : undefined;
  if (envMtu && ncMtu && envMtu.value !== ncMtu.value)
    conflicts.push(`subnet.env FLANNEL_MTU is ${envMtu.value} but net-conf.json Backend.MTU is ${ncMtu.value}`);
  if (envMtu && cniMtu && envMtu.value !== cniMtu.value)
    conflicts.push(`subnet.env FLANNEL_MTU is ${envMtu.value} but the CNI configuration sets MTU ${cniMtu.value}`);
  const detectedMtu = envMtu ?? ncMtu ?? cniMtu;
  const mtuAssumed = !detectedMtu && !overrides.flannelMtu;
  const flannelMtu =
    detectedMtu || overrides.flannelMtu
      ? pick('flannelMtu', overrides, [detectedMtu])
      : {
          value: ASSUMED_UNDERLAY_MTU - VXLAN_OVERHEAD_V4,
          source: 'default' as const,
          from:
            `assumed: a ${ASSUMED_UNDERLAY_MTU}-byte underlay minus ${VXLAN_OVERHEAD_V4} bytes of ` +
            `VXLAN overhead${src.subnetEnvMissing ? ` (${src.subnetEnvMissing})` : ''}`,
        };

  // IP masquerade
  const envMasq: Candidate | undefined =
    env?.ipMasq !== undefined
      ? { value: env.ipMasq, source: 'subnet.env', from: `${envFrom} (FLANNEL_IPMASQ)` }
      : undefined;
  const argMasq: Candidate | undefined = src.flanneld
    ? { value: src.flanneld.ipMasq.value, source: 'daemonset-args', from: src.flanneld.ipMasq.from }
    : undefined;
  if (envMasq && argMasq && envMasq.value !== argMasq.value)
    conflicts.push(
      `subnet.env FLANNEL_IPMASQ is ${envMasq.value} but the DaemonSet runs flanneld with ip-masq ${argMasq.value}`,
    );
  const flannelIpMasq = pick('flannelIpMasq', overrides, [envMasq, argMasq]);

  // VNI and port
  const ncVni: Candidate | undefined =
    nc?.backend.vni !== undefined
      ? { value: nc.backend.vni, source: 'net-conf.json', from: `${ncFrom} (Backend.VNI)` }
      : undefined;
  const nodeVnis = src.nodes.filter((n) => n.vni !== undefined).map((n) => ({ node: n.name, vni: n.vni! }));
  const agreedVni = consensus(nodeVnis.map((n) => n.vni));
  if (agreedVni && !agreedVni.unanimous) {
    const groups = [...agreedVni.counts.keys()].map(
      (v) => `VNI ${v} on ${nodeList(nodeVnis.filter((n) => n.vni === v).map((n) => n.node))}`,
    );
    conflicts.push(`nodes' backend-data disagree on the VNI: ${groups.join('; ')}`);
  }
  if (ncVni) {
    const differing = nodeVnis.filter((n) => n.vni !== ncVni.value);
    if (differing.length > 0)
      conflicts.push(
        `net-conf.json Backend.VNI is ${ncVni.value} but backend-data on ${nodeList(differing.map((n) => n.node))} ` +
          `says VNI ${[...new Set(differing.map((n) => n.vni))].join(', ')}`,
      );
  }
  const nodeVni: Candidate | undefined = agreedVni
    ? {
        value: agreedVni.value,
        source: 'node-annotations',
        from: `VNI in the nodes' ${annotationPrefix.value} backend-data${agreedVni.unanimous ? '' : ' (most common)'}`,
      }
    : undefined;
  const flannelVni = pick('flannelVni', overrides, [ncVni, nodeVni]);

  const ncPort: Candidate | undefined =
    nc?.backend.port !== undefined
      ? { value: nc.backend.port, source: 'net-conf.json', from: `${ncFrom} (Backend.Port)` }
      : undefined;
  const vxlanDefaultPort: Candidate | undefined =
    nc && nc.backend.port === undefined && nc.backend.type === 'vxlan'
      ? {
          value: FLANNEL_DEFAULT_VXLAN_PORT,
          source: 'default',
          from: `flannel's VXLAN default (${ncFrom} sets no Backend.Port)`,
        }
      : undefined;
  const flannelPort = pick('flannelPort', overrides, [ncPort, vxlanDefaultPort]);

  const calicoDaemonSetName = pick('calicoDaemonSetName', overrides, [
    src.calicoDaemonSet
      ? {
          value: src.calicoDaemonSet.name,
          source: 'calico-daemonset',
          from: `DaemonSet ${src.calicoDaemonSet.namespace}/${src.calicoDaemonSet.name} exists`,
        }
      : undefined,
  ]);
  const cniConfigDir = pick('cniConfigDir', overrides, [
    src.cniConfigDir ? { value: src.cniConfigDir.value, source: 'daemonset', from: src.cniConfigDir.from } : undefined,
  ]);

  const settings: MigrationSettings = {
    flannelNetwork,
    flannelIpv6Network,
    flannelDaemonSetName,
    flannelDaemonSetNamespace,
    flannelMtu,
    flannelIpMasq,
    flannelSubnetLen,
    flannelIpv6SubnetLen,
    flannelAnnotationPrefix: annotationPrefix,
    flannelVni,
    flannelPort,
    calicoDaemonSetName,
    cniConfigDir,
  };
  return { settings, conflicts, mtuAssumed, podCidrsOutsideNetwork };
}
