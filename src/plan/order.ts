/** Node order and batches: workers first in a stable order, control-plane nodes last and alone. */
import type { V1Node } from '../cluster/index.js';
import { CONTROL_PLANE_LABELS } from '../names.js';
import { SettingError } from '../flannel/settings.js';

/** Options that cannot be planned (unknown --nodes, bad --max-parallel): the CLI exits 2, like bad settings. */
export class PlanInputError extends SettingError {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'PlanInputError';
  }
}

/** Control plane by either role label (Calico's controller only knew "master"). */
export function isControlPlane(node: V1Node): boolean {
  const labels = node.metadata?.labels ?? {};
  return CONTROL_PLANE_LABELS.some((key) => key in labels);
}

/** Natural order: "node-2" before "node-10"; byte order breaks ties, so the order is total. */
export function compareNames(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) {
      const dx = BigInt(x);
      const dy = BigInt(y);
      if (dx !== dy) return dx < dy ? -1 : 1;
      continue;
    }
    return x < y ? -1 : 1;
  }
  if (pa.length !== pb.length) return pa.length - pb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface MaxParallel {
  value: number;
  percent: boolean;
}

/** "3" or "25%"; at least 1, a percentage at most 100. Throws PlanInputError. */
export function parseMaxParallel(raw: string | number | undefined): MaxParallel {
  const text = String(raw ?? '1').trim();
  const m = /^(\d+)(%?)$/.exec(text);
  const hint = 'Give a whole number of nodes (e.g. 3) or a percentage of the worker nodes (e.g. 25%).';
  if (!m) throw new PlanInputError(`--max-parallel: expected N or N% (got "${text}")`, hint);
  const value = Number(m[1]);
  const percent = m[2] === '%';
  if (value < 1) throw new PlanInputError(`--max-parallel: must be at least 1 (got "${text}")`, hint);
  if (percent && value > 100)
    throw new PlanInputError(`--max-parallel: a percentage must be at most 100% (got "${text}")`, hint);
  return { value, percent };
}

/** How many worker nodes move at once: N, or N% of the workers rounded up; at least 1. */
export function batchSize(maxParallel: MaxParallel, workerCount: number): number {
  const size = maxParallel.percent ? Math.ceil((maxParallel.value * workerCount) / 100) : maxParallel.value;
  return Math.max(1, size);
}

/** Workers in natural name order, then control-plane nodes (natural order too). */
export function orderNodes<T extends { name: string; role: 'worker' | 'control-plane' }>(nodes: readonly T[]): T[] {
  const byName = (a: T, b: T) => compareNames(a.name, b.name);
  return [
    ...nodes.filter((n) => n.role === 'worker').sort(byName),
    ...nodes.filter((n) => n.role === 'control-plane').sort(byName),
  ];
}

/** Splits ordered nodes into batches: workers `size` at a time, each control-plane node alone at the end. */
export function makeBatches(
  ordered: ReadonlyArray<{ name: string; role: 'worker' | 'control-plane' }>,
  size: number,
): string[][] {
  const batches: string[][] = [];
  const workers = ordered.filter((n) => n.role === 'worker').map((n) => n.name);
  for (let i = 0; i < workers.length; i += size) batches.push(workers.slice(i, i + size));
  for (const n of ordered) if (n.role === 'control-plane') batches.push([n.name]);
  return batches;
}
