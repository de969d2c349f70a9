import { Option, type Command } from 'commander';
import { parseDuration } from '../duration.js';
import type { PlanOptions } from '../plan/types.js';
import { UsageError } from './exit.js';

/** Parses 90s / 5m / 1h / 300 (seconds) into seconds. */
export function parseDurationSeconds(raw: string, flag: string): number {
  const seconds = parseDuration(raw);
  if (seconds === undefined)
    throw new UsageError(
      `${flag}: expected a duration such as 90s, 5m or 1h (got "${raw}")`,
      'A whole number followed by s, m or h; a bare number is seconds.',
    );
  return seconds;
}

/** A duration flag that bounds a wait: 0, negative or garbage values are refused (exit 2). */
export function parsePositiveDuration(raw: string, flag: string): number {
  const seconds = parseDurationSeconds(raw, flag);
  if (seconds <= 0)
    throw new UsageError(`${flag}: must be longer than 0 (got "${raw}")`, 'Give a duration such as 30s, 5m or 1h.');
  return seconds;
}

/** The options shared by `plan` and `migrate`: which nodes, how many at once, how to drain. */
export function addPlanOptions(cmd: Command): Command {
  cmd
    .option(
      '--max-parallel <N|N%>',
      'worker nodes migrated at once: a count or a percentage of the workers, rounded up ' +
        '(control-plane nodes: always one at a time)',
      '1',
    )
    .option('--nodes <a,b,...>', 'only these nodes (e.g. one canary first)');
  return addDrainOptions(cmd);
}

/** How a node is drained, as kubectl drain's flags say it: shared by `plan`, `migrate` and `revert`. */
export function addDrainOptions(cmd: Command): Command {
  return cmd
    .option('--force', 'let the drain delete pods that no controller manages (kubectl drain --force)')
    .option('--delete-emptydir-data', 'let the drain delete pods with emptyDir volumes (their data is lost)')
    .addOption(
      new Option('--drain-timeout <duration>', "give up a node's drain after this long (exit 4, resumable)").default(
        '10m',
      ),
    )
    .addOption(
      new Option(
        '--grace-period <seconds>',
        "termination grace period for evicted pods; -1 uses each pod's own",
      ).default('-1'),
    );
}

/** The connectivity probe's flags, shared by `migrate` and `revert`. */
export function addProbeOptions(cmd: Command, defaultImage: string): Command {
  return cmd
    .option('--probe-image <image>', 'image of the connectivity probes (needs sh, httpd, wget, nslookup)', defaultImage)
    .option('--skip-probe', 'do not prove pod connectivity before uncordoning a node');
}

export function planOptionsFrom(options: Record<string, any>): PlanOptions {
  const grace = Number(options.gracePeriod);
  if (!Number.isInteger(grace) || grace < -1)
    throw new UsageError(
      `--grace-period: expected -1 or a whole number of seconds (got "${options.gracePeriod}")`,
      "-1 keeps each pod's own grace period; 0 or more overrides it.",
    );
  const nodes = options.nodes
    ? String(options.nodes)
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean)
    : undefined;
  if (options.nodes !== undefined && !nodes?.length)
    throw new UsageError(
      '--nodes: expected a comma-separated list of node names',
      'For example --nodes worker-1 or --nodes worker-1,worker-2 (kubectl get nodes lists them).',
    );
  return {
    maxParallel: String(options.maxParallel ?? '1'),
    nodes,
    force: options.force === true,
    deleteEmptyDirData: options.deleteEmptydirData === true,
    drainTimeoutSeconds: parsePositiveDuration(options.drainTimeout ?? '10m', '--drain-timeout'),
    gracePeriodSeconds: grace,
  };
}
