import type { ChalkInstance } from 'chalk';
import { STEP_TITLES } from '../engine/events.js';
import {
  NODE_CONDITION_ORDER,
  stepsOf,
  type NodeCondition,
  type NodeStatus,
  type PodReadiness,
  type StatusDocument,
} from '../engine/status.js';

const PHASE_TEXT: Record<StatusDocument['phase'], string> = {
  'not-started': 'not started',
  migrating: 'migrating',
  stopped: 'stopped',
  'all-calico': 'every node runs Calico (not finalized)',
  finalized: 'finalized: flannel removed',
  reverting: 'reverting to flannel',
};

const CONDITION_TITLE: Record<NodeCondition, string> = {
  failed: 'Failed',
  'in-progress': 'In progress',
  stopped: 'Stopped (no run active)',
  pending: 'On flannel, not migrated',
  reverted: 'Reverted to flannel',
  migrated: 'On Calico',
};

/** Nodes of a quiet group beyond this are summarised in one line (unless `all`). */
const QUIET_GROUP_LIMIT = 20;

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function age(since: string | null, now: Date): string {
  if (!since) return '';
  const s = Math.max(0, (now.getTime() - Date.parse(since)) / 1000);
  return `${formatDuration(s)} ago`;
}

function pod(p: PodReadiness, c: ChalkInstance): string {
  return p === 'ready'
    ? c.green('Ready')
    : p === 'not-ready'
      ? c.yellow('not Ready')
      : p === 'absent'
        ? c.dim('none')
        : c.dim('?');
}

function nodeLine(n: NodeStatus, now: Date, c: ChalkInstance): string[] {
  const step = n.step
    ? n.step === 'done'
      ? `${n.operation} done`
      : `${n.operation}: ${STEP_TITLES[n.step]} (${n.completedSteps.length}/${stepsOf(n.operation).length - 1})`
    : '—';
  const flags = [n.cordoned ? c.yellow('cordoned') : '', n.controlPlane ? c.dim('control-plane') : '']
    .filter(Boolean)
    .join(' ');
  const lines = [
    `  ${c.bold(n.name)}  network=${n.network}  ${step}${n.since ? c.dim(` since ${age(n.since, now)}`) : ''} ` +
      ` flannel ${pod(n.flannelPod, c)}  calico-node ${pod(n.calicoPod, c)}${flags ? `  ${flags}` : ''}`,
  ];
  if (n.lastError) lines.push(`      ${c.red('error:')} ${n.lastError}`);
  if (n.next && (n.condition === 'failed' || n.condition === 'stopped'))
    lines.push(`      ${c.yellow('next:')} ${n.next}`);
  return lines;
}

/**
 * The text view: the run's phase and lock, counts and ETA, then the nodes grouped by condition with
 * the interesting ones (failed, in progress, stopped) first. Quiet groups of many nodes are cut short.
 */
export function renderStatusText(doc: StatusDocument, c: ChalkInstance, opts: { all?: boolean } = {}): string {
  const now = new Date(doc.generatedAt);
  const out: string[] = [];
  const phase =
    doc.phase === 'stopped' && doc.stoppedAt
      ? c.red(
          `stopped at ${doc.stoppedAt.node}${doc.stoppedAt.step ? ` (${STEP_TITLES[doc.stoppedAt.step]})` : ''}${doc.stoppedAt.error ? `: ${doc.stoppedAt.error}` : ''}`,
        )
      : PHASE_TEXT[doc.phase];
  out.push(
    `${c.bold('Migration:')} ${phase}${doc.flavour ? c.dim(` · ${doc.flavour}`) : ''}${doc.startedAt ? c.dim(` · started ${doc.startedAt}`) : ''}`,
  );
  if (doc.lock)
    out.push(
      `${c.bold('Run:')} ${doc.lock.active ? `active, held by ${doc.lock.holder}` : `none active (stale lock of ${doc.lock.holder})`}`,
    );
  else out.push(`${c.bold('Run:')} none active`);
  const k = doc.counts;
  out.push(
    `${c.bold('Nodes:')} ${k.total} · flannel ${k.flannel} · none ${k.none} · calico ${k.calico}` +
      NODE_CONDITION_ORDER.filter((x) => k[x])
        .map((x) => ` · ${x} ${k[x]}`)
        .join(''),
  );
  if (doc.eta)
    out.push(
      `${c.bold('Time left:')} about ${formatDuration(doc.eta.seconds)} (${doc.eta.remainingNodes} ` +
        `node(s) × ${doc.eta.secondsPerNode} s, the median of ${doc.eta.measuredNodes} finished)`,
    );
  if (doc.next) out.push(`${c.bold('Next:')} ${doc.next}`);
  for (const condition of NODE_CONDITION_ORDER) {
    const group = doc.nodes.filter((n) => n.condition === condition);
    if (!group.length) continue;
    out.push('', c.bold(`${CONDITION_TITLE[condition]} (${group.length})`));
    const quiet = condition === 'migrated' || condition === 'pending' || condition === 'reverted';
    const shown = quiet && !opts.all && group.length > QUIET_GROUP_LIMIT ? group.slice(0, QUIET_GROUP_LIMIT) : group;
    for (const n of shown) out.push(...nodeLine(n, now, c));
    if (shown.length < group.length)
      out.push(c.dim(`  … and ${group.length - shown.length} more (--all lists them, -o json gives every field)`));
  }
  return out.join('\n');
}

/** One node with its step history (`status --node X`). */
export function renderNodeText(doc: StatusDocument, c: ChalkInstance): string {
  const n = doc.nodes[0];
  const now = new Date(doc.generatedAt);
  const out = [
    `${c.bold('Node:')} ${n.name}${n.controlPlane ? c.dim(' (control plane)') : ''}`,
    `${c.bold('Network:')} ${n.network}   ${c.bold('Condition:')} ${n.condition}   ${c.bold('Cordoned:')} ` +
      `${n.cordoned ? 'yes' : 'no'}`,
    `${c.bold('Step:')} ${n.step ? `${n.operation}: ${STEP_TITLES[n.step]}` : '—'}${n.since ? ` (since ${n.since}, ${age(n.since, now)})` : ''}`,
    `${c.bold('Pods:')} flannel ${pod(n.flannelPod, c)} · calico-node ${pod(n.calicoPod, c)}`,
  ];
  if (n.operation) {
    const steps = stepsOf(n.operation).filter((s) => s !== 'done');
    out.push(
      `${c.bold('Steps:')} ${steps.map((s) => (n.completedSteps.includes(s) ? c.green(`✔ ${s}`) : s === n.step ? c.yellow(`▸ ${s}`) : c.dim(s))).join('  ')}`,
    );
  }
  if (n.lastError) out.push(`${c.red('Error:')} ${n.lastError}`);
  if (n.next) out.push(`${c.bold('Next:')} ${n.next}`);
  out.push('', c.bold('History'));
  if (!n.history?.length)
    out.push(c.dim('  no events (Events expire after an hour by default; the audit log keeps every step)'));
  for (const e of n.history ?? [])
    out.push(`  ${e.time}  ${e.type === 'Warning' ? c.red(e.reason) : e.reason}  ${e.message}`);
  return out.join('\n');
}
