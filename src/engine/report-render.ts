import { NODE_STEPS, STEP_TITLES, type NodeStep } from './events.js';
import type { MigrationReport, NodeReport } from './report.js';

/** One colour per step, shared by the SVG timeline and the Markdown legend. */
export const STEP_COLOURS: Record<NodeStep, string> = {
  cordon: '#9e9e9e',
  drain: '#f4a261',
  'stop-flannel': '#e76f51',
  'host-cleanup': '#8e6c8a',
  'start-calico': '#2a9d8f',
  probe: '#457b9d',
  uncordon: '#90be6d',
  done: '#264653',
  'stop-calico': '#e76f51',
  'host-revert': '#8e6c8a',
  'start-flannel': '#2a9d8f',
  'release-ipam': '#6d597a',
};

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return '-';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

function clock(iso: string | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '-';
}

function escapeMd(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function stepsShown(report: MigrationReport): NodeStep[] {
  return NODE_STEPS.filter((s) => s !== 'done' && report.nodes.some((n) => n.steps.some((x) => x.step === s)));
}

function nodeStatus(n: NodeReport): string {
  if (n.network === 'gone') return 'node deleted';
  if (n.state?.error) return `stopped at ${STEP_TITLES[n.state.step]}`;
  if (n.revertedAt && n.network === 'flannel') return 'moved back to flannel';
  if (n.network === 'calico' || (n.network === 'removed' && n.steps.length)) return 'Calico';
  if (n.network === 'removed') return 'labels removed';
  return n.network === 'none' ? 'in progress (network=none)' : 'flannel';
}

/** The report an operator attaches to a change ticket. `svgFile` is the timeline's file name, if one was written. */
export function renderMarkdown(report: MigrationReport, svgFile?: string): string {
  const lines: string[] = [];
  const r = report.record;
  lines.push(`# Migration report: ${r ? (r.flavour === 'canal' ? 'Canal' : 'flannel') : 'flannel'} → Calico`);
  lines.push('');
  lines.push(`- Cluster: context \`${report.cluster.context}\`, ${report.cluster.server}`);
  lines.push(`- Generated: ${clock(report.generatedAt)} UTC`);
  if (!r) {
    lines.push('');
    lines.push(
      'No migration is recorded in this cluster (no ConfigMap ' +
        'kube-system/flannel2calico-state): nothing has been changed by `flannel2calico migrate` ' +
        'yet.',
    );
    lines.push('');
    return lines.join('\n');
  }
  const migrated = report.nodes.filter((n) => nodeStatus(n) === 'Calico').length;
  lines.push(`- Phase: **${r.phase}**; ${migrated} of ${report.nodes.length} node(s) run Calico`);
  lines.push(`- Started: ${clock(r.startedAt)} UTC; last change: ${clock(r.updatedAt)} UTC`);
  lines.push(
    `- flannel DaemonSet: ` +
      `${r.flannelDaemonSet.namespace}/${r.flannelDaemonSet.name}${r.phase === 'finalized' ? ' (deleted at finalize)' : ''}; ` +
      `Calico DaemonSet: kube-system/${r.calicoDaemonSet}`,
  );
  lines.push(`- Plan state hash: \`${r.planHash.slice(0, 16)}\``);
  lines.push(
    `- Sources: the cluster (migration record, node labels and annotations, ${report.nodes.reduce((n, x) => n + x.steps.filter((s) => s.source === 'event').length, 0)} ` +
      `step Events) and the audit log ${report.auditLog.found ? `\`${report.auditLog.file}\` (${report.auditLog.entries} entries from ${report.auditLog.runs.length} run(s))` : `(not found at \`${report.auditLog.file}\`)`}`,
  );
  lines.push('');

  lines.push('## What changed');
  lines.push('');
  for (const pool of report.calico.ipPools)
    lines.push(
      `- Calico IPPool \`${pool.name}\`: ${pool.cidr ?? '?'}, blockSize ` +
        `${pool.blockSize ?? '?'}, vxlanMode ${pool.vxlanMode ?? '?'}`,
    );
  if (report.changes.length) {
    lines.push('');
    lines.push('| change | objects | for example |');
    lines.push('|---|---:|---|');
    for (const c of report.changes)
      lines.push(`| ${c.verb} ${c.kind} | ${c.count} | ${c.examples.map((e) => `\`${e}\``).join(', ')} |`);
  } else {
    lines.push(
      '- The audit log has no writes of this migration, so only the state above and the node table below are known.',
    );
  }
  lines.push('');

  lines.push('## Node by node');
  lines.push('');
  if (svgFile) {
    lines.push(`![Timeline: a row per node, a colour per step](${svgFile})`);
    lines.push('');
  }
  const shown = stepsShown(report);
  lines.push(
    `| node | result | started (UTC) | ${shown.map((s) => STEP_TITLES[s].replace(/ \(.*\)$/, '')).join(' | ')} ` +
      `| total | pods evicted |`,
  );
  lines.push(`|---|---|---|${shown.map(() => '---:').join('|')}|---:|---:|`);
  for (const n of report.nodes) {
    const cells = shown.map((s) => {
      const step = n.steps.find((x) => x.step === s);
      return step ? `${formatDuration(step.durationMs)}${step.source === 'event' ? '¹' : ''}` : '';
    });
    lines.push(
      `| ${n.name} | ${nodeStatus(n)} | ${clock(n.startedAt)} | ${cells.join(' | ')} | ${formatDuration(n.durationMs)} ` +
        `| ${n.evictedPods.length} |`,
    );
  }
  if (report.nodes.some((n) => n.steps.some((s) => s.source === 'event'))) {
    lines.push('');
    lines.push(
      "¹ from the node's `Migrated` Event (each step's duration to a tenth of a second, placed back from the " +
        "Event's time, which has whole seconds).",
    );
  }
  lines.push('');
  lines.push('Each step finished at (UTC):');
  lines.push('');
  for (const n of report.nodes) {
    if (!n.steps.length) continue;
    lines.push(
      `- **${n.name}**: ${n.steps.map((s) => `${STEP_TITLES[s.step].replace(/ \(.*\)$/, '')} ${clock(s.finishedAt).slice(11)}`).join(' → ')}`,
    );
  }
  lines.push('');

  lines.push('## Where time went');
  lines.push('');
  const total = Object.values(report.timeByStep).reduce((a, b) => a + (b ?? 0), 0);
  if (report.wallClockMs !== undefined)
    lines.push(`- Wall clock, first write to last step: ${formatDuration(report.wallClockMs)}`);
  if (report.preparationMs !== undefined)
    lines.push(
      `- Preparation before the first node (Calico, IP pools, IPAM, labels): ${formatDuration(report.preparationMs)}`,
    );
  lines.push('');
  lines.push('| step | time, all nodes | share |');
  lines.push('|---|---:|---:|');
  for (const s of shown) {
    const t = report.timeByStep[s] ?? 0;
    lines.push(`| ${STEP_TITLES[s]} | ${formatDuration(t)} | ${total ? Math.round((t / total) * 100) : 0} % |`);
  }
  const slowest = report.nodes
    .flatMap((n) => n.steps.map((s) => ({ node: n.name, s })))
    .filter((x) => x.s.durationMs !== undefined)
    .sort((a, b) => b.s.durationMs! - a.s.durationMs!)
    .slice(0, 3);
  if (slowest.length) {
    lines.push('');
    lines.push(
      `Slowest steps: ` +
        `${slowest.map((x) => `${x.node} ${STEP_TITLES[x.s.step]} (${formatDuration(x.s.durationMs)})`).join('; ')}.`,
    );
  }
  lines.push('');

  lines.push('## Warnings');
  lines.push('');
  if (report.warnings.length) for (const w of report.warnings) lines.push(`- ${escapeMd(w)}`);
  else lines.push('None.');
  lines.push('');
  return lines.join('\n');
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A timeline: a row per node, a bar per step coloured by step, time on the x axis. */
export function renderTimelineSvg(report: MigrationReport): string {
  const rows = report.nodes.filter((n) => n.steps.length);
  const spans = rows.flatMap((n) =>
    n.steps.map((s) => ({ from: Date.parse(s.startedAt ?? s.finishedAt), to: Date.parse(s.finishedAt) })),
  );
  const t0 = spans.length ? Math.min(...spans.map((s) => s.from)) : 0;
  const t1 = spans.length ? Math.max(...spans.map((s) => s.to)) : 1;
  const span = Math.max(1, t1 - t0);
  const labelWidth = Math.max(80, 8 * Math.max(0, ...rows.map((n) => n.name.length)) + 16);
  const plotWidth = 720;
  const rowHeight = 22;
  const top = 30;
  const legendSteps = NODE_STEPS.filter((s) => s !== 'done');
  const height = top + rows.length * rowHeight + 30 + Math.ceil(legendSteps.length / 4) * 18 + 10;
  const width = labelWidth + plotWidth + 20;
  const x = (t: number) => labelWidth + ((t - t0) / span) * plotWidth;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ` +
      `${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<title>flannel2calico migration timeline, context ${escapeXml(report.cluster.context)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (span * i) / 4;
    const px = x(t).toFixed(1);
    out.push(`<line x1="${px}" y1="${top - 6}" x2="${px}" y2="${top + rows.length * rowHeight}" stroke="#dddddd"/>`);
    out.push(
      `<text x="${px}" y="${top - 10}" text-anchor="middle" ` +
        `fill="#555555">+${escapeXml(formatDuration(t - t0))}</text>`,
    );
  }
  rows.forEach((n, i) => {
    const y = top + i * rowHeight;
    out.push(`<g class="node" data-node="${escapeXml(n.name)}">`);
    out.push(`<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeXml(n.name)}</text>`);
    for (const s of n.steps) {
      if (s.step === 'done') continue;
      const from = Date.parse(s.startedAt ?? s.finishedAt);
      const to = Date.parse(s.finishedAt);
      const w = Math.max(1.5, x(to) - x(from));
      out.push(
        `<rect class="step" data-step="${s.step}" x="${x(from).toFixed(1)}" y="${y + 3}" ` +
          `width="${w.toFixed(1)}" height="${rowHeight - 6}" ` +
          `fill="${STEP_COLOURS[s.step]}"><title>${escapeXml(`${n.name}: ${STEP_TITLES[s.step]}, ${formatDuration(s.durationMs)} (finished ${clock(s.finishedAt)} UTC)`)}</title></rect>`,
      );
    }
    out.push('</g>');
  });
  const legendTop = top + rows.length * rowHeight + 20;
  legendSteps.forEach((s, i) => {
    const lx = labelWidth + (i % 4) * 180;
    const ly = legendTop + Math.floor(i / 4) * 18;
    out.push(
      `<rect x="${lx}" y="${ly}" width="12" height="12" fill="${STEP_COLOURS[s]}"/><text ` +
        `x="${lx + 16}" ` +
        `y="${ly + 10}">${escapeXml(STEP_TITLES[s].replace(/ \(.*\)$/, ''))}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
