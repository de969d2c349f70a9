/**
 * Kubernetes rules every layer shares: names and label values that fit the API's limits, label
 * selectors written as the API takes them, node readiness. Pure; imports nothing.
 */
import { createHash } from 'node:crypto';

/** Object names that become label values (a Job's name is its pods' job-name label) stop here. */
const MAX_NAME = 63;
const HASH_LENGTH = 8;

/** 8 hex digits of sha256 over `parts` (joined by NUL): the same parts give the same hash. */
export function shortHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, HASH_LENGTH);
}

/**
 * `<prefix>-<node>-<hash>` in at most 63 characters: the node's name, lowercased and cut to fit
 * (dropped when nothing of it is left), then a hash of `hashParts` so that cut names stay distinct.
 */
export function boundedName(prefix: string, node: string, ...hashParts: string[]): string {
  const hash = shortHash(...hashParts);
  const room = MAX_NAME - prefix.length - hash.length - 2;
  const nodePart = node.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, room).replace(/^-+|-+$/g, '');
  return `${prefix}-${nodePart ? `${nodePart}-` : ''}${hash}`;
}

/** `value` if it is a valid label value, else a valid one made from it (truncated, with a hash). */
export function labelValue(value: string): string {
  if (/^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/.test(value)) return value;
  const cleaned = value.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, MAX_NAME - HASH_LENGTH - 1).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return cleaned ? `${cleaned}-${shortHash(value)}` : shortHash(value);
}

/** A selector's matchLabels as the API's labelSelector parameter takes them: "k1=v1,k2=v2" ("" selects everything). */
export function labelSelector(matchLabels: Record<string, string> | null | undefined): string {
  return Object.entries(matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
}

interface NodeCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** A node's Ready condition, if it reports one. */
export function readyCondition(node: { status?: { conditions?: NodeCondition[] } }): NodeCondition | undefined {
  return node.status?.conditions?.find((c) => c.type === 'Ready');
}

/** Whether the node's kubelet reports Ready (the Ready condition is True). */
export function isNodeReady(node: { status?: { conditions?: NodeCondition[] } }): boolean {
  return readyCondition(node)?.status === 'True';
}
