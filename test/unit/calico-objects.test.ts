import { describe, it, expect, beforeAll } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from '../../src/cluster/index.js';
import { CALICO_GROUP_VERSION } from '../../src/names.js';
import { addressCount, cidrContains, cidrToName, cidrsOverlap, subdivide } from '../../src/net/cidr.js';
import {
  AFFINITY_LABELS,
  MAX_AFFINE_BLOCKS,
  NODE_ANNOTATIONS,
  blockAffinityName,
  blockSizeFor,
  felixConfiguration,
  felixConfigurationPatch,
  felixVxlanEnabledPatch,
  hostnameHashLabel,
  ipPool,
  ipamHandleName,
  nodeCalicoAnnotations,
  nodeIpam,
  tunnelHandleId,
  type CalicoNodeIdentity,
} from '../../src/calico/objects.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixturesDir = process.env.FIXTURES_DIR ?? path.join(repoRoot, 'test', 'fixtures');
const crdDir = path.join(fixturesDir, 'calico-v3.32.1', 'crds');

// ---------------------------------------------------------------------------------------------
// A small structural checker for the openAPIV3Schema of a CRD: type, required, enum, nullable,
// items, properties (unknown fields are reported: the API server would silently prune them),
// additionalProperties, min/max, maxLength, maxItems and the formats used by Calico's CRDs.
// ---------------------------------------------------------------------------------------------
interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  maxItems?: number;
  format?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
}

function schemaErrors(value: unknown, schema: Schema, at = ''): string[] {
  const where = at || '<root>';
  if (value === null) return schema.nullable ? [] : [`${where}: null is not allowed`];
  if (schema['x-kubernetes-int-or-string']) {
    return typeof value === 'string' || Number.isInteger(value) ? [] : [`${where}: expected int or string`];
  }
  const errors: string[] = [];
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') return [`${where}: expected string, got ${typeof value}`];
      if (schema.maxLength !== undefined && value.length > schema.maxLength)
        errors.push(`${where}: longer than ${schema.maxLength}`);
      if (
        schema.format === 'date-time' &&
        !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)
      ) {
        errors.push(`${where}: not an RFC 3339 date-time`);
      }
      if (schema.format === 'cidr' && !/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(value)) errors.push(`${where}: not a CIDR`);
      break;
    case 'integer':
      if (!Number.isInteger(value)) return [`${where}: expected integer, got ${JSON.stringify(value)}`];
      if (schema.format === 'int64' && !Number.isSafeInteger(value))
        errors.push(`${where}: integer not exactly representable`);
      break;
    case 'number':
      if (typeof value !== 'number') return [`${where}: expected number`];
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return [`${where}: expected boolean, got ${typeof value}`];
      break;
    case 'array':
      if (!Array.isArray(value)) return [`${where}: expected array`];
      if (schema.maxItems !== undefined && value.length > schema.maxItems)
        errors.push(`${where}: more than ${schema.maxItems} items`);
      if (schema.items) value.forEach((item, i) => errors.push(...schemaErrors(item, schema.items!, `${at}[${i}]`)));
      break;
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return [`${where}: expected object`];
      const obj = value as Record<string, unknown>;
      for (const key of schema.required ?? []) {
        if (!(key in obj) || obj[key] === undefined) errors.push(`${at}.${key}: required`);
      }
      for (const [key, child] of Object.entries(obj)) {
        if (child === undefined) continue;
        const prop = schema.properties?.[key];
        if (prop) {
          errors.push(...schemaErrors(child, prop, `${at}.${key}`));
        } else if (typeof schema.additionalProperties === 'object') {
          errors.push(...schemaErrors(child, schema.additionalProperties, `${at}.${key}`));
        } else if (
          schema.properties &&
          !schema['x-kubernetes-preserve-unknown-fields'] &&
          schema.additionalProperties !== true
        ) {
          errors.push(`${at}.${key}: unknown field (would be pruned)`);
        }
      }
      break;
    }
    default:
      break;
  }
  if (schema.enum && !schema.enum.includes(value))
    errors.push(`${where}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${where}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${where}: above ${schema.maximum}`);
  }
  return errors;
}

interface Crd {
  group: string;
  kind: string;
  version: string;
  schema: Schema;
}

function loadCrd(file: string): Crd {
  const doc = parseYaml(readFileSync(path.join(crdDir, file), 'utf8')) as {
    spec: {
      group: string;
      names: { kind: string };
      versions: Array<{ name: string; storage: boolean; schema: { openAPIV3Schema: Schema } }>;
    };
  };
  const version = doc.spec.versions.find((v) => v.storage) ?? doc.spec.versions[0]!;
  return {
    group: doc.spec.group,
    kind: doc.spec.names.kind,
    version: version.name,
    schema: version.schema.openAPIV3Schema,
  };
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Everything the API server would check for these objects, short of CEL rules. */
function objectErrors(obj: KubeObject, crds: Record<string, Crd>): string[] {
  const crd = crds[obj.kind ?? ''];
  if (!crd) return [`no CRD loaded for kind ${obj.kind}`];
  const errors = schemaErrors(obj, crd.schema);
  if (obj.apiVersion !== `${crd.group}/${crd.version}`)
    errors.push(`apiVersion ${obj.apiVersion} is not ${crd.group}/${crd.version}`);
  const name = obj.metadata?.name ?? '';
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name))
    errors.push(`metadata.name ${JSON.stringify(name)} is not a DNS subdomain`);
  for (const [key, value] of Object.entries(obj.metadata?.labels ?? {})) {
    if (value.length > 63 || !LABEL_VALUE.test(value))
      errors.push(`label ${key}: invalid value ${JSON.stringify(value)}`);
  }
  return errors;
}

let crds: Record<string, Crd>;

beforeAll(() => {
  crds = {};
  for (const file of [
    'crd.projectcalico.org_ippools.yaml',
    'crd.projectcalico.org_ipamblocks.yaml',
    'crd.projectcalico.org_blockaffinities.yaml',
    'crd.projectcalico.org_ipamhandles.yaml',
    'crd.projectcalico.org_felixconfigurations.yaml',
  ]) {
    const crd = loadCrd(file);
    crds[crd.kind] = crd;
  }
});

const CLAIM_TIME = new Date('2026-03-01T12:34:56.789Z');
const SEQ = CLAIM_TIME.getTime() * 1000;

function node1(extra: Partial<CalicoNodeIdentity> = {}): CalicoNodeIdentity {
  return {
    node: 'node-1',
    podCidrV4: '10.244.1.0/24',
    vtepMacV4: '56:1d:8d:30:79:97',
    publicIpV4: '192.0.2.11',
    ...extra,
  };
}

describe('the schema checker itself', () => {
  it('reports wrong types, missing required fields, unknown fields and bad enums', () => {
    const bad = {
      apiVersion: CALICO_GROUP_VERSION,
      kind: 'IPAMBlock',
      metadata: { name: 'Bad_Name' },
      spec: { cidr: '10.0.0.0/26', allocations: [null, 'x'], attributes: [], strictAffinity: 'no', extra: 1 },
    };
    const errors = objectErrors(bad, crds);
    expect(errors).toEqual(
      expect.arrayContaining([
        '.spec.unallocated: required',
        '.spec.allocations[1]: expected integer, got "x"',
        '.spec.strictAffinity: expected boolean, got string',
        '.spec.extra: unknown field (would be pruned)',
        'metadata.name "Bad_Name" is not a DNS subdomain',
      ]),
    );
    const pool = ipPool({ family: 4, cidr: '10.244.0.0/16', blockSize: 26, natOutgoing: true });
    expect(objectErrors({ ...pool, spec: { ...pool.spec, vxlanMode: 'Sometimes' } }, crds)).toEqual([
      '.spec.vxlanMode: "Sometimes" not in ["Never","Always","CrossSubnet"]',
    ]);
  });
});

describe('blockSizeFor', () => {
  it.each([
    [4, 24, 26],
    [4, 25, 26],
    [4, 26, 26],
    [4, 27, 27],
    [4, 32, 32],
    [4, 16, 26],
    [6, 64, 122],
    [6, 122, 122],
    [6, 124, 124],
  ] as const)('IPv%i SubnetLen %i -> /%i', (family, len, size) => {
    expect(blockSizeFor(family, len)).toBe(size);
  });

  it('rejects impossible subnet lengths', () => {
    expect(() => blockSizeFor(4, 33)).toThrow('invalid IPv4 subnet length 33');
    expect(() => blockSizeFor(6, -1)).toThrow('invalid IPv6 subnet length');
    expect(() => blockSizeFor(4, 24.5)).toThrow('expected an integer 0-32');
  });
});

describe('ipPool', () => {
  it('builds default-ipv4-ippool as the flannel-migration controller does, valid against the CRD', () => {
    const pool = ipPool({ family: 4, cidr: '10.244.0.0/16', blockSize: 26, natOutgoing: true });
    expect(pool).toEqual({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'IPPool',
      metadata: { name: 'default-ipv4-ippool' },
      spec: {
        cidr: '10.244.0.0/16',
        blockSize: 26,
        ipipMode: 'Never',
        vxlanMode: 'Always',
        natOutgoing: true,
        nodeSelector: 'all()',
        allowedUses: ['Workload', 'Tunnel'],
        assignmentMode: 'Automatic',
      },
    });
    expect(objectErrors(pool, crds)).toEqual([]);
  });

  it('builds default-ipv6-ippool with a canonical CIDR', () => {
    const pool = ipPool({ family: 6, cidr: 'FD00:10:244:0:0:0:0:0/56', blockSize: 122, natOutgoing: false });
    expect(pool.metadata?.name).toBe('default-ipv6-ippool');
    expect(pool.spec.cidr).toBe('fd00:10:244::/56');
    expect(pool.spec.natOutgoing).toBe(false);
    expect(objectErrors(pool, crds)).toEqual([]);
  });

  it('rejects mismatched family, bad block sizes and pools smaller than a block', () => {
    expect(() => ipPool({ family: 6, cidr: '10.244.0.0/16', blockSize: 122, natOutgoing: true })).toThrow(
      'is IPv4, not IPv6',
    );
    expect(() => ipPool({ family: 4, cidr: '10.244.0.0/16', blockSize: 19, natOutgoing: true })).toThrow(
      'Calico allows 20-32',
    );
    expect(() => ipPool({ family: 6, cidr: 'fd00::/48', blockSize: 64, natOutgoing: true })).toThrow(
      'Calico allows 116-128',
    );
    expect(() => ipPool({ family: 4, cidr: '10.244.0.0/28', blockSize: 26, natOutgoing: true })).toThrow(
      'smaller than one /26 block',
    );
    expect(() => ipPool({ family: 4, cidr: '10.244.0.1/16', blockSize: 26, natOutgoing: true })).toThrow('host bits');
  });
});

describe('FelixConfiguration', () => {
  it('patches VNI, port and MTU; adds vxlanMTUV6 for IPv6', () => {
    expect(felixConfigurationPatch({ vni: 1, port: 8472, mtu: 1450 })).toEqual({
      spec: { vxlanVNI: 1, vxlanPort: 8472, vxlanMTU: 1450 },
    });
    expect(felixConfigurationPatch({ vni: 4096, port: 4789, mtu: 1450, ipv6: true })).toEqual({
      spec: { vxlanVNI: 4096, vxlanPort: 4789, vxlanMTU: 1450, vxlanMTUV6: 1450 },
    });
    expect(felixConfigurationPatch({ vni: 1, port: 8472, mtu: 1450, ipv6: true, mtuV6: 1430 })).toEqual({
      spec: { vxlanVNI: 1, vxlanPort: 8472, vxlanMTU: 1450, vxlanMTUV6: 1430 },
    });
    expect(felixVxlanEnabledPatch(false)).toEqual({ spec: { vxlanEnabled: false } });
    expect(felixVxlanEnabledPatch(null)).toEqual({ spec: { vxlanEnabled: null } });
  });

  it('builds a FelixConfiguration "default" that passes the CRD', () => {
    const fc = felixConfiguration({ vni: 1, port: 8472, mtu: 8951, ipv6: true });
    expect(fc.metadata?.name).toBe('default');
    expect(fc.kind).toBe('FelixConfiguration');
    expect(objectErrors(fc, crds)).toEqual([]);
  });

  it('rejects out-of-range values', () => {
    expect(() => felixConfigurationPatch({ vni: 0, port: 8472, mtu: 1450 })).toThrow('invalid VXLAN VNI 0');
    expect(() => felixConfigurationPatch({ vni: 2 ** 24, port: 8472, mtu: 1450 })).toThrow('invalid VXLAN VNI');
    expect(() => felixConfigurationPatch({ vni: 1, port: 70000, mtu: 1450 })).toThrow('invalid VXLAN port 70000');
    expect(() => felixConfigurationPatch({ vni: 1, port: 8472, mtu: -1 })).toThrow('invalid VXLAN MTU -1');
    expect(() => felixConfigurationPatch({ vni: 1, port: 8472, mtu: 1450, ipv6: true, mtuV6: 1.5 })).toThrow(
      'invalid VXLAN IPv6 MTU',
    );
  });
});

describe('nodeIpam: IPv4 /24 podCIDR with /26 blocks', () => {
  let ipam: ReturnType<typeof nodeIpam>;
  beforeAll(() => {
    ipam = nodeIpam(node1(), 26, 122, { now: CLAIM_TIME });
  });

  it('claims exactly the 4 blocks of the podCIDR, with 4 affinities and 1 handle', () => {
    const cidrs = ['10.244.1.0/26', '10.244.1.64/26', '10.244.1.128/26', '10.244.1.192/26'];
    expect(ipam.blocks.map((b) => b.spec.cidr)).toEqual(cidrs);
    expect(ipam.blocks.map((b) => b.metadata?.name)).toEqual([
      '10-244-1-0-26',
      '10-244-1-64-26',
      '10-244-1-128-26',
      '10-244-1-192-26',
    ]);
    expect(ipam.affinities.map((a) => a.spec.cidr)).toEqual(cidrs);
    expect(ipam.affinities.map((a) => a.metadata?.name)).toEqual(cidrs.map((c) => `node-1-${cidrToName(c)}`));
    expect(ipam.handles).toHaveLength(1);
    expect(ipam.tunnelAddressV4).toBe('10.244.1.0');
    expect(ipam.tunnelAddressV6).toBeUndefined();
  });

  it('allocates the tunnel address at ordinal 0 of the first block only', () => {
    const [first, ...rest] = ipam.blocks;
    expect(first).toEqual({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'IPAMBlock',
      metadata: { name: '10-244-1-0-26' },
      spec: {
        cidr: '10.244.1.0/26',
        affinity: 'host:node-1',
        affinityClaimTime: '2026-03-01T12:34:56Z',
        allocations: [0, ...new Array(63).fill(null)],
        unallocated: Array.from({ length: 63 }, (_, i) => i + 1),
        attributes: [
          { handle_id: 'vxlan-tunnel-addr-node-1', secondary: { node: 'node-1', type: 'vxlanTunnelAddress' } },
        ],
        sequenceNumber: SEQ + 1,
        sequenceNumberForAllocation: { '0': SEQ },
        deleted: false,
        strictAffinity: false,
      },
    });
    for (const block of rest) {
      expect(block.spec.allocations).toEqual(new Array(64).fill(null));
      expect(block.spec.unallocated).toEqual(Array.from({ length: 64 }, (_, i) => i));
      expect(block.spec.attributes).toEqual([]);
      expect(block.spec.sequenceNumber).toBe(SEQ);
      expect(block.spec.sequenceNumberForAllocation).toEqual({});
      expect(block.spec.affinity).toBe('host:node-1');
    }
  });

  it('writes confirmed host affinities with string "deleted" and lookup labels', () => {
    expect(ipam.affinities[1]).toEqual({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'BlockAffinity',
      metadata: {
        name: 'node-1-10-244-1-64-26',
        labels: {
          'projectcalico.org/hostname-hash': hostnameHashLabel('node-1'),
          'projectcalico.org/affinity-type': 'host',
          'projectcalico.org/ip-version': '4',
        },
      },
      spec: { state: 'confirmed', node: 'node-1', type: 'host', cidr: '10.244.1.64/26', deleted: 'false' },
    });
  });

  it('counts the tunnel address in the handle', () => {
    expect(ipam.handles[0]).toEqual({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'IPAMHandle',
      metadata: { name: 'vxlan-tunnel-addr-node-1' },
      spec: { handleID: 'vxlan-tunnel-addr-node-1', block: { '10.244.1.0/26': 1 }, deleted: false },
    });
  });

  it('keeps blocks internally consistent: allocations, unallocated and attributes agree', () => {
    for (const block of ipam.blocks) {
      const size = Number(addressCount(block.spec.cidr));
      const allocations = block.spec.allocations as Array<number | null>;
      const unallocated = block.spec.unallocated as number[];
      expect(allocations).toHaveLength(size);
      const free = allocations.flatMap((a, i) => (a === null ? [i] : []));
      expect([...unallocated].sort((a, b) => a - b)).toEqual(free);
      for (const a of allocations) if (a !== null) expect(block.spec.attributes[a]).toBeDefined();
      for (const ordinal of Object.keys(block.spec.sequenceNumberForAllocation))
        expect(allocations[Number(ordinal)]).not.toBeNull();
    }
  });

  it('passes the v3.32.1 CRD schemas', () => {
    for (const obj of [...ipam.blocks, ...ipam.affinities, ...ipam.handles]) {
      expect({ name: obj.metadata?.name, errors: objectErrors(obj, crds) }).toEqual({
        name: obj.metadata?.name,
        errors: [],
      });
    }
  });

  it('covers the podCIDR exactly with non-overlapping blocks', () => {
    const cidrs = ipam.blocks.map((b) => b.spec.cidr as string);
    for (const c of cidrs) expect(cidrContains('10.244.1.0/24', c)).toBe(true);
    for (let i = 0; i < cidrs.length; i++)
      for (let j = i + 1; j < cidrs.length; j++) expect(cidrsOverlap(cidrs[i]!, cidrs[j]!)).toBe(false);
    expect(cidrs.reduce((n, c) => n + addressCount(c), 0n)).toBe(256n);
  });

  it('defaults the claim time to now', () => {
    const before = Date.now();
    const fresh = nodeIpam(node1(), 26, 122);
    const claimed = Date.parse(fresh.blocks[0]!.spec.affinityClaimTime as string);
    expect(claimed).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(claimed).toBeLessThanOrEqual(Date.now());
  });
});

describe('nodeIpam: other IPv4 sizes', () => {
  it('a /25 podCIDR with SubnetLen 25 gives 2 blocks of /26', () => {
    const ipam = nodeIpam(node1({ podCidrV4: '10.244.3.128/25' }), blockSizeFor(4, 25), 122, { now: CLAIM_TIME });
    expect(ipam.blocks.map((b) => b.spec.cidr)).toEqual(['10.244.3.128/26', '10.244.3.192/26']);
    expect(ipam.affinities).toHaveLength(2);
    expect(ipam.tunnelAddressV4).toBe('10.244.3.128');
    expect(ipam.blocks[0]!.spec.allocations[0]).toBe(0);
    expect(ipam.blocks[1]!.spec.allocations.every((a: unknown) => a === null)).toBe(true);
  });

  it('a /27 podCIDR with SubnetLen 27 is one /27 block of 32 addresses', () => {
    const ipam = nodeIpam(node1({ podCidrV4: '10.244.0.32/27' }), blockSizeFor(4, 27), 122, { now: CLAIM_TIME });
    expect(ipam.blocks).toHaveLength(1);
    expect(ipam.blocks[0]!.spec.cidr).toBe('10.244.0.32/27');
    expect(ipam.blocks[0]!.spec.allocations).toHaveLength(32);
    expect(ipam.blocks[0]!.spec.unallocated).toHaveLength(31);
    expect(ipam.tunnelAddressV4).toBe('10.244.0.32');
    for (const obj of [...ipam.blocks, ...ipam.affinities, ...ipam.handles])
      expect(objectErrors(obj, crds)).toEqual([]);
  });

  it('a /16 podCIDR claims all 1024 blocks, as ClaimAffinity does', () => {
    const ipam = nodeIpam(node1({ podCidrV4: '10.128.0.0/16' }), 26, 122, { now: CLAIM_TIME });
    expect(ipam.blocks).toHaveLength(1024);
    expect(ipam.affinities).toHaveLength(1024);
    expect(ipam.handles).toHaveLength(1);
  });

  it('rejects podCIDRs too small for the block size, too large to claim, or malformed', () => {
    expect(() => nodeIpam(node1({ podCidrV4: '10.244.1.0/28' }), 26, 122)).toThrow(
      'node node-1: podCIDR 10.244.1.0/28 is smaller than one /26 block',
    );
    expect(() => nodeIpam(node1({ podCidrV4: '10.0.0.0/8' }), 26, 122)).toThrow(
      `at most ${MAX_AFFINE_BLOCKS} are supported`,
    );
    expect(() => nodeIpam(node1({ podCidrV4: '10.244.1.1/24' }), 26, 122)).toThrow(
      'node node-1: invalid CIDR "10.244.1.1/24": host bits are set',
    );
    expect(() => nodeIpam(node1({ podCidrV4: 'fd00::/64' }), 26, 122)).toThrow(
      'is IPv6 but was given as the IPv4 podCIDR',
    );
    expect(() => nodeIpam(node1(), 33, 122)).toThrow('invalid IPv4 block size 33');
    expect(() => nodeIpam(node1({ node: 'Node_1' }), 26, 122)).toThrow('invalid node name "Node_1"');
    expect(() => nodeIpam(node1(), 26, 122, { now: new Date('garbage') })).toThrow('invalid claim time');
  });
});

describe('nodeIpam: IPv6', () => {
  const dual = node1({ podCidrV6: 'fd00:10:244:1::/64', vtepMacV6: '6a:2f:11:22:33:44', publicIpV6: '2001:db8::11' });

  it('claims only the block holding the IPv6 tunnel address of a /64, never 2^58 blocks', () => {
    const ipam = nodeIpam(dual, 26, 122, { now: CLAIM_TIME });
    const v6Blocks = ipam.blocks.filter((b) => (b.spec.cidr as string).includes(':'));
    expect(v6Blocks).toHaveLength(1);
    expect(ipam.blocks).toHaveLength(5);
    expect(ipam.affinities).toHaveLength(5);
    expect(ipam.handles).toHaveLength(2);
    expect(ipam.tunnelAddressV6).toBe('fd00:10:244:1::');

    const block = v6Blocks[0]!;
    expect(block.metadata?.name).toBe('fd00-10-244-1---122');
    expect(block.spec.cidr).toBe('fd00:10:244:1::/122');
    expect(block.spec.allocations).toHaveLength(64);
    expect(block.spec.allocations[0]).toBe(0);
    expect(block.spec.attributes).toEqual([
      { handle_id: 'vxlan-v6-tunnel-addr-node-1', secondary: { node: 'node-1', type: 'vxlanV6TunnelAddress' } },
    ]);

    const affinity = ipam.affinities.find((a) => a.spec.cidr === 'fd00:10:244:1::/122')!;
    expect(affinity.metadata?.name).toBe('node-1-fd00-10-244-1---122');
    expect(affinity.metadata?.labels?.[AFFINITY_LABELS.ipVersion]).toBe('6');

    expect(ipam.handles[1]).toEqual({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'IPAMHandle',
      metadata: { name: 'vxlan-v6-tunnel-addr-node-1' },
      spec: { handleID: 'vxlan-v6-tunnel-addr-node-1', block: { 'fd00:10:244:1::/122': 1 }, deleted: false },
    });
    for (const obj of [...ipam.blocks, ...ipam.affinities, ...ipam.handles])
      expect(objectErrors(obj, crds)).toEqual([]);
  });

  it('works for an IPv6-only node and rejects a bad IPv6 podCIDR', () => {
    const ipam = nodeIpam({ node: 'v6-only', podCidrV6: 'fd00:10:244:2::/64' }, 26, 122, { now: CLAIM_TIME });
    expect(ipam.blocks.map((b) => b.spec.cidr)).toEqual(['fd00:10:244:2::/122']);
    expect(ipam.tunnelAddressV4).toBeUndefined();
    expect(() => nodeIpam({ node: 'n', podCidrV6: '10.0.0.0/24' }, 26, 122)).toThrow(
      'is IPv4 but was given as the IPv6 podCIDR',
    );
    expect(() => nodeIpam({ node: 'n', podCidrV6: 'fd00::/124' }, 26, 122)).toThrow('smaller than one /122 block');
    expect(() => nodeIpam({ node: 'n', podCidrV6: 'fd00::/64' }, 26, 100)).toThrow('Calico allows 116-128');
  });

  it('returns nothing for a node without podCIDRs', () => {
    expect(nodeIpam({ node: 'empty' }, 26, 122)).toEqual({ blocks: [], affinities: [], handles: [] });
  });
});

describe('names and labels', () => {
  it('hashes host names for the affinity label like libcalico-go (golden value)', () => {
    expect(hostnameHashLabel('node-a')).toBe('PY3TQE2E3XMTETLM2MJO3UITKPFB27YUJ4T4E5XGPEJON3SM4QAA');
    expect(hostnameHashLabel('node-a')).toHaveLength(52);
    expect(hostnameHashLabel('node-b')).not.toBe(hostnameHashLabel('node-a'));
  });

  it('shortens long affinity names exactly as libcalico-go parseKey (values computed with its Go code)', () => {
    const long = `${'worker-node-'.repeat(20)}x.example.com`;
    expect(long).toHaveLength(253);
    expect(blockAffinityName(long, '10.244.1.64/26')).toBe(
      `${'worker-node-'.repeat(18)}worker-no-10-244-1-64-26-b1cb91f6e5f`,
    );
    expect(blockAffinityName(long, 'fd00:10:244:1::/122')).toBe(
      `${'worker-node-'.repeat(18)}work-fd00-10-244-1---122-c7956a2ae8c`,
    );
    expect(blockAffinityName('a'.repeat(238), '10.244.1.64/26')).toBe(`${'a'.repeat(225)}-10-244-1-64-26-0db7378d574`);
    expect(blockAffinityName('a'.repeat(237), '10.244.1.64/26')).toBe(`${'a'.repeat(237)}-10-244-1-64-26`);
    for (const name of [
      blockAffinityName(long, '10.244.1.64/26'),
      blockAffinityName('a'.repeat(238), '10.244.1.64/26'),
    ]) {
      expect(name).toHaveLength(252);
    }
  });

  it('accepts the longest node names Calico can handle and refuses longer ones', () => {
    const longest = `${'n'.repeat(231)}.com`; // 235: "vxlan-tunnel-addr-" + name is exactly 253
    const ipam = nodeIpam({ node: longest, podCidrV4: '10.244.9.0/24' }, 26, 122, { now: CLAIM_TIME });
    for (const obj of [...ipam.blocks, ...ipam.affinities, ...ipam.handles])
      expect(objectErrors(obj, crds)).toEqual([]);
    expect(ipam.handles[0]!.metadata?.name).toHaveLength(253);
    expect(() => nodeIpam({ node: `${longest}x`, podCidrV4: '10.244.9.0/24' }, 26, 122)).toThrow(
      'the node name is too long',
    );
    expect(() => nodeIpam({ node: longest, podCidrV6: 'fd00::/64' }, 26, 122)).toThrow('the node name is too long');
  });

  it('names handles and tunnel handles', () => {
    expect(tunnelHandleId(4, 'node-1')).toBe('vxlan-tunnel-addr-node-1');
    expect(tunnelHandleId(6, 'node-1')).toBe('vxlan-v6-tunnel-addr-node-1');
    expect(ipamHandleName('Vxlan-Tunnel-Addr-X')).toBe('vxlan-tunnel-addr-x');
  });
});

describe('nodeCalicoAnnotations', () => {
  it('writes the IPv4 VTEP identity', () => {
    expect(nodeCalicoAnnotations(node1())).toEqual({
      'projectcalico.org/IPv4VXLANTunnelAddr': '10.244.1.0',
      'projectcalico.org/VXLANTunnelMACAddr': '56:1d:8d:30:79:97',
      'projectcalico.org/IPv4Address': '192.0.2.11/32',
    });
  });

  it('writes the IPv6 twins with /128', () => {
    const annotations = nodeCalicoAnnotations(
      node1({ podCidrV6: 'fd00:10:244:1::/64', vtepMacV6: '6a:2f:11:22:33:44', publicIpV6: '2001:DB8:0::11' }),
    );
    expect(annotations[NODE_ANNOTATIONS.ipv6VxlanTunnelAddr]).toBe('fd00:10:244:1::');
    expect(annotations[NODE_ANNOTATIONS.vxlanTunnelMacAddrV6]).toBe('6a:2f:11:22:33:44');
    expect(annotations[NODE_ANNOTATIONS.ipv6Address]).toBe('2001:db8::11/128');
    expect(Object.keys(annotations)).toHaveLength(6);
  });

  it('keeps only the address of a public IP given with a prefix', () => {
    expect(nodeCalicoAnnotations(node1({ publicIpV4: '192.0.2.11/24' }))[NODE_ANNOTATIONS.ipv4Address]).toBe(
      '192.0.2.11/32',
    );
  });

  it('refuses incomplete or malformed identities', () => {
    expect(() => nodeCalicoAnnotations(node1({ vtepMacV4: undefined }))).toThrow(
      'node node-1: vtepMacV4 (flannel VtepMAC) is missing',
    );
    expect(() => nodeCalicoAnnotations(node1({ vtepMacV4: '56:1d:8d:30:79' }))).toThrow('is not a MAC address');
    expect(() => nodeCalicoAnnotations(node1({ publicIpV4: undefined }))).toThrow(
      'publicIpV4 (flannel public IP) is missing',
    );
    expect(() => nodeCalicoAnnotations(node1({ publicIpV4: 'fd00::1' }))).toThrow('is not an IPv4 address');
    expect(() => nodeCalicoAnnotations(node1({ publicIpV4: 'host.example' }))).toThrow('is not a valid IP address');
    expect(() => nodeCalicoAnnotations(node1({ podCidrV6: 'fd00::/64' }))).toThrow(
      'vtepMacV6 (flannel VtepMAC) is missing',
    );
  });

  it('is empty for a node without podCIDRs', () => {
    expect(nodeCalicoAnnotations({ node: 'bare' })).toEqual({});
  });
});

describe('sanity against the migration arithmetic', () => {
  it('every block of a /22 node subnet is claimed and addressed in order', () => {
    const ipam = nodeIpam(node1({ podCidrV4: '10.244.4.0/22' }), 26, 122, { now: CLAIM_TIME });
    expect(ipam.blocks.map((b) => b.spec.cidr)).toEqual(subdivide('10.244.4.0/22', 26));
    expect(ipam.blocks.filter((b) => b.spec.attributes.length > 0).map((b) => b.spec.cidr)).toEqual(['10.244.4.0/26']);
  });
});
