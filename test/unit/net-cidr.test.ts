import { describe, it, expect } from '@jest/globals';
import {
  MAX_SUBDIVISIONS,
  RangeIndex,
  addressAt,
  addressCount,
  addressIndex,
  addressRange,
  canonicalCidr,
  canonicalIp,
  canonicalIpOrUndefined,
  cidrContains,
  cidrContainsLoose,
  cidrToName,
  cidrsOverlap,
  familyOf,
  ipFamilyOrUndefined,
  networkAddress,
  ordinalIn,
  parseCidr,
  parseCidrOrUndefined,
  sameAddress,
  subdivide,
  subdivisionCount,
  type Family,
} from '../../src/net/cidr.js';
import { random as prng } from './plan-fixtures.js';

function randomInt(rand: () => number, min: number, max: number): number {
  return min + Math.floor(rand() * (max - min + 1));
}

function randomBits(rand: () => number, bits: number): bigint {
  let v = 0n;
  for (let i = 0; i < bits; i++) v = (v << 1n) | (rand() < 0.5 ? 0n : 1n);
  return v;
}

function toAddress(family: Family, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const parts: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) parts.push(((value >> s) & 0xffffn).toString(16));
  return parts.join(':');
}

function toValue(ip: string): bigint {
  if (!ip.includes(':')) return ip.split('.').reduce((v, o) => (v << 8n) | BigInt(o), 0n);
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((v, g) => (v << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** A random CIDR in network form with a prefix in [minPrefix, maxPrefix]. */
function randomCidr(rand: () => number, family: Family, minPrefix: number, maxPrefix: number): string {
  const bits = family === 4 ? 32 : 128;
  const prefix = randomInt(rand, minPrefix, maxPrefix);
  const hostBits = BigInt(bits - prefix);
  const value = (randomBits(rand, bits) >> hostBits) << hostBits;
  return `${toAddress(family, value)}/${prefix}`;
}

describe('parseCidr', () => {
  it('parses IPv4 and IPv6 into canonical network, prefix and family', () => {
    expect(parseCidr('10.244.1.0/24')).toEqual({ network: '10.244.1.0', prefix: 24, family: 4 });
    expect(parseCidr('0.0.0.0/0')).toEqual({ network: '0.0.0.0', prefix: 0, family: 4 });
    expect(parseCidr('10.0.0.7/32')).toEqual({ network: '10.0.0.7', prefix: 32, family: 4 });
    expect(parseCidr('FD00:0010:0244:0001:0:0:0:0/64')).toEqual({ network: 'fd00:10:244:1::', prefix: 64, family: 6 });
    expect(parseCidr('::/0')).toEqual({ network: '::', prefix: 0, family: 6 });
    expect(parseCidr(' 10.244.0.0/16 ')).toEqual({ network: '10.244.0.0', prefix: 16, family: 4 });
  });

  it('rejects host bits unless loose, naming the network in the error', () => {
    expect(() => parseCidr('10.244.1.5/24')).toThrow('host bits are set; the network is 10.244.1.0/24');
    expect(() => parseCidr('fd00::1/64')).toThrow('the network is fd00::/64');
    expect(parseCidr('10.244.1.5/24', { loose: true })).toEqual({ network: '10.244.1.0', prefix: 24, family: 4 });
    expect(parseCidr('fd00::1/64', { loose: true }).network).toBe('fd00::');
  });

  it.each([
    ['', 'empty'],
    ['10.0.0.0', 'expected <address>/<prefix length>'],
    ['10.0.0.0/24/1', 'expected <address>/<prefix length>'],
    ['10.0.0.0/33', 'prefix length must be 0-32'],
    ['fd00::/129', 'prefix length must be 0-128'],
    ['10.0.0.0/-1', 'prefix length'],
    ['10.0.0.0/08', 'prefix length'],
    ['10.0.0.0/', 'prefix length'],
    ['10.0.0.0/ab', 'prefix length'],
    ['10.0.0/24', 'not a valid IPv4 address'],
    ['010.0.0.0/8', 'not a valid IPv4 address'],
    ['0x0a.0.0.0/8', 'not a valid IPv4 address'],
    ['256.0.0.0/8', 'not a valid IPv4 address'],
    ['fd00:::/64', 'not a valid IPv6 address'],
    ['fe80::%eth0/64', 'zone index'],
    ['::ffff:10.0.0.0/104', 'IPv4-mapped'],
    ['cluster/16', 'not a valid IPv4 address'],
  ])('rejects %j with a clear error', (input, message) => {
    expect(() => parseCidr(input)).toThrow(message);
    expect(() => parseCidr(input)).toThrow(/^invalid CIDR/);
  });
});

describe('canonical forms', () => {
  it('prints IPv6 like Go (RFC 5952: longest zero run, first on ties, no single-group "::")', () => {
    expect(canonicalIp('0:0:1:0:0:1:1:1')).toBe('::1:0:0:1:1:1');
    expect(canonicalIp('1:0:0:1:0:0:0:1')).toBe('1:0:0:1::1');
    expect(canonicalIp('1:0:2:0:3:0:4:0')).toBe('1:0:2:0:3:0:4:0');
    expect(canonicalIp('2001:DB8::0001')).toBe('2001:db8::1');
    expect(canonicalCidr('fd00:0:0:1:0:0:0:0/64')).toBe('fd00:0:0:1::/64');
    expect(canonicalCidr('10.1.2.3/8', { loose: true })).toBe('10.0.0.0/8');
  });

  it('rejects bad addresses', () => {
    expect(() => canonicalIp('10.0.0.256')).toThrow('not a valid IPv4 address');
    expect(() => canonicalIp('')).toThrow('empty address');
  });
});

describe('familyOf', () => {
  it('tells IPv4 from IPv6 for addresses and CIDRs (host bits allowed)', () => {
    expect(familyOf('10.0.0.1')).toBe(4);
    expect(familyOf('10.0.0.1/8')).toBe(4);
    expect(familyOf('fd00::1')).toBe(6);
    expect(familyOf('fd00::1/64')).toBe(6);
  });

  it('throws on garbage', () => {
    expect(() => familyOf('not-an-ip')).toThrow('not a valid IPv4 address');
    expect(() => familyOf('10.0.0.1/99')).toThrow('prefix length');
  });
});

describe('networkAddress / addressAt / addressIndex / addressCount', () => {
  it('returns the first address of a CIDR', () => {
    expect(networkAddress('10.244.1.0/24')).toBe('10.244.1.0');
    expect(networkAddress('fd00:10:244:1::/64')).toBe('fd00:10:244:1::');
    expect(() => networkAddress('10.244.1.1/24')).toThrow('host bits');
  });

  it('indexes addresses inside a CIDR', () => {
    expect(addressAt('10.244.1.0/24', 255)).toBe('10.244.1.255');
    expect(addressAt('fd00::/64', 2n ** 64n - 1n)).toBe('fd00::ffff:ffff:ffff:ffff');
    expect(() => addressAt('10.244.1.0/24', 256)).toThrow('outside 10.244.1.0/24');
    expect(() => addressAt('10.244.1.0/24', -1)).toThrow('outside');
    expect(addressIndex('10.244.1.64/26', '10.244.1.70')).toBe(6n);
    expect(() => addressIndex('10.244.1.64/26', '10.244.1.128')).toThrow('not in 10.244.1.64/26');
    expect(() => addressIndex('10.244.1.64/26', 'fd00::1')).toThrow('not in');
  });

  it('counts addresses', () => {
    expect(addressCount('10.244.1.0/24')).toBe(256n);
    expect(addressCount('10.0.0.1/32')).toBe(1n);
    expect(addressCount('0.0.0.0/0')).toBe(2n ** 32n);
    expect(addressCount('fd00::/64')).toBe(2n ** 64n);
    expect(addressCount('::/0')).toBe(2n ** 128n);
  });
});

describe('subdivide', () => {
  it('splits a /24 into four /26 in address order', () => {
    expect(subdivide('10.244.1.0/24', 26)).toEqual([
      '10.244.1.0/26',
      '10.244.1.64/26',
      '10.244.1.128/26',
      '10.244.1.192/26',
    ]);
  });

  it('returns the CIDR itself for the same prefix and splits IPv6', () => {
    expect(subdivide('10.244.1.0/26', 26)).toEqual(['10.244.1.0/26']);
    expect(subdivide('fd00:10:244:1::/120', 122)).toEqual([
      'fd00:10:244:1::/122',
      'fd00:10:244:1::40/122',
      'fd00:10:244:1::80/122',
      'fd00:10:244:1::c0/122',
    ]);
  });

  it('takes only the first blocks when limited, without enumerating the rest', () => {
    expect(subdivide('fd00:10:244:1::/64', 122, 2)).toEqual(['fd00:10:244:1::/122', 'fd00:10:244:1::40/122']);
    expect(subdivisionCount('fd00:10:244:1::/64', 122)).toBe(2n ** 58n);
    expect(subdivide('10.0.0.0/24', 26, 0)).toEqual([]);
  });

  it('refuses impossible or enormous splits', () => {
    expect(() => subdivide('10.244.1.0/24', 23)).toThrow('between 24 and 32');
    expect(() => subdivide('10.244.1.0/24', 33)).toThrow('between 24 and 32');
    expect(() => subdivide('10.244.1.0/24', 25.5)).toThrow('between 24 and 32');
    expect(() => subdivide('fd00::/64', 122)).toThrow(`refusing more than ${MAX_SUBDIVISIONS}`);
    expect(() => subdivide('10.0.0.0/24', 26, -1)).toThrow('invalid limit');
    expect(() => subdivide('10.244.1.1/24', 26)).toThrow('host bits');
  });
});

describe('cidrContains / cidrsOverlap', () => {
  it('checks IPs and CIDRs against an outer CIDR', () => {
    expect(cidrContains('10.244.0.0/16', '10.244.1.0/24')).toBe(true);
    expect(cidrContains('10.244.0.0/16', '10.244.255.255')).toBe(true);
    expect(cidrContains('10.244.0.0/16', '10.245.0.0')).toBe(false);
    expect(cidrContains('10.244.1.0/24', '10.244.0.0/16')).toBe(false);
    expect(cidrContains('10.244.1.0/24', '10.244.1.0/24')).toBe(true);
    expect(cidrContains('0.0.0.0/0', '255.255.255.255')).toBe(true);
    expect(cidrContains('fd00::/8', 'fd12:3456::/32')).toBe(true);
    expect(cidrContains('fd00::/8', '10.0.0.0/8')).toBe(false);
    expect(cidrContains('::/0', '10.0.0.1')).toBe(false);
    expect(() => cidrContains('10.244.0.0/16', 'nope')).toThrow('not a valid');
  });

  it('detects overlap in both directions and only within a family', () => {
    expect(cidrsOverlap('10.244.0.0/16', '10.244.3.0/24')).toBe(true);
    expect(cidrsOverlap('10.244.3.0/24', '10.244.0.0/16')).toBe(true);
    expect(cidrsOverlap('10.244.0.0/24', '10.244.1.0/24')).toBe(false);
    expect(cidrsOverlap('fd00::/64', 'fd00:0:0:1::/64')).toBe(false);
    expect(cidrsOverlap('fd00::/63', 'fd00:0:0:1::/64')).toBe(true);
    expect(cidrsOverlap('0.0.0.0/0', '::/0')).toBe(false);
  });
});

describe('cidrToName (libcalico-go names.CIDRToName)', () => {
  it.each([
    ['10.244.1.0/26', '10-244-1-0-26'],
    ['10.244.1.192/26', '10-244-1-192-26'],
    ['fd00:10:244:1::/122', 'fd00-10-244-1---122'],
    ['fd00:10:244:1::40/122', 'fd00-10-244-1--40-122'],
    ['2001:db8::/64', '2001-db8---64'],
    ['::/0', '---0'],
    ['FD00:0:0:1:0:0:0:0/64', 'fd00-0-0-1---64'],
  ])('%s -> %s', (cidr, name) => {
    expect(cidrToName(cidr)).toBe(name);
  });

  it('rejects bad CIDRs', () => {
    expect(() => cidrToName('10.244.1.1/24')).toThrow('host bits');
  });
});

describe('properties over random CIDRs', () => {
  const cases: Array<{ family: Family; min: number; max: number; maxSplit: number }> = [
    { family: 4, min: 0, max: 32, maxSplit: 6 },
    { family: 6, min: 0, max: 128, maxSplit: 6 },
  ];

  for (const { family, min, max, maxSplit } of cases) {
    it(`IPv${family}: subdivide covers the CIDR exactly, in order, without overlaps`, () => {
      const rand = prng(family * 7919);
      for (let n = 0; n < 200; n++) {
        const outer = randomCidr(rand, family, min, max);
        const { prefix } = parseCidr(outer);
        const newPrefix = Math.min(max, prefix + randomInt(rand, 0, maxSplit));
        const parts = subdivide(outer, newPrefix);

        expect(parts.length).toBe(2 ** (newPrefix - prefix));
        expect(BigInt(parts.length)).toBe(subdivisionCount(outer, newPrefix));
        const size = addressCount(parts[0]!);
        expect(size * BigInt(parts.length)).toBe(addressCount(outer));
        expect(networkAddress(parts[0]!)).toBe(networkAddress(outer));
        for (let i = 0; i < parts.length; i++) {
          const part = parts[i]!;
          expect(parseCidr(part).prefix).toBe(newPrefix);
          expect(cidrContains(outer, part)).toBe(true);
          if (i > 0) {
            // consecutive and adjacent: sorted, gap-free, hence no overlaps
            expect(toValue(networkAddress(part)) - toValue(networkAddress(parts[i - 1]!))).toBe(size);
            expect(cidrsOverlap(part, parts[i - 1]!)).toBe(false);
          }
        }
        const last = parts[parts.length - 1]!;
        expect(addressAt(last, size - 1n)).toBe(addressAt(outer, addressCount(outer) - 1n));
      }
    });

    it(`IPv${family}: networkAddress is contained, canonical forms are stable, cidrToName round-trips`, () => {
      const rand = prng(family * 104729);
      for (let n = 0; n < 500; n++) {
        const cidr = randomCidr(rand, family, min, max);
        const canonical = canonicalCidr(cidr);
        expect(canonicalCidr(canonical)).toBe(canonical);
        expect(cidrContains(cidr, networkAddress(cidr))).toBe(true);
        expect(familyOf(cidr)).toBe(family);

        const name = cidrToName(cidr);
        expect(name).toMatch(family === 4 ? /^\d{1,3}(-\d{1,3}){3}-\d{1,2}$/ : /^[0-9a-f-]+-\d{1,3}$/);
        const cut = name.lastIndexOf('-');
        const back = `${name.slice(0, cut).replace(/-/g, family === 4 ? '.' : ':')}/${name.slice(cut + 1)}`;
        expect(back).toBe(canonical);

        // A random address inside, with host bits, parses loosely back to the same network.
        const offset = randomBits(rand, family === 4 ? 32 : 128) % addressCount(cidr);
        const inside = addressAt(cidr, offset);
        expect(cidrContains(cidr, inside)).toBe(true);
        expect(addressIndex(cidr, inside)).toBe(offset);
        expect(canonicalCidr(`${inside}/${parseCidr(cidr).prefix}`, { loose: true })).toBe(canonical);
      }
    });
  }
});

describe('tolerant forms (undefined or false instead of an error)', () => {
  it('parseCidrOrUndefined keeps the text as given, allows host bits, and is undefined for anything else', () => {
    expect(parseCidrOrUndefined(' 10.244.0.0/16 ')).toEqual({ cidr: '10.244.0.0/16', family: 4, prefix: 16 });
    expect(parseCidrOrUndefined('10.244.1.7/16')).toEqual({ cidr: '10.244.1.7/16', family: 4, prefix: 16 });
    expect(parseCidrOrUndefined('FD00:0::/56')).toEqual({ cidr: 'FD00:0::/56', family: 6, prefix: 56 });
    for (const bad of [
      undefined,
      null,
      42,
      '',
      '10.244.0.0',
      '10.244.0.0/33',
      'fd00::/129',
      '10.244.0.0 /16',
      'nope/8',
    ]) {
      expect(parseCidrOrUndefined(bad)).toBeUndefined();
    }
  });

  it('ipFamilyOrUndefined tells addresses apart and is undefined for CIDRs and garbage', () => {
    expect(ipFamilyOrUndefined('192.168.1.10')).toBe(4);
    expect(ipFamilyOrUndefined('fd00::1')).toBe(6);
    for (const bad of ['', '10.0.0.0/8', ' 10.0.0.1', '10.0.0', 'fe80::1%eth0', 'host'])
      expect(ipFamilyOrUndefined(bad)).toBeUndefined();
  });

  it('canonicalIpOrUndefined canonicalises or gives undefined', () => {
    expect(canonicalIpOrUndefined('fd00::0001')).toBe('fd00::1');
    expect(canonicalIpOrUndefined(' 10.0.0.1 ')).toBe('10.0.0.1');
    for (const bad of [undefined, null, '', '10.0.0.0/8', 'nope']) expect(canonicalIpOrUndefined(bad)).toBeUndefined();
  });

  it('sameAddress compares addresses by value and anything else as text', () => {
    expect(sameAddress('fd00::1', 'fd00:0::1')).toBe(true);
    expect(sameAddress('FD00::1', 'fd00:0:0:0:0:0:0:1')).toBe(true);
    expect(sameAddress('10.0.0.1', '10.0.0.2')).toBe(false);
    expect(sameAddress('0.0.0.1', '::1')).toBe(false);
    expect(sameAddress('node-a', 'node-a')).toBe(true);
    expect(sameAddress('10.0.0.1', ' 10.0.0.1')).toBe(false);
  });

  it('cidrContainsLoose allows host bits and answers false for malformed input', () => {
    expect(cidrContainsLoose('10.244.0.0/16', '10.244.1.0/24')).toBe(true);
    expect(cidrContainsLoose('10.244.9.9/16', '10.244.1.7/24')).toBe(true);
    expect(cidrContainsLoose('10.244.0.0/16', '10.244.255.255')).toBe(true);
    expect(cidrContainsLoose('10.244.1.0/24', '10.244.0.0/16')).toBe(false);
    expect(cidrContainsLoose('fd00::/8', '10.0.0.0/8')).toBe(false);
    expect(cidrContainsLoose('10.244.0.0/16', 'nope')).toBe(false);
    expect(cidrContainsLoose('nope', '10.244.0.1')).toBe(false);
    expect(() => cidrContains('10.244.9.9/16', '10.244.1.0/24')).toThrow('host bits');
  });

  it('ordinalIn counts from the address written in the CIDR, without a range check', () => {
    expect(ordinalIn('10.244.1.0/26', '10.244.1.0')).toBe(0n);
    expect(ordinalIn('10.244.1.0/26', '10.244.1.5')).toBe(5n);
    expect(ordinalIn('fd00::/122', 'fd00::3f')).toBe(63n);
    expect(ordinalIn('10.244.1.64/26', '10.244.1.0')).toBe(-64n);
    expect(ordinalIn('10.244.1.4/24', '10.244.1.5')).toBe(1n);
    expect(() => ordinalIn('10.244.1.0/26', 'nope')).toThrow('not a valid');
  });

  it('addressRange gives the first and last address of a CIDR (host bits allowed) or an address', () => {
    expect(addressRange('10.244.1.7/24')).toEqual({ family: 4, start: 0x0af40100n, end: 0x0af401ffn });
    expect(addressRange('10.244.1.7')).toEqual({ family: 4, start: 0x0af40107n, end: 0x0af40107n });
    expect(addressRange('fd00::/127')).toEqual({ family: 6, start: 0xfd00n << 112n, end: (0xfd00n << 112n) + 1n });
    expect(() => addressRange('10.244.1.0/33')).toThrow('prefix length');
  });
});

describe('RangeIndex', () => {
  it('finds exactly the overlapping ranges, like a full scan', () => {
    const rnd = prng(11);
    const index = new RangeIndex<string>();
    const cidrs: string[] = [];
    for (let i = 0; i < 300; i++) {
      const len = 20 + Math.floor(rnd() * 9);
      const addr = `10.${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`;
      const r = addressRange(`${addr}/${len}`);
      const network = [24n, 16n, 8n, 0n].map((s) => String((r.start >> s) & 255n)).join('.');
      const cidr = `${network}/${len}`;
      cidrs.push(cidr);
      index.add(cidr, cidr);
    }
    index.add('fd00::/64', 'v6');
    for (let i = 0; i < 200; i++) {
      const q = `10.${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 256)}.0/${22 + Math.floor(rnd() * 10)}`;
      const qr = addressRange(q);
      const expected = cidrs
        .filter((c) => {
          const r = addressRange(c);
          return r.start <= qr.end && r.end >= qr.start;
        })
        .sort();
      expect(index.overlapping(q).sort()).toEqual(expected);
    }
    expect(index.overlapping('fd00::5')).toEqual(['v6']);
    expect(index.overlapping('not-an-ip')).toEqual([]);
  });

  it('skips what it cannot parse', () => {
    const index = new RangeIndex<string>();
    expect(index.add('nope', 'x')).toBe(false);
    expect(index.add('10.244.1.7/24', 'host bits')).toBe(true);
    expect(index.overlapping('10.244.1.200')).toEqual(['host bits']);
  });
});
