import fs from 'node:fs';
import type { ClusterClient, KubeObject } from '../cluster/index.js';
import { CALICO_GROUP_VERSION, EVENT_NAMESPACE, MANAGED_BY_SELECTOR, MIGRATION_LABEL } from '../names.js';
import { NODE_STEPS, STEP_TITLES, type NodeStep } from './events.js';
import { NODE_SUMMARY_REASONS, parseNodeSummary } from './node-summary.js';
import { readMigrationRecord, stateFor, type MigrationRecord, type NodeMigrationState } from './state.js';

export const REPORT_SCHEMA_VERSION = 1;

/** One finished step of one node. `source` says where its times come from. */
export interface StepRecord {
  step: NodeStep;
  title: string;
  /**
   * When the step started: from the audit log, else placed back from the node's `Migrated` Event (whole seconds)
   * by the step durations it lists (tenths of a second).
   */
  startedAt?: string;
  finishedAt: string;
  durationMs?: number;
  /**
   * Of durationMs, the time spent waiting on the cluster (pods terminating, budgets, calico-node, Jobs); audit log
   * only.
   */
  waitedMs?: number;
  /** Of durationMs, pauses before retries; audit log only. The rest is the tool's own work. */
  pausedMs?: number;
  source: 'audit-log' | 'event';
}

export interface NodeFailure {
  step?: NodeStep;
  message: string;
  at: string;
}

export interface NodeReport {
  name: string;
  /** The node's migration label now; 'removed' once finalized; 'gone' when the node no longer exists. */
  network: string;
  cordoned: boolean;
  /** The step annotation, while the migration is not finalized. */
  state?: NodeMigrationState;
  steps: StepRecord[];
  failures: NodeFailure[];
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  evictedPods: string[];
  /** When `revert` last finished moving this node back to flannel (its `Reverted` Event). */
  revertedAt?: string;
}

export interface ChangeCount {
  verb: string;
  kind: string;
  count: number;
  examples: string[];
}

export interface MigrationReport {
  schemaVersion: number;
  kind: 'MigrationReport';
  generatedAt: string;
  cluster: { context: string; server: string };
  record: MigrationRecord | null;
  auditLog: { file: string; found: boolean; entries: number; runs: string[] };
  calico: { ipPools: Array<{ name: string; cidr?: string; blockSize?: number; vxlanMode?: string }> };
  nodes: NodeReport[];
  /** Milliseconds spent in each step, summed over nodes. */
  timeByStep: Partial<Record<NodeStep, number>>;
  /** Preparation before the first node (installing Calico, writing IPAM), from the audit log. */
  preparationMs?: number;
  wallClockMs?: number;
  changes: ChangeCount[];
  warnings: string[];
}

export interface AuditEntry {
  time: string;
  run: string;
  command?: string;
  type: string;
  event?: string;
  node?: string;
  step?: NodeStep;
  message?: string;
  elapsedMs?: number;
  verb?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  dryRun?: boolean;
  outcome?: string;
  pod?: string | { namespace?: string; name?: string };
  [key: string]: unknown;
}

/** Reads an NDJSON audit log; a missing file is an empty log, an unreadable line is skipped. */
export function readAuditLog(file: string): { found: boolean; entries: AuditEntry[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { found: false, entries: [] };
  }
  const entries: AuditEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as AuditEntry;
      if (entry && typeof entry.time === 'string' && typeof entry.run === 'string') entries.push(entry);
    } catch {
      // a line cut short by a crash: the rest of the log still counts
    }
  }
  return { found: true, entries };
}

const STEP_BY_TITLE = new Map(NODE_STEPS.map((s) => [STEP_TITLES[s], s]));

function eventTime(e: KubeObject): string {
  return String(e.eventTime ?? e.lastTimestamp ?? e.firstTimestamp ?? e.metadata?.creationTimestamp ?? '');
}

function ms(from?: string, to?: string): number | undefined {
  if (!from || !to) return undefined;
  const d = Date.parse(to) - Date.parse(from);
  return Number.isFinite(d) && d >= 0 ? d : undefined;
}

function podName(pod: AuditEntry['pod']): string {
  if (!pod) return '?';
  return typeof pod === 'string' ? pod : `${pod.namespace ?? ''}/${pod.name ?? ''}`;
}

/**
 * The audit entries that belong to this cluster's migration: every entry of a `migrate` run that
 * wrote anything at or after the migration record's start. The log is per workstation and may hold
 * runs against other clusters; those never overlap this record's node names and times.
 */
export function entriesOfMigration(
  entries: AuditEntry[],
  record: MigrationRecord | undefined,
  nodeNames: Set<string>,
): AuditEntry[] {
  if (!record) return [];
  const since = Date.parse(record.startedAt);
  const runs = new Set(
    entries
      .filter(
        (e) =>
          e.command === 'migrate' &&
          Date.parse(e.time) >= since &&
          (!e.node || nodeNames.has(e.node)) &&
          e.dryRun !== true,
      )
      .filter((e) => e.type === 'event' || e.type === 'mutation')
      .map((e) => e.run),
  );
  // A server dry run writes nothing: its runs are not part of what happened.
  for (const e of entries) if (e.type === 'mutation' && e.dryRun === true) runs.delete(e.run);
  return entries.filter((e) => runs.has(e.run));
}

/** Builds each node's step times: the audit log's when it has them, otherwise the cluster's Events. */
export function nodeReports(
  nodes: KubeObject[],
  events: KubeObject[],
  audit: AuditEntry[],
  order: string[],
): NodeReport[] {
  const byName = new Map(nodes.map((n) => [n.metadata!.name!, n]));
  const eventsByNode = new Map<string, KubeObject[]>();
  for (const e of events) {
    const name = e.involvedObject?.name;
    if (e.involvedObject?.kind !== 'Node' || !name) continue;
    eventsByNode.set(name, [...(eventsByNode.get(name) ?? []), e]);
  }
  const names = [
    ...new Set([...order, ...eventsByNode.keys(), ...audit.filter((a) => a.node).map((a) => a.node!)]),
  ].filter((n) => byName.has(n) || eventsByNode.has(n));
  const reports: NodeReport[] = [];
  for (const name of names) {
    const node = byName.get(name);
    const state = node ? stateFor(node, 'migrate') : undefined;
    const nodeEvents = (eventsByNode.get(name) ?? []).sort((a, b) => eventTime(a).localeCompare(eventTime(b)));
    const nodeAudit = audit.filter((a) => a.node === name);
    const steps: StepRecord[] = [];
    const failures: NodeFailure[] = [];
    let revertedAt: string | undefined;
    for (const e of nodeEvents) {
      const message = String(e.message ?? '');
      if (e.reason === NODE_SUMMARY_REASONS.migrate) {
        const summary = parseNodeSummary('migrate', NODE_STEPS, message);
        if (!summary) continue;
        // The Event is written as the last step ends: each step is placed back from there by the durations listed.
        let finished = Date.parse(eventTime(e));
        if (!Number.isFinite(finished)) continue;
        for (const { step, ms: durationMs } of [...summary.steps].reverse()) {
          const record: StepRecord = {
            step,
            title: STEP_TITLES[step],
            startedAt: new Date(finished - durationMs).toISOString(),
            finishedAt: new Date(finished).toISOString(),
            durationMs,
            source: 'event',
          };
          finished -= durationMs;
          const i = steps.findIndex((s) => s.step === step);
          if (i >= 0) steps[i] = record;
          else steps.push(record);
        }
      } else if (e.reason === NODE_SUMMARY_REASONS.revert) {
        revertedAt = eventTime(e);
      } else if (e.reason === 'MigrationStepFailed') {
        const title = [...STEP_BY_TITLE.keys()].find((t) => message.startsWith(`${t} failed`));
        failures.push({ step: title ? STEP_BY_TITLE.get(title) : undefined, message, at: eventTime(e) });
      }
    }
    // The audit log has millisecond times and each step's own start; it wins where it covers a step.
    for (const done of nodeAudit.filter((a) => a.event === 'step-done' && a.step)) {
      const start = nodeAudit
        .filter((a) => a.event === 'step-start' && a.step === done.step && a.time <= done.time)
        .pop();
      const record: StepRecord = {
        step: done.step!,
        title: STEP_TITLES[done.step!],
        startedAt: start?.time,
        finishedAt: done.time,
        durationMs: typeof done.elapsedMs === 'number' ? done.elapsedMs : ms(start?.time, done.time),
        ...(typeof done.waitedMs === 'number' ? { waitedMs: done.waitedMs } : {}),
        ...(typeof done.pausedMs === 'number' ? { pausedMs: done.pausedMs } : {}),
        source: 'audit-log',
      };
      const i = steps.findIndex((s) => s.step === done.step);
      if (i >= 0) steps[i] = record;
      else steps.push(record);
    }
    for (const f of nodeAudit.filter((a) => a.event === 'node-failed')) {
      if (!failures.some((x) => x.step === f.step && Math.abs(Date.parse(x.at) - Date.parse(f.time)) < 5000))
        failures.push({ step: f.step, message: String(f.message ?? ''), at: f.time });
    }
    steps.sort((a, b) => NODE_STEPS.indexOf(a.step) - NODE_STEPS.indexOf(b.step));
    failures.sort((a, b) => a.at.localeCompare(b.at));
    const startedAt = state?.startedAt ?? steps[0]?.startedAt ?? steps[0]?.finishedAt;
    const finishedAt =
      steps.some((s) => s.step === 'done') || steps.some((s) => s.step === 'uncordon')
        ? steps[steps.length - 1].finishedAt
        : undefined;
    const labels = node?.metadata?.labels ?? {};
    reports.push({
      name,
      network: !node ? 'gone' : (labels[MIGRATION_LABEL] ?? 'removed'),
      cordoned: node?.spec?.unschedulable === true,
      ...(state ? { state } : {}),
      steps,
      failures,
      startedAt,
      finishedAt,
      durationMs: ms(startedAt, finishedAt),
      evictedPods: nodeAudit.filter((a) => a.type === 'evicted').map((a) => podName(a.pod)),
      ...(revertedAt ? { revertedAt } : {}),
    });
  }
  return reports;
}

export function summariseChanges(audit: AuditEntry[]): ChangeCount[] {
  const counts = new Map<string, ChangeCount>();
  for (const m of audit.filter((a) => a.type === 'mutation' && a.dryRun !== true && a.outcome === 'ok')) {
    const key = `${m.verb} ${m.kind}`;
    const entry = counts.get(key) ?? { verb: String(m.verb), kind: String(m.kind), count: 0, examples: [] };
    entry.count += 1;
    const name = m.namespace ? `${m.namespace}/${m.name}` : String(m.name);
    if (entry.examples.length < 3 && !entry.examples.includes(name)) entry.examples.push(name);
    counts.set(key, entry);
  }
  return [...counts.values()].sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind));
}

function warningsOf(
  record: MigrationRecord | undefined,
  nodes: NodeReport[],
  audit: AuditEntry[],
  auditFound: boolean,
  auditFile: string,
): string[] {
  const warnings: string[] = [];
  if (!record) return warnings;
  if (!auditFound)
    warnings.push(
      `no audit log at ${auditFile}: step times come from the nodes' \`Migrated\` Events ` +
        `and "what changed" is incomplete; pass --log-file with the file the migration wrote`,
    );
  else if (!audit.length)
    warnings.push(
      `the audit log ${auditFile} has no entries for this migration (it was run from another ` +
        `workstation or with another --log-file): step times come from the cluster's Events`,
    );
  for (const e of audit.filter((a) => a.event === 'warning'))
    warnings.push(`${e.time.slice(0, 19)}Z ${e.node ? `${e.node}: ` : ''}${e.message}`);
  for (const n of nodes) {
    for (const f of n.failures) warnings.push(`${f.at.slice(0, 19)}Z ${n.name}: ${f.message}`);
    if (n.state?.error)
      warnings.push(
        `${n.name} is stopped at "${STEP_TITLES[n.state.step]}": ${n.state.error} (rerun ` +
          `\`flannel2calico migrate\` to resume)`,
      );
    if (n.cordoned && !n.state?.wasUnschedulable) warnings.push(`${n.name} is still cordoned`);
    if (n.revertedAt)
      warnings.push(`${n.revertedAt.slice(0, 19)}Z ${n.name}: moved back to flannel by \`flannel2calico revert\``);
    if (n.network === 'flannel' || n.network === 'none')
      warnings.push(`${n.name} is not migrated yet (network=${n.network})`);
    if ((n.network === 'calico' || n.network === 'removed') && !n.steps.length) {
      warnings.push(
        `${n.name} runs Calico but the cluster has no \`Migrated\` Event for it: Events expire ` +
          `(kube-apiserver --event-ttl, 1 h by default); keep the audit log for the record`,
      );
    }
  }
  return warnings;
}

/** Reads everything the migration recorded, in the cluster and in the local audit log, into one report. */
export async function collectReport(client: ClusterClient, auditFile: string): Promise<MigrationReport> {
  const [record, nodes, events, ipPools] = await Promise.all([
    readMigrationRecord(client),
    client.list('v1', 'Node'),
    client.list('v1', 'Event', { namespace: EVENT_NAMESPACE, labelSelector: MANAGED_BY_SELECTOR }),
    client.listIfServed(CALICO_GROUP_VERSION, 'IPPool'),
  ]);
  const log = readAuditLog(auditFile);
  const nodeNames = new Set([
    ...nodes.map((n) => n.metadata!.name!),
    ...events.map((e) => String(e.involvedObject?.name ?? '')),
  ]);
  const audit = entriesOfMigration(log.entries, record, nodeNames);
  const reports = record ? nodeReports(nodes, events, audit, record.nodeOrder) : [];
  const timeByStep: Partial<Record<NodeStep, number>> = {};
  for (const n of reports)
    for (const s of n.steps) timeByStep[s.step] = (timeByStep[s.step] ?? 0) + (s.durationMs ?? 0);
  const firstStep = reports.flatMap((n) => n.steps.map((s) => s.startedAt ?? s.finishedAt)).sort()[0];
  const lastStep = reports
    .flatMap((n) => n.steps.map((s) => s.finishedAt))
    .sort()
    .pop();
  const firstAudit = audit[0]?.time;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: 'MigrationReport',
    generatedAt: new Date().toISOString(),
    cluster: { context: client.contextName, server: client.server },
    record: record ?? null,
    auditLog: { file: auditFile, found: log.found, entries: audit.length, runs: [...new Set(audit.map((a) => a.run))] },
    calico: {
      ipPools: (ipPools ?? []).map((p) => ({
        name: p.metadata!.name!,
        cidr: p.spec?.cidr,
        blockSize: p.spec?.blockSize,
        vxlanMode: p.spec?.vxlanMode,
      })),
    },
    nodes: reports,
    timeByStep,
    preparationMs: ms(firstAudit, firstStep),
    wallClockMs: ms(firstAudit ?? firstStep, lastStep),
    changes: summariseChanges(audit),
    warnings: warningsOf(record, reports, audit, log.found, auditFile),
  };
}
