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
      `cannot split ${formatCidr(c)} into /${prefix}: the prefix length must be between ${c.prefix} ` +
        `and ${BITS[c.family]}`,
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
    if (!Number.isInteger(limit) || limit < 0)
      throw new Error(`invalid limit ${limit}: expected a non-negative integer`);
    if (BigInt(limit) < count) count = BigInt(limit);
  } else if (total > BigInt(MAX_SUBDIVISIONS)) {
    throw new Error(
      `splitting ${formatCidr(c)} into /${prefix} gives ${total} CIDRs; refusing more than ${MAX_SUBDIVISIONS}`,
    );
  }
  const step = 1n << BigInt(BITS[c.family] - prefix);
  const out: string[] = [];
  for (let i = 0n; i < count; i++) {
    out.push(formatCidr({ family: c.family, prefix, network: c.network + i * step }));
  }
  return out;
}

/** A single address as a CIDR of full length. */
function addressAsCidr(a: ParsedAddress): CidrValue {
  return { family: a.family, prefix: BITS[a.family], network: a.value };
}

function containsValue(o: CidrValue, i: CidrValue): boolean {
  if (i.family !== o.family || i.prefix < o.prefix) return false;
  return (i.network & ~hostMask(o.family, o.prefix)) === o.network;
}

/** Whether `inner` (an IP or a CIDR) lies entirely inside `outer`. Different families never contain each other. */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidrValue(outer, false);
  const i = inner.includes('/')
    ? parseCidrValue(inner, false)
    : addressAsCidr(parseAddress(inner, 'invalid IP address'));
  return containsValue(o, i);
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

// Tolerant forms, for values read from the cluster or from files that nothing has validated yet:
// they answer undefined (or false) instead of throwing, and accept CIDRs with host bits set.

/** A CIDR (host bits allowed) with no whitespace inside it; otherwise undefined. */
function cidrValueOrUndefined(text: unknown): CidrValue | undefined {
  if (typeof text !== 'string' || /\s/.test(text.trim())) return undefined;
  try {
    return parseCidrValue(text, true);
  } catch {
    return undefined;
  }
}

/** An address written exactly, without surrounding whitespace; otherwise undefined. */
function addressOrUndefined(text: unknown): ParsedAddress | undefined {
  if (typeof text !== 'string' || text !== text.trim()) return undefined;
  try {
    return parseAddress(text, 'invalid IP address');
  } catch {
    return undefined;
  }
}

/**
 * Parses "10.244.0.0/16" or "fd00::/56" (host bits allowed); undefined when it is not a CIDR.
 * `cidr` is the text as given, trimmed but not canonicalised.
 */
export function parseCidrOrUndefined(text: unknown): { cidr: string; family: Family; prefix: number } | undefined {
  const c = cidrValueOrUndefined(text);
  if (!c) return undefined;
  return { cidr: (text as string).trim(), family: c.family, prefix: c.prefix };
}

/** Family of an IP address (a CIDR is not one); undefined when `address` is not an address. */
export function ipFamilyOrUndefined(address: string): Family | undefined {
  return addressOrUndefined(address)?.family;
}

/** Canonical text of an IP address ("fd00::0001" -> "fd00::1"); undefined when it is not one. */
export function canonicalIpOrUndefined(text: string | undefined | null): string | undefined {
  if (!text) return undefined;
  try {
    return canonicalIp(text);
  } catch {
    return undefined;
  }
}

/**
 * Same address, whatever the spelling ("fd00::1" and "fd00:0::1"); plain string equality when either is not an
 * address.
 */
export function sameAddress(a: string, b: string): boolean {
  const x = addressOrUndefined(a);
  const y = addressOrUndefined(b);
  if (!x || !y) return a === b;
  return x.family === y.family && x.value === y.value;
}

/**
 * Like cidrContains, but host bits may be set in either CIDR, and malformed input (of either
 * argument) gives false instead of an error.
 */
export function cidrContainsLoose(outer: string, inner: string): boolean {
  const o = cidrValueOrUndefined(outer);
  if (!o) return false;
  let i = cidrValueOrUndefined(inner);
  if (!i) {
    const a = addressOrUndefined(inner);
    if (!a) return false;
    i = addressAsCidr(a);
  }
  return containsValue(o, i);
}

/**
 * Offset of `ip` from the address written before the slash of `cidr` (0 for the network address).
 * Unlike addressIndex it does not check that `ip` lies inside `cidr` (nor that host bits are clear),
 * so the result may be negative or past the end; it throws only when an address is malformed.
 */
export function ordinalIn(cidr: string, ip: string): bigint {
  const a = parseAddress(ip, 'invalid IP address');
  return a.value - parseAddress(cidr.split('/')[0], `invalid CIDR "${cidr}"`).value;
}

export interface AddressRange {
  family: Family;
  /** First address, as a number. */
  start: bigint;
  /** Last address, as a number. */
  end: bigint;
}

/** The first and last address of a CIDR (host bits allowed) or of a single address. Throws on bad input. */
export function addressRange(cidrOrIp: string): AddressRange {
  const c = cidrOrIp.includes('/')
    ? parseCidrValue(cidrOrIp, true)
    : addressAsCidr(parseAddress(cidrOrIp, 'invalid IP address'));
  return { family: c.family, start: c.network, end: c.network | hostMask(c.family, c.prefix) };
}

/** Finds the stored ranges that overlap a CIDR or address, without scanning them all. */
export class RangeIndex<T> {
  private readonly items: Array<{ range: AddressRange; value: T }> = [];
  private sorted = true;
  private maxSpan = 0n;

  /** Stores `value` under a CIDR or address; false (and nothing stored) when it is malformed. */
  add(cidr: string, value: T): boolean {
    let range: AddressRange;
    try {
      range = addressRange(cidr);
    } catch {
      return false;
    }
    this.items.push({ range, value });
    const span = range.end - range.start;
    if (span > this.maxSpan) this.maxSpan = span;
    this.sorted = false;
    return true;
  }

  /** Values whose range shares an address with `cidrOrIp`; none when it is malformed. */
  overlapping(cidrOrIp: string): T[] {
    let q: AddressRange;
    try {
      q = addressRange(cidrOrIp);
    } catch {
      return [];
    }
    if (!this.sorted) {
      this.items.sort((a, b) =>
        a.range.family !== b.range.family
          ? a.range.family - b.range.family
          : a.range.start < b.range.start
            ? -1
            : a.range.start > b.range.start
              ? 1
              : 0,
      );
      this.sorted = true;
    }
    // first item that could reach q: family >= q.family and start >= q.start - maxSpan
    const from = q.start - this.maxSpan;
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const r = this.items[mid].range;
      if (r.family < q.family || (r.family === q.family && r.start < from)) lo = mid + 1;
      else hi = mid;
    }
    const out: T[] = [];
    for (let i = lo; i < this.items.length; i++) {
      const r = this.items[i].range;
      if (r.family !== q.family || r.start > q.end) break;
      if (r.end >= q.start) out.push(this.items[i].value);
    }
    return out;
  }
}
