/**
 * A saved plan applied with flags typed beside it: flags that select or pace nodes narrow the plan,
 * flags that would change what the plan decided about pods are refused. Never silently ignored.
 */
import { batchSize, makeBatches, parseMaxParallel, PlanInputError } from './order.js';
import type { Plan } from './types.js';

/** Only the flags the operator typed (a default is not a choice). */
export interface PlanFlags {
  nodes?: string[];
  maxParallel?: string;
  drainTimeoutSeconds?: number;
  force?: boolean;
  deleteEmptyDirData?: boolean;
  gracePeriodSeconds?: number;
  /** Migration settings typed as flags (--flannel-vni …), each with the plan key it sets. */
  settings?: Array<{ key: string; flag: string; value: unknown }>;
}

export interface NarrowedPlan {
  plan: Plan;
  /** One line per flag applied, for the operator. */
  applied: string[];
}

/**
 * `--nodes`: only those nodes of the plan, in the plan's order (a node not in the plan is refused).
 * `--max-parallel`: the remaining nodes re-batched with the planner's rules (control plane last, alone).
 * `--drain-timeout`: replaces the plan's. `--force`, `--delete-emptydir-data`, `--grace-period`:
 * refused when they differ from the plan, whose pod verdicts were made with the plan's values.
 * Pure; throws PlanInputError (exit 2).
 */
export function narrowPlan(plan: Plan, flags: PlanFlags, file = 'the plan'): NarrowedPlan {
  const applied: string[] = [];
  const remake = (flag: string, planned: string) =>
    `Make a new plan with ${flag} (flannel2calico plan ${flag} --out plan.json; the plan has ` +
    `${planned}), or drop ${flag.split(' ')[0]} to apply the plan as saved.`;
  if (flags.force !== undefined && flags.force !== plan.drain.force) {
    throw new PlanInputError(
      `--force differs from ${file}, which was made ${plan.drain.force ? 'with' : 'without'} ` +
        `it; its pod verdicts depend on it`,
      remake('--force', plan.drain.force ? '--force' : 'no --force'),
    );
  }
  if (flags.deleteEmptyDirData !== undefined && flags.deleteEmptyDirData !== plan.drain.deleteEmptyDirData) {
    throw new PlanInputError(
      `--delete-emptydir-data differs from ${file}, which was made ${plan.drain.deleteEmptyDirData ? 'with' : 'without'} ` +
        `it; its pod verdicts depend on it`,
      remake(
        '--delete-emptydir-data',
        plan.drain.deleteEmptyDirData ? '--delete-emptydir-data' : 'no --delete-emptydir-data',
      ),
    );
  }
  if (flags.gracePeriodSeconds !== undefined && flags.gracePeriodSeconds !== plan.drain.gracePeriodSeconds) {
    throw new PlanInputError(
      `--grace-period ${flags.gracePeriodSeconds} differs from ${file} (--grace-period ` +
        `${plan.drain.gracePeriodSeconds})`,
      remake(`--grace-period ${flags.gracePeriodSeconds}`, `--grace-period ${plan.drain.gracePeriodSeconds}`),
    );
  }
  for (const setting of flags.settings ?? []) {
    const planned = plan.settings[setting.key]?.value;
    if (JSON.stringify(planned) !== JSON.stringify(setting.value)) {
      throw new PlanInputError(
        `${setting.flag} ${String(setting.value)} differs from ${file}, made with ${String(planned)}`,
        `Make a new plan with ${setting.flag} (flannel2calico plan ${setting.flag} ${String(setting.value)} ` +
          `--out plan.json), or drop ${setting.flag} to apply the plan as saved.`,
      );
    }
  }

  let nodes = plan.nodes;
  if (flags.nodes) {
    const inPlan = new Set(plan.nodes.map((n) => n.name));
    const unknown = flags.nodes.filter((n) => !inPlan.has(n));
    if (unknown.length) {
      throw new PlanInputError(
        `--nodes: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in ${file} ` +
          `(its nodes: ${summarise(plan.nodes.map((n) => n.name))})`,
        'Name nodes of the plan, or make a new plan that includes them (flannel2calico plan --out plan.json).',
      );
    }
    const wanted = new Set(flags.nodes);
    nodes = plan.nodes.filter((n) => wanted.has(n.name));
    applied.push(
      `--nodes: ${nodes.length} of the plan's ${plan.nodes.length} node(s): ${summarise(nodes.map((n) => n.name))}`,
    );
  }

  let batches = plan.batches.map((b) => b.filter((name) => nodes.some((n) => n.name === name))).filter((b) => b.length);
  let maxParallel = plan.maxParallel;
  if (flags.maxParallel !== undefined) {
    const parsed = parseMaxParallel(flags.maxParallel);
    const ordered = batches.flat().map((name) => nodes.find((n) => n.name === name)!);
    batches = makeBatches(ordered, batchSize(parsed, ordered.filter((n) => n.role === 'worker').length));
    maxParallel = parsed.percent ? `${parsed.value}%` : String(parsed.value);
    applied.push(
      `--max-parallel ${maxParallel}: ${batches.length} batch(es) instead of the plan's ${plan.maxParallel}`,
    );
  }
  const batchOf = new Map<string, number>();
  batches.forEach((names, i) => names.forEach((n) => batchOf.set(n, i)));

  let drain = plan.drain;
  if (flags.drainTimeoutSeconds !== undefined && flags.drainTimeoutSeconds !== plan.drain.timeoutSeconds) {
    drain = { ...plan.drain, timeoutSeconds: flags.drainTimeoutSeconds };
    applied.push(
      `--drain-timeout: ${flags.drainTimeoutSeconds} s instead of the plan's ${plan.drain.timeoutSeconds} s`,
    );
  }

  return {
    plan: {
      ...plan,
      drain,
      maxParallel,
      nodes: nodes.map((n) => ({ ...n, batch: batchOf.get(n.name) ?? -1 })),
      batches,
      preflight: plan.preflight.filter((f) => !f.node || batchOf.has(f.node)),
    },
    applied,
  };
}

function summarise(names: string[]): string {
  return names.length > 8 ? `${names.slice(0, 8).join(', ')}, … (${names.length})` : names.join(', ');
}
