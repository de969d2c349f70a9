/**
 * CIDR and address arithmetic for IPv4 and IPv6, with the canonical text forms Go's `net` package
 * prints (dotted quad; RFC 5952 for IPv6), because Calico derives object names and `spec.cidr`
 * values from those forms (libcalico-go/lib/names/cidr.go `CIDRToName`).
 */
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

export interface ParsedCidr {
  /** Canonical network address (host bits cleared). */
  network: string;
  prefix: number;
  family: Family;
}

/** Refuse to enumerate more sub-CIDRs than this in one call. */
export const MAX_SUBDIVISIONS = 1 << 20;

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

interface ParsedAddress {
  family: Family;
  value: bigint;
}

function parseAddress(text: string, context: string): ParsedAddress {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new Error(`${context}: empty address`);
  }
  const s = text.trim();
  if (s.includes(':')) {
    if (s.includes('%')) {
      throw new Error(`${context}: "${text}" has a zone index; zone indexes are not allowed here`);
    }
    if (!ipaddr.IPv6.isValid(s)) {
      throw new Error(`${context}: "${text}" is not a valid IPv6 address`);
    }
    const addr = ipaddr.IPv6.parse(s);
    if (addr.isIPv4MappedAddress()) {
      throw new Error(`${context}: "${text}" is an IPv4-mapped IPv6 address; use the plain IPv4 form`);
    }
    let value = 0n;
    for (const part of addr.parts) value = (value << 16n) | BigInt(part);
    return { family: 6, value };
  }
  // Only plain dotted quads: ipaddr.js would otherwise accept forms like "10.1" or "0x0a.0.0.1".
  if (!ipaddr.IPv4.isValidFourPartDecimal(s)) {
    throw new Error(`${context}: "${text}" is not a valid IPv4 address (expected a.b.c.d)`);
  }
  let value = 0n;
  for (const octet of ipaddr.IPv4.parse(s).octets) value = (value << 8n) | BigInt(octet);
  return { family: 4, value };
}

function formatAddress(family: Family, value: bigint): string {
  if (family === 4) {
    const octets: number[] = [];
    for (let shift = 24n; shift >= 0n; shift -= 8n) octets.push(Number((value >> shift) & 0xffn));
    return octets.join('.');
  }
  const parts: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) parts.push(Number((value >> shift) & 0xffffn));
  return new ipaddr.IPv6(parts).toRFC5952String();
}

function hostMask(family: Family, prefix: number): bigint {
  return (1n << BigInt(BITS[family] - prefix)) - 1n;
}

interface CidrValue {
  family: Family;
  prefix: number;
  network: bigint;
}

function parseCidrValue(cidr: string, loose: boolean): CidrValue {
  if (typeof cidr !== 'string' || cidr.trim() === '') {
    throw new Error('invalid CIDR: empty string');
  }
  const text = cidr.trim();
  const slash = text.indexOf('/');
  if (slash < 0 || slash !== text.lastIndexOf('/')) {
    throw new Error(`invalid CIDR "${cidr}": expected <address>/<prefix length>`);
  }
  const prefixText = text.slice(slash + 1);
  const addr = parseAddress(text.slice(0, slash), `invalid CIDR "${cidr}"`);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > BITS[addr.family]) {
    throw new Error(`invalid CIDR "${cidr}": prefix length must be 0-${BITS[addr.family]} for IPv${addr.family}`);
  }
  const prefix = Number(prefixText);
  const network = addr.value & ~hostMask(addr.family, prefix);
  if (!loose && network !== addr.value) {
    throw new Error(
      `invalid CIDR "${cidr}": host bits are set; the network is ${formatAddress(addr.family, network)}/${prefix}`,
    );
  }
  return { family: addr.family, prefix, network };
}

function formatCidr(c: CidrValue): string {
  return `${formatAddress(c.family, c.network)}/${c.prefix}`;
}

/**
 * Parses a CIDR into its canonical network address, prefix length and family.
 * Throws on malformed input and, unless `loose` is set, when host bits are set.
 */
export function parseCidr(cidr: string, opts: { loose?: boolean } = {}): ParsedCidr {
  const c = parseCidrValue(cidr, opts.loose ?? false);
  return { network: formatAddress(c.family, c.network), prefix: c.prefix, family: c.family };
}

/** Canonical text of a CIDR ("fd00:0:0:1::/64" -> "fd00:0:0:1::/64", "FD00::0/8" -> "fd00::/8"). */
export function canonicalCidr(cidr: string, opts: { loose?: boolean } = {}): string {
  return formatCidr(parseCidrValue(cidr, opts.loose ?? false));
}

/** Canonical text of an IP address (RFC 5952 for IPv6). */
export function canonicalIp(ip: string): string {
  const a = parseAddress(ip, 'invalid IP address');
  return formatAddress(a.family, a.value);
}

/** Family of an IP address or a CIDR (host bits allowed). */
export function familyOf(cidrOrIp: string): Family {
  if (typeof cidrOrIp === 'string' && cidrOrIp.includes('/')) return parseCidrValue(cidrOrIp, true).family;
  return parseAddress(cidrOrIp, 'invalid IP address or CIDR').family;
}

/** First address of a CIDR: "10.244.1.0/24" -> "10.244.1.0". */
export function networkAddress(cidr: string): string {
  const c = parseCidrValue(cidr, false);
  return formatAddress(c.family, c.network);
}

/** Address at `index` inside a CIDR (0 = network address). */
export function addressAt(cidr: string, index: bigint | number): string {
  const c = parseCidrValue(cidr, false);
  const i = BigInt(index);
  if (i < 0n || i > hostMask(c.family, c.prefix)) {
    throw new Error(`address index ${i} is outside ${formatCidr(c)}`);
  }
  return formatAddress(c.family, c.network + i);
}

/** Position of `ip` inside `cidr` (Calico's IPToOrdinal); throws if it is outside. */
export function addressIndex(cidr: string, ip: string): bigint {
  const c = parseCidrValue(cidr, false);
  const a = parseAddress(ip, 'invalid IP address');
  if (a.family !== c.family || (a.value & ~hostMask(c.family, c.prefix)) !== c.network) {
    throw new Error(`IP ${ip} is not in ${formatCidr(c)}`);
  }
  return a.value - c.network;
}

/** Number of addresses in a CIDR. */
export function addressCount(cidr: string): bigint {
  const c = parseCidrValue(cidr, false);
  return 1n << BigInt(BITS[c.family] - c.prefix);
}

/** Number of sub-CIDRs of length `prefix` in `cidr`, without enumerating them. */
export function subdivisionCount(cidr: string, prefix: number): bigint {
  const c = parseCidrValue(cidr, false);
  checkSubPrefix(c, prefix);
  return 1n << BigInt(prefix - c.prefix);
}

function checkSubPrefix(c: CidrValue, prefix: number): void {
  if (!Number.isInteger(prefix) || prefix < c.prefix || prefix > BITS[c.family]) {
    throw new Error(
      `cannot split ${formatCidr(c)} into /${prefix}: the prefix length must be between ${c.prefix} and ${BITS[c.family]}`,
    );
  }
}

/**
 * Splits a CIDR into consecutive sub-CIDRs of length `prefix`, in address order
 * ("10.244.1.0/24", 26 -> 4 CIDRs), as libcalico-go's `blockGenerator` walks a CIDR.
 * `limit` caps the output to the first `limit` sub-CIDRs; without it, more than
 * MAX_SUBDIVISIONS results is an error.
 */
export function subdivide(cidr: string, prefix: number, limit?: number): string[] {
  const c = parseCidrValue(cidr, false);
  checkSubPrefix(c, prefix);
  const total = 1n << BigInt(prefix - c.prefix);
  let count = total;
  if (limit !== undefined) {
    if (!Number.isInteger(limit) || limit < 0) throw new Error(`invalid limit ${limit}: expected a non-negative integer`);
    if (BigInt(limit) < count) count = BigInt(limit);
  } else if (total > BigInt(MAX_SUBDIVISIONS)) {
    throw new Error(`splitting ${formatCidr(c)} into /${prefix} gives ${total} CIDRs; refusing more than ${MAX_SUBDIVISIONS}`);
  }
  const step = 1n << BigInt(BITS[c.family] - prefix);
  const out: string[] = [];
  for (let i = 0n; i < count; i++) {
    out.push(formatCidr({ family: c.family, prefix, network: c.network + i * step }));
  }
  return out;
}

/** Whether `inner` (an IP or a CIDR) lies entirely inside `outer`. Different families never contain each other. */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidrValue(outer, false);
  let i: CidrValue;
  if (inner.includes('/')) {
    i = parseCidrValue(inner, false);
  } else {
    const a = parseAddress(inner, 'invalid IP address');
    i = { family: a.family, prefix: BITS[a.family], network: a.value };
  }
  if (i.family !== o.family || i.prefix < o.prefix) return false;
  return (i.network & ~hostMask(o.family, o.prefix)) === o.network;
}

/** Whether two CIDRs share at least one address. */
export function cidrsOverlap(a: string, b: string): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/**
 * Kubernetes object name for a CIDR, exactly as libcalico-go/lib/names/cidr.go `CIDRToName`:
 * the canonical CIDR text with ".", ":" and "/" replaced by "-" ("10.244.1.0/26" -> "10-244-1-0-26",
 * "fd00:10:244:1::/122" -> "fd00-10-244-1---122").
 */
export function cidrToName(cidr: string): string {
  return canonicalCidr(cidr).replace(/[.:/]/g, '-');
}
