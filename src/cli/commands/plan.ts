import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { formatDuration } from '../../duration.js';
import { parseMaxParallel } from '../../plan/order.js';
import { DEFAULT_HELPER_IMAGE, type Finding, type Plan, type PlannedNode } from '../../plan/types.js';
import type { CommandContext } from '../context.js';
import { failureText } from '../finding-render.js';
import { CliError, ExitCode, UsageError } from '../exit.js';
import { action } from '../action.js';
import { addPlanOptions, planOptionsFrom } from '../plan-options.js';
import { addSettingsOptions, settingsOverrides } from '../settings-flags.js';

function marker(ctx: CommandContext, level: Finding['level']): string {
  const c = ctx.chalk;
  if (level === 'fail') return c.red('✘ fail');
  if (level === 'warn') return c.yellow('! warn');
  return c.green('✔ pass');
}

function podCounts(node: PlannedNode): { evict: number; skip: number; refuse: number; waits: number } {
  const count = (a: string) => node.pods.filter((p) => p.action === a).length;
  const waits = node.pods.filter(
    (p) => p.action === 'evict' && p.blockingPdbs.some((b) => b.disruptionsAllowed <= 0),
  ).length;
  return { evict: count('evict'), skip: count('skip'), refuse: count('refuse'), waits };
}

async function renderSummary(ctx: CommandContext, plan: Plan): Promise<void> {
  const { default: Table } = await import('cli-table3');
  const c = ctx.chalk;
  const setting = (key: string) => plan.settings[key]?.value;
  ctx.out(
    c.bold(`Migration plan: ${plan.flavour === 'canal' ? 'Canal' : 'flannel'} → Calico`) +
      `  (context ${plan.cluster.context}, ${plan.cluster.server})`,
  );
  ctx.out(
    `  flannel     DaemonSet ` +
      `${plan.flannelDaemonSet.namespace}/${plan.flannelDaemonSet.name}, VXLAN VNI ${setting('flannelVni')} ` +
      `port ${setting('flannelPort')} MTU ${setting('flannelMtu')}`,
  );
  for (const pool of plan.calico.pools) {
    ctx.out(
      `  IP pool     ${pool.metadata?.name} ${pool.spec?.cidr} blockSize ` +
        `${pool.spec?.blockSize}, vxlanMode ${pool.spec?.vxlanMode}, natOutgoing ${pool.spec?.natOutgoing}` +
        (plan.calico.replacePools.includes(pool.metadata?.name ?? '') ? c.yellow(" (replaces Canal's pool)") : ''),
    );
  }
  const felix = (plan.calico.felixConfigurationPatch as { spec?: Record<string, unknown> }).spec ?? {};
  ctx.out(
    `  Felix       FelixConfiguration default: ${Object.entries(felix)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  ctx.out(
    `  drain       timeout ${formatDuration(plan.drain.timeoutSeconds)}, grace period ` +
      `${plan.drain.gracePeriodSeconds < 0 ? "each pod's own" : `${plan.drain.gracePeriodSeconds}s`}, ` +
      `--force ${plan.drain.force ? 'on' : 'off'}, --delete-emptydir-data ${plan.drain.deleteEmptyDirData ? 'on' : 'off'}`,
  );
  if (plan.hostCleanup) {
    ctx.out(`  host Jobs   helper image ${plan.hostCleanup.helperImage} (--helper-image)`);
    ctx.out(`  image check ${plan.hostCleanup.preDrainCheck}`);
  }
  ctx.out(
    `  batches     ${plan.batches.length} for ${plan.nodes.length} node(s), --max-parallel ` +
      `${plan.maxParallel}; control-plane nodes last, one at a time`,
  );
  ctx.out(`  state hash  ${plan.cluster.stateHash.slice(0, 16)}`);
  ctx.out();

  const dual = plan.calico.pools.length > 1;
  const table = new Table({
    head: [
      'batch',
      'node',
      'role',
      dual ? 'podCIDRs' : 'podCIDR',
      dual ? 'tunnel addresses' : 'tunnel address',
      'blocks',
      'evict',
      'skip',
      'refuse',
      'state',
    ],
    style: { head: ctx.chalk.level > 0 ? ['cyan'] : [], border: ctx.chalk.level > 0 ? ['grey'] : [] },
  });
  for (const node of plan.nodes) {
    const counts = podCounts(node);
    table.push([
      String(node.batch + 1),
      node.name,
      node.role,
      node.podCidrs.join('\n') || c.red('none'),
      [node.tunnelAddressV4, node.tunnelAddressV6].filter(Boolean).join('\n') || '-',
      String(node.ipam.blocks.length),
      counts.waits ? `${counts.evict} (${counts.waits} PDB-blocked)` : String(counts.evict),
      String(counts.skip),
      counts.refuse ? c.red(String(counts.refuse)) : '0',
      node.currentState,
    ]);
  }
  ctx.out(table.toString());
  ctx.out();
}

function renderNodeDetails(ctx: CommandContext, plan: Plan): void {
  const c = ctx.chalk;
  for (const node of plan.nodes) {
    ctx.out(c.bold(`Node ${node.name}`) + ` (batch ${node.batch + 1}, ${node.role}, state ${node.currentState})`);
    const id = node.identity;
    if (id.podCidrV4)
      ctx.out(
        `  IPv4: podCIDR ${id.podCidrV4}, tunnel ${node.tunnelAddressV4 ?? '-'}, VTEP MAC ` +
          `${id.vtepMacV4 ?? '-'}, public IP ${id.publicIpV4 ?? '-'}`,
      );
    if (id.podCidrV6)
      ctx.out(
        `  IPv6: podCIDR ${id.podCidrV6}, tunnel ${node.tunnelAddressV6 ?? '-'}, VTEP MAC ` +
          `${id.vtepMacV6 ?? '-'}, public IP ${id.publicIpV6 ?? '-'}`,
      );
    if (node.ipam.blocks.length) ctx.out(`  blocks: ${node.ipam.blocks.map((b) => b.spec?.cidr).join(', ')}`);
    if (Object.keys(node.annotations).length)
      ctx.out(
        `  annotations: ${Object.entries(node.annotations)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}`,
      );
    if (!node.pods.length) ctx.out('  pods: none');
    for (const pod of node.pods) {
      const action = pod.action === 'refuse' ? c.red('refuse') : pod.action === 'skip' ? c.dim('skip  ') : 'evict ';
      const pdbs = pod.blockingPdbs.map((b) => `PDB ${b.name} allows ${b.disruptionsAllowed}`).join(', ');
      const blocked = pod.blockingPdbs.some((x) => x.disruptionsAllowed <= 0);
      ctx.out(
        `  ${action} ${pod.namespace}/${pod.name}: ${pod.reason}${pdbs ? ` [${blocked ? c.yellow(pdbs) : pdbs}]` : ''}`,
      );
    }
    ctx.out();
  }
}

function renderFindings(ctx: CommandContext, plan: Plan): void {
  const c = ctx.chalk;
  const fails = plan.preflight.filter((f) => f.level === 'fail').length;
  const warns = plan.preflight.filter((f) => f.level === 'warn').length;
  ctx.out(c.bold(`Preflight: ${fails} fail, ${warns} warn, ${plan.preflight.length - fails - warns} pass`));
  for (const f of plan.preflight) {
    if (f.level === 'pass' && !ctx.opts.verbose) continue;
    ctx.out(`  ${marker(ctx, f.level)}  ${f.message}`);
    if (f.fix && f.level !== 'pass') ctx.out(`          ${c.dim('fix:')} ${f.fix}`);
  }
  if (!ctx.opts.verbose && fails + warns < plan.preflight.length)
    ctx.out(
      c.dim(
        `  (${plan.preflight.length - fails - warns} checks passed; -v lists them with each node's pods and blocks)`,
      ),
    );
  ctx.out();
  if (fails) ctx.out(c.red(`The plan cannot be applied until the ${fails} failing finding(s) are fixed.`));
  else
    ctx.out(
      c.green('Nothing blocks the migration.') +
        ' Save the plan with --out plan.json, then run: flannel2calico migrate --plan plan.json',
    );
}

function savePlan(ctx: CommandContext, plan: Plan, file: string): void {
  const target = path.resolve(file);
  try {
    fs.writeFileSync(target, `${JSON.stringify(plan, null, 2)}\n`);
  } catch (err) {
    throw new UsageError(
      `--out: cannot write ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as Error).message}`,
      'Choose a file in a directory you can write to.',
    );
  }
  ctx.log(`plan saved to ${file} (state hash ${plan.cluster.stateHash.slice(0, 16)})`);
}

export function planCommand(): Command {
  const cmd = new Command('plan')
    .description(
      'show what the migration would do — Calico objects, node order and batches, what each ' +
        'drain evicts — and check it; changes nothing',
    )
    .option('--out <file>', 'save the plan as JSON (with a hash of the cluster state) for `migrate --plan`')
    .option(
      '--helper-image <image>',
      'image of the host cleanup Job, checked on the first node before any drain',
      DEFAULT_HELPER_IMAGE,
    )
    .addHelpText(
      'after',
      `
Examples:
  flannel2calico plan                              summary: Calico objects, node table, preflight
  flannel2calico plan -v                           plus each node's pods (evict/skip/refuse) and blocks
  flannel2calico plan --max-parallel 25% --out plan.json
  flannel2calico plan --nodes worker-1 -o json     one canary node, as JSON

Exit codes: 0 plan ok, 3 a preflight finding fails (the plan is still printed and saved),
2 bad flags, 1 the cluster could not be read. See docs/plan.md.`,
    );
  addSettingsOptions(cmd);
  addPlanOptions(cmd);
  cmd.action(
    action('plan', async (ctx, options) => {
      const planOptions = planOptionsFrom(options);
      parseMaxParallel(planOptions.maxParallel);
      const overrides = settingsOverrides(options, process.env);
      const [{ detect }, { collectSnapshot, readCluster }, { buildPlan, planFails }, { makeReadProgress }] =
        await Promise.all([
          import('../../flannel/detect.js'),
          import('../../plan/snapshot.js'),
          import('../../plan/planner.js'),
          import('../progress.js'),
        ]);
      const client = await ctx.connect();
      // Detection and the cluster's lists are read at once, under one progress line.
      const reading = makeReadProgress(
        ctx,
        `reading flannel's installation, nodes, pods, PodDisruptionBudgets and Calico objects from ${client.server}`,
      );
      const cluster = readCluster(client);
      const detection = await detect(client, overrides).catch((err: unknown) => {
        reading.stop();
        throw err;
      });
      if (detection.flavour !== 'flannel' && detection.flavour !== 'canal') {
        reading.stop();
        for (const check of detection.checks.filter((x) => x.level === 'fail')) ctx.log(failureText(ctx.chalk, check));
        throw new CliError(
          `nothing to plan: ${detection.summary}`,
          ExitCode.preflightFailed,
          'Run `flannel2calico detect` for details; name the DaemonSet with --flannel-daemonset and ' +
            '--flannel-namespace.',
        );
      }
      const snapshot = await collectSnapshot(client, detection, cluster).finally(() => reading.stop());
      const plan = buildPlan(snapshot, detection, { ...planOptions, helperImage: options.helperImage });
      if (ctx.opts.output === 'json') ctx.out(JSON.stringify(plan, null, 2));
      else if (ctx.opts.output === 'yaml')
        ctx.out((await import('yaml')).stringify(plan, { aliasDuplicateObjects: false, lineWidth: 0 }).trimEnd());
      else {
        await renderSummary(ctx, plan);
        if (ctx.opts.verbose) renderNodeDetails(ctx, plan);
        renderFindings(ctx, plan);
      }
      if (options.out) savePlan(ctx, plan, options.out);
      return planFails(plan) ? ExitCode.preflightFailed : ExitCode.ok;
    }),
  );
  return cmd;
}
