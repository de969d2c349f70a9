/**
 * The cluster state a plan depends on, reduced to per-object fingerprints, and the drift check that
 * compares a saved plan's fingerprints with the cluster now. Covers what the plan was computed
 * from (nodes' podCIDRs, role and migration labels, flannel/Calico annotations, cordon state; the
 * flannel DaemonSet and ConfigMap; Calico IPAM objects; PDB specs) and leaves out noise (pod
 * status, resourceVersions, managedFields, timestamps).
 */
import { createHash } from 'node:crypto';
import type { KubeObject } from '../cluster/index.js';
import type { ClusterSnapshot } from './types.js';

/** Node labels the plan depends on (roles, migration state). */
const RELEVANT_LABEL_PREFIXES = ['node-role.kubernetes.io/', 'projectcalico.org/', 'flannel2calico.io/'];
/** Node annotations the plan depends on; flannel's prefix comes from the snapshot. */
const RELEVANT_ANNOTATION_PREFIXES = ['projectcalico.org/'];
/** Our own progress record changes on every step; it is state, not input. */
const IGNORED_ANNOTATIONS = new Set(['flannel2calico.io/state']);

/** JSON with object keys sorted, so equal content always gives equal text. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object')
    return JSON.stringify(value instanceof Date ? value.toISOString() : value);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

function shortHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

function aspects(parts: Record<string, unknown>): string {
  return Object.entries(parts)
    .map(([name, value]) => `${name}=${shortHash(value)}`)
    .join(' ');
}

function pick(map: Record<string, string> | undefined, keep: (key: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map ?? {})) if (keep(k)) out[k] = v;
  return out;
}

function nsName(obj: KubeObject | { metadata?: { namespace?: string; name?: string } }): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

const CALICO_KINDS = [
  ['ipPools', 'ippool'],
  ['ipamBlocks', 'ipamblock'],
  ['blockAffinities', 'blockaffinity'],
  ['ipamHandles', 'ipamhandle'],
] as const;

/** Per-object fingerprints: key → "aspect=hash aspect=hash…". */
export function fingerprint(snapshot: ClusterSnapshot): Record<string, string> {
  const out: Record<string, string> = {};
  const prefix = `${snapshot.annotationPrefix}/`;
  for (const node of snapshot.nodes) {
    const spec = node.spec ?? {};
    out[`node/${node.metadata?.name}`] = aspects({
      podCIDRs: spec.podCIDRs?.length ? spec.podCIDRs : spec.podCIDR ? [spec.podCIDR] : [],
      labels: pick(node.metadata?.labels, (k) => RELEVANT_LABEL_PREFIXES.some((p) => k.startsWith(p))),
      annotations: pick(
        node.metadata?.annotations,
        (k) =>
          !IGNORED_ANNOTATIONS.has(k) &&
          (k.startsWith(prefix) || RELEVANT_ANNOTATION_PREFIXES.some((p) => k.startsWith(p))),
      ),
      unschedulable: spec.unschedulable === true,
    });
  }
  const ds = snapshot.flannel.daemonSet;
  if (ds) out[`flannel/daemonset/${nsName(ds)}`] = aspects({ spec: ds.spec });
  const cm = snapshot.flannel.configMap;
  if (cm) out[`flannel/configmap/${nsName(cm)}`] = aspects({ data: cm.data ?? {} });
  for (const pdb of snapshot.pdbs) out[`pdb/${nsName(pdb)}`] = aspects({ spec: pdb.spec });
  out['calico/crds'] = CALICO_KINDS.map(([field]) => `${field}=${snapshot.calico[field] ? 'served' : 'absent'}`).join(
    ' ',
  );
  for (const [field, kind] of CALICO_KINDS) {
    for (const obj of snapshot.calico[field] ?? [])
      out[`calico/${kind}/${obj.metadata?.name}`] = aspects({ spec: obj.spec });
  }
  return out;
}

/** sha256 over the sorted fingerprints: equal when nothing the plan depends on has changed. */
export function fingerprintHash(fp: Record<string, string>): string {
  const hash = createHash('sha256');
  for (const key of Object.keys(fp).sort()) hash.update(`${key}\t${fp[key]}\n`);
  return hash.digest('hex');
}

/** sha256 of the cluster state the plan depends on (see fingerprint). */
export function stateHash(snapshot: ClusterSnapshot): string {
  return fingerprintHash(fingerprint(snapshot));
}

export interface DriftChange {
  key: string;
  change: 'added' | 'removed' | 'changed';
  /** For 'changed': which parts (e.g. podCIDRs, labels, spec). */
  aspects: string[];
  message: string;
}

const KEY_TITLES: Array<[RegExp, string]> = [
  [/^node\/(.+)$/, 'node $1'],
  [/^flannel\/daemonset\/(.+)$/, 'flannel DaemonSet $1'],
  [/^flannel\/configmap\/(.+)$/, 'flannel ConfigMap $1'],
  [/^pdb\/(.+)$/, 'PodDisruptionBudget $1'],
  [/^calico\/crds$/, 'installed Calico CRDs'],
  [/^calico\/ippool\/(.+)$/, 'Calico IPPool $1'],
  [/^calico\/ipamblock\/(.+)$/, 'Calico IPAMBlock $1'],
  [/^calico\/blockaffinity\/(.+)$/, 'Calico BlockAffinity $1'],
  [/^calico\/ipamhandle\/(.+)$/, 'Calico IPAMHandle $1'],
];

function describeKey(key: string): string {
  for (const [re, title] of KEY_TITLES) if (re.test(key)) return key.replace(re, title);
  return key;
}

function parseAspects(value: string): Map<string, string> {
  return new Map(
    value
      .split(' ')
      .filter(Boolean)
      .map((part) => {
        const i = part.indexOf('=');
        return [part.slice(0, i), part.slice(i + 1)] as [string, string];
      }),
  );
}

/** What differs between two fingerprints, in a stable order. Empty when nothing changed. */
export function diffFingerprints(before: Record<string, string>, after: Record<string, string>): DriftChange[] {
  const changes: DriftChange[] = [];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const key of keys) {
    const a = before[key];
    const b = after[key];
    if (a === b) continue;
    const title = describeKey(key);
    if (a === undefined) changes.push({ key, change: 'added', aspects: [], message: `${title} was added` });
    else if (b === undefined) changes.push({ key, change: 'removed', aspects: [], message: `${title} was removed` });
    else {
      const pa = parseAspects(a);
      const pb = parseAspects(b);
      const changed = [...new Set([...pa.keys(), ...pb.keys()])].filter((k) => pa.get(k) !== pb.get(k));
      changes.push({ key, change: 'changed', aspects: changed, message: `${title} changed (${changed.join(', ')})` });
    }
  }
  return changes;
}

/** Drift of the cluster now against the fingerprint a plan was made from. */
export function diffSnapshots(planFingerprint: Record<string, string>, current: ClusterSnapshot): DriftChange[] {
  return diffFingerprints(planFingerprint, fingerprint(current));
}
