import { parseCidrOrUndefined } from '../net/cidr.js';

/**
 * /run/flannel/subnet.env as flanneld writes it (FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ and the
 * IPv6 twins).
 */
export interface SubnetEnv {
  network?: string;
  subnet?: string;
  ipv6Network?: string;
  ipv6Subnet?: string;
  mtu?: number;
  ipMasq?: boolean;
  /** Lines that could not be understood, for the report. */
  problems: string[];
}

export const SUBNET_ENV_PATH = '/run/flannel/subnet.env';

/** Parses KEY=VALUE lines; unknown keys are ignored, bad values are listed in `problems`. */
export function parseSubnetEnv(text: string): SubnetEnv {
  const out: SubnetEnv = { problems: [] };
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      out.problems.push(`not KEY=VALUE: "${line}"`);
      continue;
    }
    const key = line.slice(0, eq).trim();
    const value = line
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    const cidr = (family: 4 | 6): string | undefined => {
      const parsed = parseCidrOrUndefined(value);
      if (parsed?.family === family) return parsed.cidr;
      out.problems.push(`${key} is not an IPv${family} CIDR: "${value}"`);
      return undefined;
    };
    switch (key) {
      case 'FLANNEL_NETWORK':
        out.network = cidr(4);
        break;
      case 'FLANNEL_SUBNET':
        out.subnet = cidr(4);
        break;
      case 'FLANNEL_IPV6_NETWORK':
        out.ipv6Network = cidr(6);
        break;
      case 'FLANNEL_IPV6_SUBNET':
        out.ipv6Subnet = cidr(6);
        break;
      case 'FLANNEL_MTU':
        if (/^\d+$/.test(value) && Number(value) >= 68 && Number(value) <= 65535) out.mtu = Number(value);
        else out.problems.push(`FLANNEL_MTU is not an MTU: "${value}"`);
        break;
      case 'FLANNEL_IPMASQ':
        if (value === 'true' || value === 'false') out.ipMasq = value === 'true';
        else out.problems.push(`FLANNEL_IPMASQ is not true or false: "${value}"`);
        break;
      default:
        break;
    }
  }
  for (const key of ['network', 'subnet', 'ipv6Network', 'ipv6Subnet', 'mtu', 'ipMasq'] as const)
    if (out[key] === undefined) delete out[key];
  return out;
}
