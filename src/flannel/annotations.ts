import { ipFamilyOrUndefined, parseCidrOrUndefined, sameAddress } from '../net/cidr.js';
import type { V1Node } from '../cluster/index.js';
import type { FlannelNodeInfo } from './types.js';

export const DEFAULT_ANNOTATION_PREFIX = 'flannel.alpha.coreos.com';

export interface FlannelAnnotationKeys {
  backendType: string;
  backendData: string;
  backendV6Data: string;
  publicIp: string;
  publicIpv6: string;
  kubeSubnetManager: string;
}

/**
 * The annotation names flanneld writes for a --kube-annotation-prefix, built the way flannel builds them
 * (pkg/subnet/kube/annotations.go): "a.b" -> "a.b/backend-type", "a.b/c" -> "a.b/c-backend-type".
 */
export function annotationKeys(prefix: string): FlannelAnnotationKeys {
  let p = prefix;
  const slashes = (p.match(/\//g) ?? []).length;
  if (slashes === 0) p += '/';
  if (!p.endsWith('/') && !p.endsWith('-')) p += '-';
  return {
    backendType: `${p}backend-type`,
    backendData: `${p}backend-data`,
    backendV6Data: `${p}backend-v6-data`,
    publicIp: `${p}public-ip`,
    publicIpv6: `${p}public-ipv6`,
    kubeSubnetManager: `${p}kube-subnet-manager`,
  };
}

/** Prefixes under which any node carries a flannel backend-type annotation (for a prefix that was not configured). */
export function annotationPrefixesOnNodes(nodes: V1Node[]): string[] {
  const prefixes = new Set<string>();
  for (const node of nodes) {
    for (const key of Object.keys(node.metadata?.annotations ?? {})) {
      if (!key.endsWith('backend-type')) continue;
      const stem = key.slice(0, -'backend-type'.length);
      if (stem.endsWith('/')) prefixes.add(stem.slice(0, -1));
      else if (stem.endsWith('-') && stem.includes('/')) prefixes.add(stem.slice(0, -1));
    }
  }
  return [...prefixes].sort();
}

export function hasFlannelAnnotations(node: V1Node, prefix: string): boolean {
  const keys = annotationKeys(prefix);
  const annotations = node.metadata?.annotations ?? {};
  return keys.backendType in annotations || keys.backendData in annotations || keys.publicIp in annotations;
}

export type NodeFindingCode =
  | 'podcidr-missing'
  | 'annotations-missing'
  | 'backend-data-invalid'
  | 'backend-type'
  | 'public-ip-stale'
  | 'ipv6-annotations-missing'
  | 'ipv6-annotations-stale';

export interface NodeFinding {
  node: string;
  code: NodeFindingCode;
  severity: 'fail' | 'warn';
  message: string;
}

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;

function parseBackendData(text: string | undefined): { vni?: number; vtepMac?: string; error?: string } {
  if (text === undefined) return {};
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { error: 'is not JSON' };
  }
  if (typeof data !== 'object' || data === null) return { error: 'is not a JSON object' };
  const d = data as Record<string, unknown>;
  const out: { vni?: number; vtepMac?: string; error?: string } = {};
  if (typeof d.VNI === 'number') out.vni = d.VNI;
  if (typeof d.VtepMAC === 'string' && MAC.test(d.VtepMAC)) out.vtepMac = d.VtepMAC.toLowerCase();
  else out.error = d.VtepMAC === undefined ? 'has no VtepMAC' : `has an invalid VtepMAC ${JSON.stringify(d.VtepMAC)}`;
  return out;
}

/** A node's podCIDRs: spec.podCIDRs, or the single spec.podCIDR of older clusters. */
export function nodePodCidrs(node: V1Node): string[] {
  const list = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : [];
  return [...new Set(list)];
}

/** What flanneld recorded on one node, and what is missing or looks stale. Pure. */
export function readNodeInfo(
  node: V1Node,
  prefix: string,
  families: { ipv4?: boolean; ipv6?: boolean } = {},
): { info: FlannelNodeInfo; findings: NodeFinding[] } {
  const ipv4Enabled = families.ipv4 ?? true;
  const ipv6Enabled = families.ipv6 ?? false;
  const name = node.metadata?.name ?? '(unnamed)';
  const annotations = node.metadata?.annotations ?? {};
  const keys = annotationKeys(prefix);
  const findings: NodeFinding[] = [];
  const add = (code: NodeFindingCode, severity: 'fail' | 'warn', message: string) =>
    findings.push({ node: name, code, severity, message });

  const podCidrs = nodePodCidrs(node);
  const addresses = (node.status?.addresses ?? []).map((a) => a.address).filter((a): a is string => Boolean(a));
  const info: FlannelNodeInfo = { name, podCidrs, problems: [] };
  const v4Cidr = podCidrs.find((c) => parseCidrOrUndefined(c)?.family === 4);
  const v6Cidr = podCidrs.find((c) => parseCidrOrUndefined(c)?.family === 6);

  if (podCidrs.length === 0) add('podcidr-missing', 'fail', `${name} has no spec.podCIDR`);
  else if (ipv4Enabled && !v4Cidr)
    add('podcidr-missing', 'fail', `${name} has no IPv4 podCIDR although flannel runs IPv4`);
  else if (ipv6Enabled && !v6Cidr)
    add('podcidr-missing', 'fail', `${name} has no IPv6 podCIDR although flannel runs IPv6 (EnableIPv6)`);

  const backendType = annotations[keys.backendType];
  const backendData = annotations[keys.backendData];
  const backendV6Data = annotations[keys.backendV6Data];
  const publicIp = annotations[keys.publicIp];
  const publicIpv6 = annotations[keys.publicIpv6];
  if (backendType !== undefined) info.backendType = backendType;
  info.kubeSubnetManager = annotations[keys.kubeSubnetManager] === 'true';

  const present = [backendType, backendData, backendV6Data, publicIp, publicIpv6].some((v) => v !== undefined);
  if (!present) {
    add(
      'annotations-missing',
      'fail',
      `${name} has no flannel annotations (${keys.backendType}, …): flanneld has not run on it`,
    );
  } else {
    const missing: string[] = [];
    if (backendType === undefined) missing.push(keys.backendType);
    if (ipv4Enabled) {
      if (backendData === undefined) missing.push(keys.backendData);
      if (publicIp === undefined) missing.push(keys.publicIp);
    }
    if (missing.length > 0) add('annotations-missing', 'fail', `${name} lacks ${missing.join(', ')}`);
  }
  if (backendType !== undefined && backendType !== 'vxlan')
    add('backend-type', 'fail', `${name} has backend-type "${backendType}", not vxlan`);

  const v4 = parseBackendData(backendData);
  if (v4.error) add('backend-data-invalid', 'fail', `${name}: ${keys.backendData} ${v4.error}`);
  if (v4.vtepMac) info.vtepMacV4 = v4.vtepMac;
  if (v4.vni !== undefined) info.vni = v4.vni;

  const v6 = parseBackendData(backendV6Data);
  if (v6.error) add('backend-data-invalid', 'fail', `${name}: ${keys.backendV6Data} ${v6.error}`);
  if (v6.vtepMac) info.vtepMacV6 = v6.vtepMac;
  if (v6.vni !== undefined) info.vniV6 = v6.vni;

  if (publicIp !== undefined) {
    if (ipFamilyOrUndefined(publicIp) !== 4)
      add('backend-data-invalid', 'fail', `${name}: ${keys.publicIp} "${publicIp}" is not an IPv4 address`);
    else info.publicIpV4 = publicIp;
  }
  if (publicIpv6 !== undefined) {
    if (ipFamilyOrUndefined(publicIpv6) !== 6)
      add('backend-data-invalid', 'fail', `${name}: ${keys.publicIpv6} "${publicIpv6}" is not an IPv6 address`);
    else info.publicIpV6 = publicIpv6;
  }

  for (const ip of [info.publicIpV4, info.publicIpV6]) {
    if (ip && addresses.length > 0 && !addresses.some((a) => sameAddress(a, ip))) {
      add(
        'public-ip-stale',
        'warn',
        `${name}: flannel's public-ip ${ip} is not among the node's addresses ` +
          `(${addresses.join(', ')}); the annotation may be stale or flannel uses another interface`,
      );
    }
  }

  if (ipv6Enabled && present && (backendV6Data === undefined || publicIpv6 === undefined)) {
    add(
      'ipv6-annotations-missing',
      'fail',
      `${name} lacks ${backendV6Data === undefined ? keys.backendV6Data : keys.publicIpv6} ` +
        `although flannel runs IPv6 (EnableIPv6): flanneld has not set up IPv6 on it`,
    );
  }
  if (!v6Cidr && !ipv6Enabled && backendV6Data !== undefined) {
    add(
      'ipv6-annotations-stale',
      'warn',
      `${name} carries ${keys.backendV6Data} but has no IPv6 podCIDR; the annotation is stale`,
    );
  }

  info.problems = findings.map((f) => f.message);
  return { info, findings };
}

export interface DistributionMarkers {
  k3s: boolean;
  rke2: boolean;
  /** k3s/RKE2 started with --flannel-backend=none: any flannel annotation is a leftover. */
  flannelBackendNone: boolean;
}

/** k3s / RKE2 node labels and annotations (k3s.io/*, rke2.io/*). */
export function distributionMarkers(nodes: V1Node[]): DistributionMarkers {
  const out: DistributionMarkers = { k3s: false, rke2: false, flannelBackendNone: false };
  for (const node of nodes) {
    const labels = node.metadata?.labels ?? {};
    const annotations = node.metadata?.annotations ?? {};
    const keys = [...Object.keys(labels), ...Object.keys(annotations)];
    if (keys.some((k) => k.startsWith('k3s.io/')) || labels['node.kubernetes.io/instance-type'] === 'k3s')
      out.k3s = true;
    if (keys.some((k) => k.startsWith('rke2.io/')) || labels['node.kubernetes.io/instance-type'] === 'rke2')
      out.rke2 = true;
    for (const key of ['k3s.io/node-args', 'rke2.io/node-args']) {
      const args = annotations[key];
      if (!args) continue;
      try {
        const list = JSON.parse(args) as unknown;
        if (Array.isArray(list)) {
          const strings = list.map(String);
          const i = strings.indexOf('--flannel-backend');
          if (strings.includes('--flannel-backend=none') || (i >= 0 && strings[i + 1] === 'none'))
            out.flannelBackendNone = true;
        }
      } catch {
        // node-args that are not JSON say nothing either way
      }
    }
  }
  return out;
}
