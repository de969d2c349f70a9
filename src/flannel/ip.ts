import ipaddr from 'ipaddr.js';

export type IpFamily = 4 | 6;

export interface ParsedCidr {
  cidr: string;
  family: IpFamily;
  prefix: number;
}

/** Parses "10.244.0.0/16" or "fd00::/56"; undefined when it is not a CIDR. */
export function parseCidrOrUndefined(text: unknown): ParsedCidr | undefined {
  if (typeof text !== 'string' || !ipaddr.isValidCIDR(text.trim())) return undefined;
  const [address, prefix] = ipaddr.parseCIDR(text.trim());
  return { cidr: text.trim(), family: address.kind() === 'ipv4' ? 4 : 6, prefix };
}

export function ipFamily(address: string): IpFamily | undefined {
  if (!ipaddr.isValid(address)) return undefined;
  return ipaddr.parse(address).kind() === 'ipv4' ? 4 : 6;
}

/** True when `inner` (an address or CIDR) lies inside `outer`. False for mixed families or bad input. */
export function cidrContains(outer: string, inner: string): boolean {
  const out = parseCidrOrUndefined(outer);
  if (!out) return false;
  const [outerAddress] = ipaddr.parseCIDR(out.cidr);
  let innerAddress: ipaddr.IPv4 | ipaddr.IPv6;
  let innerPrefix: number;
  const innerCidr = parseCidrOrUndefined(inner);
  if (innerCidr) {
    [innerAddress, innerPrefix] = ipaddr.parseCIDR(innerCidr.cidr);
  } else if (ipaddr.isValid(inner)) {
    innerAddress = ipaddr.parse(inner);
    innerPrefix = innerAddress.kind() === 'ipv4' ? 32 : 128;
  } else {
    return false;
  }
  if (innerAddress.kind() !== outerAddress.kind() || innerPrefix < out.prefix) return false;
  return innerAddress.match(outerAddress, out.prefix);
}

/** Same address, whatever the spelling ("fd00::1" and "fd00:0::1"). */
export function sameAddress(a: string, b: string): boolean {
  if (!ipaddr.isValid(a) || !ipaddr.isValid(b)) return a === b;
  const x = ipaddr.parse(a);
  const y = ipaddr.parse(b);
  return x.kind() === y.kind() && x.toNormalizedString() === y.toNormalizedString();
}
