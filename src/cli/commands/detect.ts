import { Command } from 'commander';
import type { Check, Detection } from '../../flannel/detect.js';
import type { Level } from '../../finding.js';
import { SETTING_DEFINITIONS } from '../../flannel/settings.js';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit.js';
import { action } from '../action.js';
import { addSettingsOptions, settingsOverrides } from '../settings-flags.js';

const DETECTION_SCHEMA_VERSION = 1;

/** A check as docs/detect.md shows it: its level is called `status` there. */
function checkDocument({ id, title, level, message, fix }: Check): Record<string, unknown> {
  return { id, title, status: level, message, ...(fix ? { fix } : {}) };
}

/** The `-o json|yaml` document; its schema is documented in docs/detect.md. */
function detectionDocument(d: Detection): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const def of SETTING_DEFINITIONS) {
    const s = d.settings[def.key];
    settings[def.env] = { key: def.key, value: s.value, source: s.source, ...(s.from ? { from: s.from } : {}) };
  }
  return {
    schemaVersion: DETECTION_SCHEMA_VERSION,
    kind: 'Detection',
    ok: !d.checks.some((c) => c.level === 'fail'),
    flavour: d.flavour,
    summary: d.summary,
    daemonSet: d.daemonSet ?? null,
    configMap: d.configMap ?? null,
    backend: d.backend,
    settings,
    conflicts: d.conflicts,
    checks: d.checks.map(checkDocument),
    nodes: d.nodes,
    candidates: d.candidates,
    subnetEnv: d.subnetEnv,
  };
}

function renderText(ctx: CommandContext, d: Detection): void {
  const c = ctx.chalk;
  const mark = (s: Level) => (s === 'pass' ? c.green('✔') : s === 'warn' ? c.yellow('!') : c.red('✘'));

  const head = d.daemonSet
    ? `${d.flavour === 'canal' ? 'Canal' : 'flannel'} DaemonSet ${c.bold(`${d.daemonSet.namespace}/${d.daemonSet.name}`)}` +
      ` (container ${d.daemonSet.container}${d.daemonSet.image ? `, image ${d.daemonSet.image}` : ''})`
    : c.bold(d.summary);
  ctx.out(head);
  if (d.daemonSet) {
    const parts = [
      d.configMap ? `ConfigMap ${d.configMap.namespace}/${d.configMap.name}` : undefined,
      `backend ${d.backend.type}`,
      `${d.nodes.length} node(s)`,
      d.subnetEnv.read ? `subnet.env from ${d.subnetEnv.pod}` : `subnet.env not read`,
    ].filter(Boolean);
    ctx.out(c.dim(parts.join(' · ')));
  } else if (d.candidates.length > 1) {
    for (const cand of d.candidates)
      ctx.out(`  ${cand.namespace}/${cand.name} (${cand.flavour}): ${cand.evidence.join('; ')}`);
  }

  ctx.out('');
  ctx.out(c.bold('Settings'));
  const rows = SETTING_DEFINITIONS.map((def) => {
    const s = d.settings[def.key];
    return { name: def.env, value: s.value === null ? '-' : String(s.value), source: s.source, from: s.from ?? '' };
  });
  const w = {
    name: Math.max(7, ...rows.map((r) => r.name.length)),
    value: Math.max(5, ...rows.map((r) => r.value.length)),
    source: Math.max(6, ...rows.map((r) => r.source.length)),
  };
  ctx.out(c.dim(`  ${'SETTING'.padEnd(w.name)}  ${'VALUE'.padEnd(w.value)}  ${'SOURCE'.padEnd(w.source)}  FROM`));
  for (const r of rows) {
    const source =
      r.source === 'flag' || r.source === 'env'
        ? c.cyan(r.source.padEnd(w.source))
        : r.source === 'default' || r.source === 'unset'
          ? c.yellow(r.source.padEnd(w.source))
          : r.source.padEnd(w.source);
    ctx.out(`  ${r.name.padEnd(w.name)}  ${r.value.padEnd(w.value)}  ${source}  ${c.dim(r.from)}`);
  }

  if (d.conflicts.length > 0) {
    ctx.out('');
    ctx.out(c.bold('Conflicts'));
    for (const conflict of d.conflicts) ctx.out(`  ${c.yellow('!')} ${conflict}`);
  }

  ctx.out('');
  ctx.out(c.bold('Checks'));
  for (const check of d.checks) {
    ctx.out(`  ${mark(check.level)} ${check.title}: ${check.message}`);
    if (check.fix && check.level !== 'pass') ctx.out(`      ${c.dim('fix:')} ${check.fix}`);
  }

  const failed = d.checks.filter((x) => x.level === 'fail').length;
  const warned = d.checks.filter((x) => x.level === 'warn').length;
  ctx.out('');
  if (failed > 0)
    ctx.out(c.red(`✘ migration blocked: ${failed} check(s) failed${warned ? `, ${warned} warning(s)` : ''}`));
  else
    ctx.out(
      c.green(`✔ migration can proceed${warned ? ` (${warned} warning(s))` : ''}`) +
        c.dim(' — next: flannel2calico plan'),
    );
}

export function detectCommand(): Command {
  const cmd = new Command('detect')
    .description(
      'find flannel or Canal, read its settings (with where each came from) and check the ' +
        'prerequisites; changes nothing',
    )
    .addHelpText(
      'after',
      `
Examples:
  flannel2calico detect                                   report: installation, settings and their sources, checks
  flannel2calico detect -o json                           the same as JSON (schemaVersion 1)
  flannel2calico detect --flannel-daemonset kube-system/kube-flannel-ds-amd64
  FLANNEL_VNI=4096 flannel2calico detect                  override a detected setting

Every setting is detected, or taken from its flag, or from its environment variable (the names
Calico's flannel-migration controller uses): flag > environment > detected > default. Exit codes: 0 migration can proceed,
3 a check failed, 2 a bad flag or environment value, 1 the cluster could not be read. See docs/detect.md.`,
    );
  addSettingsOptions(cmd);
  cmd.action(
    action('detect', async (ctx, options) => {
      const overrides = settingsOverrides(options, process.env);
      const [{ detect }, { makeReadProgress }] = await Promise.all([
        import('../../flannel/detect.js'),
        import('../progress.js'),
      ]);
      ctx.debug(`detect: overrides ${JSON.stringify(overrides)}`);
      const client = await ctx.connect();
      const reading = makeReadProgress(ctx, `reading flannel's installation from ${client.server}`);
      const detection = await detect(client, overrides).finally(() => reading.stop());
      const doc = detectionDocument(detection);
      if (ctx.opts.output === 'json') ctx.out(JSON.stringify(doc, null, 2));
      else if (ctx.opts.output === 'yaml') ctx.out((await import('yaml')).stringify(doc).trimEnd());
      else renderText(ctx, detection);
      return doc.ok ? ExitCode.ok : ExitCode.preflightFailed;
    }),
  );
  return cmd;
}
