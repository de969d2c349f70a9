/**
 * Pure builders for the Calico objects the migration writes, in the Kubernetes-datastore form
 * (group crd.projectcalico.org/v1) that Calico's own IPAM (libcalico-go) writes when the
 * flannel-migration controller (kube-controllers/pkg/controllers/flannelmigration/ipam_migrator.go)
 * claims a node's podCIDR and assigns its VXLAN tunnel address. docs/calico-datastore.md shows
 * every object and the libcalico-go file each field comes from.
 */
import { createHash } from 'node:crypto';
import type { KubeObject } from '../cluster/index.js';
import { CALICO_GROUP_VERSION } from '../names.js';
import {
  addressAt,
  addressCount,
  canonicalCidr,
  canonicalIp,
  cidrToName,
  familyOf,
  parseCidr,
  subdivide,
  subdivisionCount,
  type Family,
} from '../net/cidr.js';

/** ipam_migrator.go defaultIpv4PoolName / defaultIpv6PoolName. */
const POOL_NAMES: Record<Family, string> = { 4: 'default-ipv4-ippool', 6: 'default-ipv6-ippool' };

/** flannelmigration/config.go DefaultIppoolSize / DefaultIppoolSizeV6. */
const DEFAULT_BLOCK_SIZE: Record<Family, number> = { 4: 26, 6: 122 };

/** clientv3/ippool.go validateAndSetDefaults: allowed block sizes per family. */
const BLOCK_SIZE_RANGE: Record<Family, [number, number]> = { 4: [20, 32], 6: [116, 128] };

/** An IPv4 podCIDR is claimed whole (ClaimAffinity); refuse absurd block counts instead of exhausting memory. */
export const MAX_AFFINE_BLOCKS = 4096;

/** Node annotations holding Calico node fields (libcalico-go/lib/backend/k8s/resources/node.go). */
export const NODE_ANNOTATIONS = {
  ipv4Address: 'projectcalico.org/IPv4Address',
  ipv4VxlanTunnelAddr: 'projectcalico.org/IPv4VXLANTunnelAddr',
  vxlanTunnelMacAddr: 'projectcalico.org/VXLANTunnelMACAddr',
  ipv6Address: 'projectcalico.org/IPv6Address',
  ipv6VxlanTunnelAddr: 'projectcalico.org/IPv6VXLANTunnelAddr',
  vxlanTunnelMacAddrV6: 'projectcalico.org/VXLANTunnelMACAddrV6',
} as const;

/** BlockAffinity lookup labels (api/pkg/apis/projectcalico/v3/constants.go). */
export const AFFINITY_LABELS = {
  hostnameHash: 'projectcalico.org/hostname-hash',
  affinityType: 'projectcalico.org/affinity-type',
  ipVersion: 'projectcalico.org/ip-version',
} as const;

/** Allocation attribute values (libcalico-go/lib/backend/model/block.go). */
const TUNNEL_ATTRIBUTE_TYPE: Record<Family, string> = { 4: 'vxlanTunnelAddress', 6: 'vxlanV6TunnelAddress' };

export interface CalicoNodeIdentity {
  node: string;
  podCidrV4?: string;
  podCidrV6?: string;
  vtepMacV4?: string;
  vtepMacV6?: string;
  publicIpV4?: string;
  publicIpV6?: string;
}

export interface NodeIpam {
  blocks: KubeObject[];
  affinities: KubeObject[];
  handles: KubeObject[];
  tunnelAddressV4?: string;
  tunnelAddressV6?: string;
}

export interface NodeIpamOptions {
  /** Claim time written to the blocks; also seeds their sequence numbers. Defaults to now. */
  now?: Date;
}

/**
 * IPPool `default-ipv4-ippool` / `default-ipv6-ippool` as ipam_migrator.go createDefaultVxlanIPPool
 * creates it, with the defaults clientv3/ippool.go validateAndSetDefaults adds (nodeSelector all(),
 * allowedUses) and the CRD default assignmentMode, so the object equals what the API server returns.
 */
export function ipPool(o: { family: Family; cidr: string; blockSize: number; natOutgoing: boolean }): KubeObject {
  const parsed = parseCidr(o.cidr);
  if (parsed.family !== o.family) {
    throw new Error(`IP pool CIDR ${o.cidr} is IPv${parsed.family}, not IPv${o.family}`);
  }
  checkBlockSize(o.family, o.blockSize);
  if (parsed.prefix > o.blockSize) {
    throw new Error(`IP pool ${o.cidr} is smaller than one /${o.blockSize} block`);
  }
  return {
    apiVersion: CALICO_GROUP_VERSION,
    kind: 'IPPool',
    metadata: { name: POOL_NAMES[o.family] },
    spec: {
      cidr: canonicalCidr(o.cidr),
      blockSize: o.blockSize,
      ipipMode: 'Never',
      vxlanMode: 'Always',
      natOutgoing: o.natOutgoing,
      nodeSelector: 'all()',
      allowedUses: ['Workload', 'Tunnel'],
      assignmentMode: 'Automatic',
    },
  };
}

/**
 * Merge-patch body for FelixConfiguration `default` with flannel's VNI, port and MTU, the fields
 * ipam_migrator.go updateOrCreateDefaultFelixConfiguration sets (vxlanVNI, vxlanPort, vxlanMTU).
 * With `ipv6`, vxlanMTUV6 is set too (to `mtuV6`, else to `mtu`: flannel gives pods one MTU for
 * both families); Calico's controller leaves it to auto-detection.
 */
export function felixConfigurationPatch(o: {
  vni: number;
  port: number;
  mtu: number;
  ipv6?: boolean;
  mtuV6?: number;
}): object {
  checkInteger('VXLAN VNI', o.vni, 1, 0xffffff);
  checkInteger('VXLAN port', o.port, 1, 65535);
  checkInteger('VXLAN MTU', o.mtu, 0, 65535);
  const spec: Record<string, number> = { vxlanVNI: o.vni, vxlanPort: o.port, vxlanMTU: o.mtu };
  if (o.ipv6) {
    const mtuV6 = o.mtuV6 ?? o.mtu;
    checkInteger('VXLAN IPv6 MTU', mtuV6, 0, 65535);
    spec.vxlanMTUV6 = mtuV6;
  }
  return { spec };
}

/**
 * FelixConfiguration `default` to create when it does not exist yet (ipam_migrator.go creates an
 * empty one, then updates it with the VXLAN settings; this is the end state).
 */
export function felixConfiguration(o: {
  vni: number;
  port: number;
  mtu: number;
  ipv6?: boolean;
  mtuV6?: number;
}): KubeObject {
  const { spec } = felixConfigurationPatch(o) as { spec: Record<string, number> };
  return { apiVersion: CALICO_GROUP_VERSION, kind: 'FelixConfiguration', metadata: { name: 'default' }, spec };
}

/**
 * Merge patch for FelixConfiguration `default` spec.vxlanEnabled. Calico's controller sets it to
 * false before it touches any node and clears it (null) once every node's VTEP data is written
 * (migration_controller.go Run, ipam_migrator.go SetVXLANMode).
 */
export function felixVxlanEnabledPatch(enabled: boolean | null): object {
  return { spec: { vxlanEnabled: enabled } };
}

/** Calico block size for a flannel SubnetLen: max(26, len) for IPv4, max(122, len) for IPv6 (ipam_migrator.go). */
export function blockSizeFor(family: Family, subnetLen: number): number {
  const bits = family === 4 ? 32 : 128;
  if (!Number.isInteger(subnetLen) || subnetLen < 0 || subnetLen > bits) {
    throw new Error(`invalid IPv${family} subnet length ${subnetLen}: expected an integer 0-${bits}`);
  }
  return Math.max(DEFAULT_BLOCK_SIZE[family], subnetLen);
}

/** Handle ID of a node's VXLAN tunnel address (node/pkg/allocateip/allocateip.go generateHandleAndAttributes). */
export function tunnelHandleId(family: Family, node: string): string {
  return family === 4 ? `vxlan-tunnel-addr-${node}` : `vxlan-v6-tunnel-addr-${node}`;
}

/** IPAMBlock name: CIDRToName of the block (k8s/resources/ipam_block.go parseKey). */
function ipamBlockName(blockCidr: string): string {
  return cidrToName(blockCidr);
}

/** IPAMHandle name: the handle ID lower-cased (k8s/resources/ipam_handle.go parseKey). */
export function ipamHandleName(handleId: string): string {
  return handleId.toLowerCase();
}

/**
 * BlockAffinity name `<node>-<CIDRToName>`; from 253 characters on, the node part is cut and an
 * 11-hex-digit sha256 of "<node>+<cidrname>" appended (k8s/resources/ipam_affinity*.go parseKey).
 */
export function blockAffinityName(node: string, blockCidr: string): string {
  const cidrName = cidrToName(blockCidr);
  const name = `${node}-${cidrName}`;
  if (name.length < 253) return name;
  const hash = createHash('sha256').update(`${node}+${cidrName}`).digest('hex').slice(0, 11);
  return `${node.slice(0, 252 - cidrName.length - 13)}-${cidrName}-${hash}`;
}

/**
 * Value of label projectcalico.org/hostname-hash: base32 (RFC 4648, no padding) of SHA3-256 of the
 * node name (libcalico-go/lib/backend/model/block_affinity.go hashHostnameForLabel).
 */
export function hostnameHashLabel(node: string): string {
  return base32NoPad(createHash('sha3-256').update(node).digest());
}

function base32NoPad(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * The IPAM objects Calico's IPAM ends up with after the flannel-migration controller handles a node:
 *
 * - IPv4: ClaimAffinity(podCIDR) claims every block of the podCIDR (libcalico-go/lib/ipam/ipam.go
 *   ClaimAffinity, ipam_block_reader_writer.go claimAffineBlock) and AssignIP puts the tunnel
 *   address, the podCIDR's first IP, at ordinal 0 of the first block with handle
 *   `vxlan-tunnel-addr-<node>` (ipam_migrator.go setupCalicoNodeVxlan).
 * - IPv6: Calico's controller claims no IPv6 blocks; Calico IPAM claims a block when it assigns an
 *   address in it (ipam.go AssignIP). Assigning the IPv6 tunnel address (first IP of the IPv6
 *   podCIDR, handle `vxlan-v6-tunnel-addr-<node>`) therefore claims exactly one block; further
 *   blocks are claimed on demand by Calico when pods need addresses. A flannel IPv6 node subnet
 *   (/64 by default) holds 2^58 blocks of /122, far too many to claim up front.
 */
export function nodeIpam(
  id: CalicoNodeIdentity,
  blockSizeV4: number,
  blockSizeV6: number,
  opts: NodeIpamOptions = {},
): NodeIpam {
  checkNodeName(id.node);
  const now = opts.now ?? new Date();
  if (Number.isNaN(now.getTime())) throw new Error('invalid claim time');
  const result: NodeIpam = { blocks: [], affinities: [], handles: [] };

  if (id.podCidrV4 !== undefined) {
    const family = podCidrFamily(id, id.podCidrV4, 4);
    const prefix = parseCidr(id.podCidrV4).prefix;
    checkBlockSize(4, blockSizeV4);
    if (prefix > blockSizeV4) {
      throw new Error(`node ${id.node}: podCIDR ${id.podCidrV4} is smaller than one /${blockSizeV4} block`);
    }
    const count = subdivisionCount(id.podCidrV4, blockSizeV4);
    if (count > BigInt(MAX_AFFINE_BLOCKS)) {
      throw new Error(
        `node ${id.node}: podCIDR ${id.podCidrV4} holds ${count} blocks of /${blockSizeV4}; at ` +
          `most ${MAX_AFFINE_BLOCKS} are supported`,
      );
    }
    result.tunnelAddressV4 = addFamily(result, id.node, family, subdivide(id.podCidrV4, blockSizeV4), now);
  }

  if (id.podCidrV6 !== undefined) {
    const family = podCidrFamily(id, id.podCidrV6, 6);
    const prefix = parseCidr(id.podCidrV6).prefix;
    checkBlockSize(6, blockSizeV6);
    if (prefix > blockSizeV6) {
      throw new Error(`node ${id.node}: IPv6 podCIDR ${id.podCidrV6} is smaller than one /${blockSizeV6} block`);
    }
    result.tunnelAddressV6 = addFamily(result, id.node, family, subdivide(id.podCidrV6, blockSizeV6, 1), now);
  }
  return result;
}

/** Adds blocks and affinities for `blockCidrs` (in order), the tunnel allocation in the first one, and its handle. */
function addFamily(result: NodeIpam, node: string, family: Family, blockCidrs: string[], now: Date): string {
  // libcalico-go/lib/ipam/ipam_block.go newBlock seeds sequenceNumber from the clock (nanoseconds);
  // microseconds keep the value exact in a JSON number.
  const sequenceSeed = now.getTime() * 1000;
  const claimTime = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const tunnelAddress = addressAt(blockCidrs[0]!, 0);
  const handleId = tunnelHandleId(family, node);
  if (ipamHandleName(handleId).length > 253) {
    // Calico names the IPAMHandle after the handle ID without shortening, so its own IPAM fails here too.
    throw new Error(
      `node ${node}: the node name is too long for Calico's tunnel address handle ` +
        `"${handleId.slice(0, 40)}…" (${handleId.length} characters; Kubernetes allows 253)`,
    );
  }

  blockCidrs.forEach((blockCidr, index) => {
    const tunnel = index === 0 ? { handleId, attrs: { node, type: TUNNEL_ATTRIBUTE_TYPE[family] } } : undefined;
    result.blocks.push(ipamBlock({ cidr: blockCidr, node, claimTime, sequenceNumber: sequenceSeed, tunnel }));
    result.affinities.push(blockAffinity(node, blockCidr));
  });
  result.handles.push(ipamHandle(handleId, blockCidrs[0]!));
  return tunnelAddress;
}

/**
 * IPAMBlock as libcalico-go/lib/ipam/ipam_block.go newBlock + claimAffineBlock create it and
 * k8s/resources/ipam_block.go IPAMBlockV1toV3 stores it. With `tunnel`, ordinal 0 is allocated as
 * AssignIP does: attributes [{handle_id, secondary}], ordinal 0 removed from unallocated, its
 * sequence number recorded, and the block's sequence number incremented by the update.
 */
function ipamBlock(o: {
  cidr: string;
  node: string;
  claimTime: string;
  sequenceNumber: number;
  tunnel?: { handleId: string; attrs: Record<string, string> };
}): KubeObject {
  const size = Number(addressCount(o.cidr));
  const allocations: Array<number | null> = new Array<number | null>(size).fill(null);
  let unallocated = Array.from({ length: size }, (_, i) => i);
  const attributes: Array<{ handle_id: string; secondary: Record<string, string> }> = [];
  const sequenceNumberForAllocation: Record<string, number> = {};
  let sequenceNumber = o.sequenceNumber;
  if (o.tunnel) {
    attributes.push({ handle_id: o.tunnel.handleId, secondary: { ...o.tunnel.attrs } });
    allocations[0] = 0;
    unallocated = unallocated.slice(1);
    sequenceNumberForAllocation['0'] = sequenceNumber;
    sequenceNumber += 1;
  }
  return {
    apiVersion: CALICO_GROUP_VERSION,
    kind: 'IPAMBlock',
    metadata: { name: ipamBlockName(o.cidr) },
    spec: {
      cidr: canonicalCidr(o.cidr),
      affinity: `host:${o.node}`,
      affinityClaimTime: o.claimTime,
      allocations,
      unallocated,
      attributes,
      sequenceNumber,
      sequenceNumberForAllocation,
      deleted: false,
      strictAffinity: false,
    },
  };
}

/**
 * Confirmed host BlockAffinity (k8s/resources/ipam_affinity*.go parseKey + buildCRD): `deleted` is
 * the string "false", `type` is "host", and the lookup labels of model.EnsureBlockAffinityLabels.
 */
function blockAffinity(node: string, blockCidr: string): KubeObject {
  const cidr = canonicalCidr(blockCidr);
  return {
    apiVersion: CALICO_GROUP_VERSION,
    kind: 'BlockAffinity',
    metadata: {
      name: blockAffinityName(node, cidr),
      labels: {
        [AFFINITY_LABELS.hostnameHash]: hostnameHashLabel(node),
        [AFFINITY_LABELS.affinityType]: 'host',
        [AFFINITY_LABELS.ipVersion]: String(familyOf(cidr)),
      },
    },
    spec: { state: 'confirmed', node, type: 'host', cidr, deleted: 'false' },
  };
}

/** IPAMHandle counting one address in `blockCidr` (ipam.go incrementHandle, k8s/resources/ipam_handle.go toV3). */
function ipamHandle(handleId: string, blockCidr: string): KubeObject {
  return {
    apiVersion: CALICO_GROUP_VERSION,
    kind: 'IPAMHandle',
    metadata: { name: ipamHandleName(handleId) },
    spec: { handleID: handleId, block: { [canonicalCidr(blockCidr)]: 1 }, deleted: false },
  };
}

/**
 * Calico node fields as Kubernetes Node annotations (k8s/resources/node.go
 * mergeCalicoNodeIntoK8sNode), with the values ipam_migrator.go setupCalicoNodeVxlan sets:
 * tunnel address = first IP of the podCIDR, tunnel MAC = flannel's VtepMAC, BGP address =
 * flannel's public IP + "/32" (IPv6: the twins, with "/128"). Every family with a podCIDR needs
 * its VTEP MAC and public IP.
 */
export function nodeCalicoAnnotations(id: CalicoNodeIdentity): Record<string, string> {
  checkNodeName(id.node);
  const annotations: Record<string, string> = {};
  if (id.podCidrV4 !== undefined) {
    podCidrFamily(id, id.podCidrV4, 4);
    annotations[NODE_ANNOTATIONS.ipv4VxlanTunnelAddr] = addressAt(id.podCidrV4, 0);
    annotations[NODE_ANNOTATIONS.vxlanTunnelMacAddr] = requireMac(id.node, 'vtepMacV4', id.vtepMacV4);
    annotations[NODE_ANNOTATIONS.ipv4Address] = `${requireIp(id.node, 'publicIpV4', id.publicIpV4, 4)}/32`;
  }
  if (id.podCidrV6 !== undefined) {
    podCidrFamily(id, id.podCidrV6, 6);
    annotations[NODE_ANNOTATIONS.ipv6VxlanTunnelAddr] = addressAt(id.podCidrV6, 0);
    annotations[NODE_ANNOTATIONS.vxlanTunnelMacAddrV6] = requireMac(id.node, 'vtepMacV6', id.vtepMacV6);
    annotations[NODE_ANNOTATIONS.ipv6Address] = `${requireIp(id.node, 'publicIpV6', id.publicIpV6, 6)}/128`;
  }
  return annotations;
}

function podCidrFamily(id: CalicoNodeIdentity, cidr: string, expected: Family): Family {
  let family: Family;
  try {
    family = parseCidr(cidr).family;
  } catch (err) {
    throw new Error(`node ${id.node}: ${(err as Error).message}`);
  }
  if (family !== expected) {
    throw new Error(`node ${id.node}: podCIDR ${cidr} is IPv${family} but was given as the IPv${expected} podCIDR`);
  }
  return family;
}

function requireMac(node: string, field: string, mac: string | undefined): string {
  if (mac === undefined || mac === '') throw new Error(`node ${node}: ${field} (flannel VtepMAC) is missing`);
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) {
    throw new Error(`node ${node}: ${field} "${mac}" is not a MAC address like 56:1d:8d:30:79:97`);
  }
  return mac;
}

function requireIp(node: string, field: string, ip: string | undefined, family: Family): string {
  if (ip === undefined || ip === '') throw new Error(`node ${node}: ${field} (flannel public IP) is missing`);
  // flannel's public-ip annotation is a bare address; tolerate a prefix and keep the address.
  const address = ip.includes('/') ? ip.slice(0, ip.indexOf('/')) : ip;
  let canonical: string;
  try {
    canonical = canonicalIp(address);
  } catch {
    throw new Error(`node ${node}: ${field} "${ip}" is not a valid IP address`);
  }
  if (familyOf(canonical) !== family) throw new Error(`node ${node}: ${field} "${ip}" is not an IPv${family} address`);
  return canonical;
}

function checkNodeName(node: string): void {
  if (
    typeof node !== 'string' ||
    !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(node) ||
    node.length > 253
  ) {
    throw new Error(`invalid node name "${node}": expected a Kubernetes node name (lower-case DNS subdomain)`);
  }
}

function checkBlockSize(family: Family, blockSize: number): void {
  const [min, max] = BLOCK_SIZE_RANGE[family];
  if (!Number.isInteger(blockSize) || blockSize < min || blockSize > max) {
    throw new Error(`invalid IPv${family} block size ${blockSize}: Calico allows ${min}-${max}`);
  }
}

function checkInteger(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`invalid ${what} ${value}: expected an integer ${min}-${max}`);
  }
}
