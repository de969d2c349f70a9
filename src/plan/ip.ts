/** Small address helpers the preflight needs beyond src/calico/cidr.ts. */
import ipaddr from 'ipaddr.js';

/** Canonical text of an address ("fd00::0001" → "fd00::1"); undefined when it is not one. */
export function normalizeIp(text: string | undefined | null): string | undefined {
  if (!text) return undefined;
  try {
    return ipaddr.parse(text.trim()).toString();
  } catch {
    return undefined;
  }
}

export function ipToBigInt(text: string): bigint {
  const bytes = ipaddr.parse(text.trim()).toByteArray();
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** Position of an address inside a CIDR (0 for the network address). */
export function ordinalIn(cidr: string, ip: string): bigint {
  return ipToBigInt(ip) - ipToBigInt(cidr.split('/')[0]);
}

export function isIpv4(text: string): boolean {
  return !text.includes(':');
}

export interface IpRange {
  family: 4 | 6;
  start: bigint;
  end: bigint;
}

/** The first and last address of a CIDR (or a single address). Throws on bad input. */
export function rangeOf(cidrOrIp: string): IpRange {
  const [addr, len] = cidrOrIp.trim().split('/');
  const parsed = ipaddr.parse(addr);
  const bits = parsed.kind() === 'ipv4' ? 32 : 128;
  const prefix = len === undefined ? bits : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) throw new Error(`invalid prefix length in "${cidrOrIp}"`);
  const size = 1n << BigInt(bits - prefix);
  const start = (ipToBigInt(addr) / size) * size;
  return { family: bits === 32 ? 4 : 6, start, end: start + size - 1n };
}

/** Finds the stored ranges that overlap a CIDR or address, without scanning them all. */
export class RangeIndex<T> {
  private readonly items: Array<{ range: IpRange; value: T }> = [];
  private sorted = true;
  private maxSpan = 0n;

  add(cidr: string, value: T): boolean {
    let range: IpRange;
    try {
      range = rangeOf(cidr);
    } catch {
      return false;
    }
    this.items.push({ range, value });
    const span = range.end - range.start;
    if (span > this.maxSpan) this.maxSpan = span;
    this.sorted = false;
    return true;
  }

  overlapping(cidrOrIp: string): T[] {
    let q: IpRange;
    try {
      q = rangeOf(cidrOrIp);
    } catch {
      return [];
    }
    if (!this.sorted) {
      this.items.sort((a, b) => (a.range.family !== b.range.family ? a.range.family - b.range.family : a.range.start < b.range.start ? -1 : a.range.start > b.range.start ? 1 : 0));
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
