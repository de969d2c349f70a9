/**
 * The migration settings: every option of Calico's flannel-migration controller (FLANNEL_NETWORK …
 * CNI_CONFIG_DIR), each resolved as flag > environment variable > detected > default, and each
 * carrying where its value came from.
 */
import { DEFAULT_CALICO_DAEMONSET, FLANNEL_DAEMONSETS } from '../names.js';

export type SettingSource =
  | 'flag'
  | 'env'
  | 'net-conf.json'
  | 'daemonset-args'
  | 'daemonset'
  | 'node-annotations'
  | 'node-podcidr'
  | 'subnet.env'
  | 'calico-daemonset'
  | 'cni-conf'
  | 'default'
  | 'unset';

export interface Setting<T> {
  value: T;
  source: SettingSource;
  /** e.g. "ConfigMap kube-flannel/kube-flannel-cfg key net-conf.json" */
  from?: string;
}

export interface MigrationSettings {
  flannelNetwork: Setting<string | null>;
  flannelIpv6Network: Setting<string | null>;
  flannelDaemonSetName: Setting<string>;
  flannelDaemonSetNamespace: Setting<string>;
  flannelMtu: Setting<number>;
  flannelIpMasq: Setting<boolean>;
  flannelSubnetLen: Setting<number>;
  flannelIpv6SubnetLen: Setting<number>;
  flannelAnnotationPrefix: Setting<string>;
  flannelVni: Setting<number>;
  flannelPort: Setting<number>;
  calicoDaemonSetName: Setting<string>;
  cniConfigDir: Setting<string>;
}

export type SettingKey = keyof MigrationSettings;
export type SettingType = 'cidr' | 'cidr6' | 'string' | 'int' | 'bool' | 'path';

export interface SettingDefinition {
  key: SettingKey;
  /** The environment variable name of Calico's flannel-migration controller. */
  env: string;
  flag: string;
  type: SettingType;
  defaultValue: string | number | boolean | null;
  /** Where the default comes from, when not from Calico's flannel-migration controller. */
  defaultFrom?: string;
  description: string;
  min?: number;
  max?: number;
}

export const SETTING_DEFINITIONS: readonly SettingDefinition[] = [
  {
    key: 'flannelNetwork',
    env: 'FLANNEL_NETWORK',
    flag: '--flannel-network',
    type: 'cidr',
    defaultValue: null,
    description: 'IPv4 network CIDR used by flannel for the cluster',
  },
  {
    key: 'flannelIpv6Network',
    env: 'FLANNEL_IPV6_NETWORK',
    flag: '--flannel-ipv6-network',
    type: 'cidr6',
    defaultValue: null,
    description: 'IPv6 network CIDR used by flannel for the cluster',
  },
  {
    key: 'flannelDaemonSetName',
    env: 'FLANNEL_DAEMONSET_NAME',
    flag: '--flannel-daemonset',
    type: 'string',
    defaultValue: FLANNEL_DAEMONSETS[0].name,
    defaultFrom: "today's kube-flannel.yml",
    description: 'name of the flannel (or Canal) DaemonSet',
  },
  {
    key: 'flannelDaemonSetNamespace',
    env: 'FLANNEL_DAEMONSET_NAMESPACE',
    flag: '--flannel-namespace',
    type: 'string',
    defaultValue: FLANNEL_DAEMONSETS[0].namespace,
    defaultFrom: "today's kube-flannel.yml",
    description: 'namespace of the flannel (or Canal) DaemonSet',
  },
  {
    key: 'flannelMtu',
    env: 'FLANNEL_MTU',
    flag: '--flannel-mtu',
    type: 'int',
    defaultValue: 1450,
    description: 'MTU of the flannel VXLAN device',
    min: 576,
    max: 9000,
  },
  {
    key: 'flannelIpMasq',
    env: 'FLANNEL_IP_MASQ',
    flag: '--flannel-ip-masq',
    type: 'bool',
    defaultValue: true,
    description: "whether flannel masquerades outbound traffic (becomes the pool's natOutgoing)",
  },
  {
    key: 'flannelSubnetLen',
    env: 'FLANNEL_SUBNET_LEN',
    flag: '--flannel-subnet-len',
    type: 'int',
    defaultValue: 24,
    description: 'per-node IPv4 subnet length',
    min: 8,
    max: 30,
  },
  {
    key: 'flannelIpv6SubnetLen',
    env: 'FLANNEL_IPV6_SUBNET_LEN',
    flag: '--flannel-ipv6-subnet-len',
    type: 'int',
    defaultValue: 64,
    description: 'per-node IPv6 subnet length',
    min: 8,
    max: 126,
  },
  {
    key: 'flannelAnnotationPrefix',
    env: 'FLANNEL_ANNOTATION_PREFIX',
    flag: '--flannel-annotation-prefix',
    type: 'string',
    defaultValue: 'flannel.alpha.coreos.com',
    description: "flannel's --kube-annotation-prefix",
  },
  {
    key: 'flannelVni',
    env: 'FLANNEL_VNI',
    flag: '--flannel-vni',
    type: 'int',
    defaultValue: 1,
    description: 'VXLAN network identifier',
    min: 1,
    max: 16777215,
  },
  {
    key: 'flannelPort',
    env: 'FLANNEL_PORT',
    flag: '--flannel-port',
    type: 'int',
    defaultValue: 8472,
    description: 'UDP port of the VXLAN device',
    min: 1,
    max: 65535,
  },
  {
    key: 'calicoDaemonSetName',
    env: 'CALICO_DAEMONSET_NAME',
    flag: '--calico-daemonset',
    type: 'string',
    defaultValue: DEFAULT_CALICO_DAEMONSET,
    description: 'name of the calico-node DaemonSet in kube-system',
  },
  {
    key: 'cniConfigDir',
    env: 'CNI_CONFIG_DIR',
    flag: '--cni-config-dir',
    type: 'path',
    defaultValue: '/etc/cni/net.d',
    description: 'directory on each host holding the CNI config files',
  },
];

/**
 * The name of Calico's DaemonSet in `settings` (a plan's, a detection's or the operator's overrides), else the
 * default.
 */
export function calicoDaemonSetName(settings: { calicoDaemonSetName?: { value: unknown } }): string {
  return String(settings.calicoDaemonSetName?.value ?? DEFAULT_CALICO_DAEMONSET);
}

export type SettingOverrides = Partial<{
  [K in SettingKey]: { value: MigrationSettings[K]['value']; source: 'flag' | 'env' };
}>;

export class SettingError extends Error {}

function parseValue(def: SettingDefinition, raw: string, origin: string): string | number | boolean {
  const bad = (why: string) => new SettingError(`${origin}: ${why} (got "${raw}")`);
  switch (def.type) {
    case 'int': {
      if (!/^\d+$/.test(raw.trim())) throw bad('expected a whole number');
      const n = Number(raw);
      if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max))
        throw bad(`expected a number from ${def.min} to ${def.max}`);
      return n;
    }
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      throw bad('expected true or false');
    }
    case 'cidr':
    case 'cidr6': {
      const family = def.type === 'cidr' ? 'ipv4' : 'ipv6';
      const m = /^([0-9a-fA-F.:]+)\/(\d{1,3})$/.exec(raw.trim());
      if (!m || !ipaddrValid(m[1], family))
        throw bad(
          `expected an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} CIDR such as ${family === 'ipv4' ? '10.244.0.0/16' : 'fd00:10:244::/56'}`,
        );
      const len = Number(m[2]);
      if (len > (family === 'ipv4' ? 32 : 128)) throw bad('prefix length out of range');
      return raw.trim();
    }
    case 'path':
      if (!raw.startsWith('/')) throw bad('expected an absolute path');
      return raw;
    default:
      if (!raw.trim()) throw bad('expected a non-empty value');
      return raw.trim();
  }
}

function ipaddrValid(addr: string, family: 'ipv4' | 'ipv6'): boolean {
  if (family === 'ipv4') return /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(addr);
  return addr.includes(':') && /^[0-9a-fA-F:]+$/.test(addr) && (addr.match(/::/g) ?? []).length <= 1;
}

/**
 * Reads overrides from flags (commander option values, keyed by SettingKey) and from Calico's flannel-migration controller's
 * environment variables. A flag wins over the environment. Throws SettingError on bad input.
 */
export function parseOverrides(
  flags: Partial<Record<SettingKey, string | undefined>>,
  env: NodeJS.ProcessEnv,
): SettingOverrides {
  const out: Record<string, { value: unknown; source: 'flag' | 'env' }> = {};
  for (const def of SETTING_DEFINITIONS) {
    const flag = flags[def.key];
    const fromEnv = env[def.env];
    if (flag !== undefined) out[def.key] = { value: parseValue(def, String(flag), def.flag), source: 'flag' };
    else if (fromEnv !== undefined && fromEnv !== '')
      out[def.key] = { value: parseValue(def, fromEnv, `environment variable ${def.env}`), source: 'env' };
  }
  return splitDaemonSetRef(out as SettingOverrides);
}

/** "name" or "namespace/name". Undefined when malformed. */
export function parseDaemonSetRef(ref: string): { name: string; namespace?: string } | undefined {
  const parts = ref.trim().split('/');
  const dns = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
  if (parts.length === 1 && dns.test(parts[0])) return { name: parts[0] };
  if (parts.length === 2 && dns.test(parts[0]) && dns.test(parts[1])) return { namespace: parts[0], name: parts[1] };
  return undefined;
}

/** A DaemonSet named "namespace/name" (flag or FLANNEL_DAEMONSET_NAME) also sets the namespace. */
function splitDaemonSetRef(overrides: SettingOverrides): SettingOverrides {
  const name = overrides.flannelDaemonSetName;
  if (name) {
    const def = SETTING_DEFINITIONS.find((d) => d.key === 'flannelDaemonSetName')!;
    const origin = name.source === 'flag' ? def.flag : `environment variable ${def.env}`;
    const ref = parseDaemonSetRef(name.value);
    if (!ref) throw new SettingError(`${origin}: expected NAME or NAMESPACE/NAME of a DaemonSet (got "${name.value}")`);
    overrides.flannelDaemonSetName = { value: ref.name, source: name.source };
    if (ref.namespace) {
      const namespace = overrides.flannelDaemonSetNamespace;
      if (namespace && namespace.value !== ref.namespace && namespace.source === name.source) {
        throw new SettingError(
          `${origin} names namespace ${ref.namespace}, but ${namespace.source === 'flag' ? '--flannel-namespace' : 'FLANNEL_DAEMONSET_NAMESPACE'} ` +
            `says ${namespace.value}`,
        );
      }
      if (!namespace || namespace.source === 'env' || namespace.value === ref.namespace)
        overrides.flannelDaemonSetNamespace = { value: ref.namespace, source: name.source };
    }
  }
  return overrides;
}
