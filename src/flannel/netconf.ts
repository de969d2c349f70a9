import { parseCidrOrUndefined } from '../net/cidr.js';

/**
 * flannel's net-conf.json (pkg/subnet/config.go). flanneld decodes it with Go's encoding/json, which
 * matches keys case-insensitively, so "network" and "Network" are the same key here too.
 */
export interface NetConf {
  network?: string;
  ipv6Network?: string;
  /** Only used when "Network" is absent (flannel's multi-network form). */
  networks: string[];
  enableIPv4: boolean;
  enableIPv6: boolean;
  subnetLen?: number;
  ipv6SubnetLen?: number;
  backend: NetConfBackend;
}

export interface NetConfBackend {
  /** Lower-cased; "udp" when the Backend section is missing (flannel's default). */
  type: string;
  /** Backend.Type was not written: the type is flannel's default. */
  typeDefaulted: boolean;
  vni?: number;
  port?: number;
  directRouting?: boolean;
  mtu?: number;
}

export class NetConfError extends Error {
  constructor(readonly problems: string[]) {
    super(`net-conf.json is not valid: ${problems.join('; ')}`);
    this.name = 'NetConfError';
  }
}

/** flannel's VXLAN port default (pkg/backend/vxlan): port 0 means the kernel's 8472. */
export const FLANNEL_DEFAULT_VXLAN_PORT = 8472;
/** A VXLAN header over IPv4 costs 50 bytes: flannel sets the device MTU to the underlay's minus 50. */
export const VXLAN_OVERHEAD_V4 = 50;
export const ASSUMED_UNDERLAY_MTU = 1500;

type Json = Record<string, unknown>;

function lookup(obj: Json, key: string): unknown {
  const wanted = key.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === wanted) return v;
  return undefined;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses and validates net-conf.json. Throws NetConfError listing every problem found. */
export function parseNetConf(text: string): NetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new NetConfError([`not JSON (${(err as Error).message})`]);
  }
  if (!isObject(raw)) throw new NetConfError(['expected a JSON object']);
  const problems: string[] = [];

  const bool = (key: string, fallback: boolean, obj: Json = raw as Json): boolean => {
    const v = lookup(obj, key);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') {
      problems.push(`${key} must be true or false (got ${JSON.stringify(v)})`);
      return fallback;
    }
    return v;
  };
  const int = (key: string, min: number, max: number, obj: Json = raw as Json): number | undefined => {
    const v = lookup(obj, key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      problems.push(`${key} must be a whole number from ${min} to ${max} (got ${JSON.stringify(v)})`);
      return undefined;
    }
    return v;
  };
  const cidr = (key: string, family: 4 | 6, value = lookup(raw as Json, key)): string | undefined => {
    if (value === undefined || value === null || value === '') return undefined;
    const parsed = parseCidrOrUndefined(value);
    if (!parsed || parsed.family !== family) {
      problems.push(`${key} must be an IPv${family} CIDR (got ${JSON.stringify(value)})`);
      return undefined;
    }
    return parsed.cidr;
  };

  const enableIPv4 = bool('EnableIPv4', true);
  const enableIPv6 = bool('EnableIPv6', false);
  const network = cidr('Network', 4);
  const ipv6Network = cidr('IPv6Network', 6);
  const networksRaw = lookup(raw, 'Networks');
  const networks: string[] = [];
  if (Array.isArray(networksRaw)) {
    for (const n of networksRaw) {
      const c = cidr('Networks[]', 4, n);
      if (c) networks.push(c);
    }
  } else if (networksRaw !== undefined && networksRaw !== null) {
    problems.push('Networks must be a list of IPv4 CIDRs');
  }
  const subnetLen = int('SubnetLen', 0, 32);
  const ipv6SubnetLen = int('IPv6SubnetLen', 0, 128);

  if (enableIPv4 && !network && networks.length === 0)
    problems.push('Network is missing (flannel requires it unless EnableIPv4 is false)');
  if (enableIPv6 && !ipv6Network) problems.push('IPv6Network is missing although EnableIPv6 is true');
  if (!enableIPv4 && !enableIPv6) problems.push('EnableIPv4 and EnableIPv6 are both false');
  if (network && subnetLen !== undefined && subnetLen !== 0) {
    const prefix = parseCidrOrUndefined(network)!.prefix;
    if (subnetLen > 30) problems.push(`SubnetLen ${subnetLen} leaves no room for a gateway and pods (at most 30)`);
    else if (subnetLen < prefix) problems.push(`SubnetLen ${subnetLen} is shorter than Network's prefix /${prefix}`);
  }

  const backendRaw = lookup(raw, 'Backend');
  let backend: NetConfBackend = { type: 'udp', typeDefaulted: true };
  if (backendRaw !== undefined && backendRaw !== null) {
    if (!isObject(backendRaw)) {
      problems.push('Backend must be an object such as {"Type": "vxlan"}');
    } else {
      const type = lookup(backendRaw, 'Type');
      if (type !== undefined && typeof type !== 'string') problems.push('Backend.Type must be a string');
      backend = {
        type: typeof type === 'string' && type.trim() ? type.trim().toLowerCase() : 'udp',
        typeDefaulted: typeof type !== 'string' || !type.trim(),
        vni: int('VNI', 0, 16777215, backendRaw),
        port: int('Port', 0, 65535, backendRaw),
        directRouting: bool('DirectRouting', false, backendRaw),
        mtu: int('MTU', 0, 65535, backendRaw),
      };
      if (lookup(backendRaw, 'DirectRouting') === undefined) delete backend.directRouting;
      for (const key of ['vni', 'port', 'mtu'] as const)
        if (backend[key] === undefined || backend[key] === 0) delete backend[key];
    }
  }

  if (problems.length > 0) throw new NetConfError(problems);
  const out: NetConf = { networks, enableIPv4, enableIPv6, backend };
  if (network) out.network = network;
  if (ipv6Network) out.ipv6Network = ipv6Network;
  if (subnetLen) out.subnetLen = subnetLen;
  if (ipv6SubnetLen) out.ipv6SubnetLen = ipv6SubnetLen;
  return out;
}

/**
 * The per-node subnet length flannel derives when SubnetLen is not set (pkg/subnet/config.go):
 * a /24 when the network is /22 or larger, otherwise the network split into four. IPv6: /64 or split in four.
 */
export function flannelDefaultSubnetLen(networkCidr: string): number | undefined {
  const parsed = parseCidrOrUndefined(networkCidr);
  if (!parsed) return undefined;
  if (parsed.family === 4) return parsed.prefix <= 22 ? 24 : parsed.prefix + 2;
  return parsed.prefix <= 62 ? 64 : parsed.prefix + 2;
}

/**
 * An MTU written in the CNI configuration of the flannel ConfigMap: Canal's `veth_mtu` (0 means
 * auto-detect, so it says nothing), or an "mtu" in flannel's cni-conf.json delegate.
 */
export function cniConfMtu(data: Record<string, string>): { value: number; key: string } | undefined {
  const veth = data.veth_mtu?.trim();
  if (veth && /^\d+$/.test(veth) && Number(veth) > 0) return { value: Number(veth), key: 'veth_mtu' };
  const cniConf = data['cni-conf.json'];
  if (!cniConf) return undefined;
  try {
    const conf = JSON.parse(cniConf) as {
      plugins?: Array<{ type?: string; delegate?: { mtu?: unknown } }>;
      delegate?: { mtu?: unknown };
    };
    const delegate = conf.plugins?.find((p) => p.type === 'flannel')?.delegate ?? conf.delegate;
    if (typeof delegate?.mtu === 'number' && delegate.mtu > 0)
      return { value: delegate.mtu, key: 'cni-conf.json (delegate.mtu)' };
  } catch {
    // an unreadable cni-conf.json carries no MTU; flanneld itself does not read it
  }
  return undefined;
}
