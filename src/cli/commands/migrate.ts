import fs from 'node:fs';
import { Command, Option } from 'commander';
import type { ClusterClient, KubeObject } from '../../cluster/index.js';
import { SETTING_DEFINITIONS, calicoDaemonSetName } from '../../flannel/settings.js';
import type { RunOutcome } from '../../engine/engine.js';
import { readMigrationRecord, type MigrationRecord } from '../../engine/state.js';
import { NODE_STEPS, STEP_TITLES } from '../../engine/events.js';
import { parseMaxParallel } from '../../plan/order.js';
import { PlanFileError, parsePlanFile } from '../../plan/plan-file.js';
import { narrowPlan, type PlanFlags } from '../../plan/narrow.js';
import { DEFAULT_HELPER_IMAGE, type Plan } from '../../plan/types.js';
import type { CommandContext } from '../context.js';
import { failureText, warningText } from '../finding-render.js';
import { CliError, ExitCode, UsageError } from '../exit.js';
import { action } from '../action.js';
import { addPlanOptions, addProbeOptions, parsePositiveDuration, planOptionsFrom } from '../plan-options.js';
import { addSettingsOptions, settingsOverrides } from '../settings-flags.js';

export { DEFAULT_HELPER_IMAGE };
export const DEFAULT_PROBE_IMAGE = 'busybox:1.36';

const MANIFEST_HINT =
  "Download Calico's flannel-migration calico.yaml (docs/quickstart.md says where; v3.32.1 " +
  'matches the default --helper-image) and pass it with --calico-manifest FILE or an https ' +
  'URL.';

async function readManifest(source: string, timeoutMs: number): Promise<KubeObject[]> {
  const { parseAllDocuments } = await import('yaml');
  let text: string;
  if (/^https?:\/\//.test(source)) {
    const download = 'Download it yourself and pass the file with --calico-manifest FILE.';
    const failed = (err: Error): never => {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why =
        err.name === 'TimeoutError'
          ? `no answer within ${timeoutMs / 1000} s`
          : (cause?.code ?? cause?.message ?? err.message);
      throw new UsageError(`cannot download the Calico manifest ${source}: ${why}`, download);
    };
    const response = await fetch(source, { signal: AbortSignal.timeout(timeoutMs) }).catch(failed);
    if (!response.ok)
      throw new UsageError(`cannot download the Calico manifest ${source}: HTTP ${response.status}`, MANIFEST_HINT);
    text = await response.text().catch(failed);
  } else {
    try {
      text = fs.readFileSync(source, 'utf8');
    } catch (err) {
      throw new UsageError(
        `cannot read the Calico manifest ${source}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
        MANIFEST_HINT,
      );
    }
  }
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length)
      throw new UsageError(
        `the Calico manifest ${source} is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`,
        MANIFEST_HINT,
      );
    const obj = doc.toJS() as KubeObject | null;
    if (!obj) continue;
    if (!obj.apiVersion || !obj.kind || !obj.metadata?.name)
      throw new UsageError(
        `the Calico manifest ${source} has a document without apiVersion, kind or metadata.name`,
        MANIFEST_HINT,
      );
    if (obj.kind.endsWith('List')) objects.push(...(obj.items ?? []));
    else objects.push(obj);
  }
  if (!objects.some((o) => o.kind === 'DaemonSet'))
    throw new UsageError(
      `the Calico manifest ${source} has no DaemonSet; expected Calico's flannel-migration calico.yaml`,
      MANIFEST_HINT,
    );
  return objects;
}

/** 500ms / 2s / 1m into milliseconds. */
function parseDurationMs(raw: string, flag: string): number {
  const m = /^(\d+)ms$/.exec(String(raw).trim());
  const ms = m ? Number(m[1]) : parsePositiveDuration(raw, flag) * 1000;
  if (ms < 1) throw new UsageError(`${flag}: must be more than 0 (got "${raw}")`);
  return ms;
}

function loadPlanFile(file: string): Plan {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `cannot read the plan ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message}`,
      'Create one with `flannel2calico plan --out plan.json`.',
    );
  }
  try {
    return parsePlanFile(text, file);
  } catch (err) {
    if (err instanceof PlanFileError)
      throw new UsageError(
        `${err.message}; nothing was changed`,
        'Make a new plan with `flannel2calico plan --out plan.json`, review it, and pass that file.',
      );
    throw err;
  }
}

/** The flags that select or pace nodes, or decide pod verdicts, that the operator typed (not their defaults). */
function typedPlanFlags(cmd: Command, options: Record<string, any>): PlanFlags {
  const typed = (key: string) => cmd.getOptionValueSource(key) === 'cli';
  const parsed = planOptionsFrom(options);
  return {
    ...(typed('nodes') ? { nodes: parsed.nodes } : {}),
    ...(typed('maxParallel') ? { maxParallel: parsed.maxParallel } : {}),
    ...(typed('drainTimeout') ? { drainTimeoutSeconds: parsed.drainTimeoutSeconds } : {}),
    ...(typed('force') ? { force: parsed.force } : {}),
    ...(typed('deleteEmptydirData') ? { deleteEmptyDirData: parsed.deleteEmptyDirData } : {}),
    ...(typed('gracePeriod') ? { gracePeriodSeconds: parsed.gracePeriodSeconds } : {}),
    settings: Object.entries(settingsOverrides(options, {}))
      .filter(([, o]) => o?.source === 'flag')
      .map(([key, o]) => ({ key, flag: SETTING_DEFINITIONS.find((d) => d.key === key)?.flag ?? key, value: o!.value })),
  };
}

/**
 * Either the saved plan (narrowed by the flags typed with it), refused if the cluster drifted since it was made, or a
 * fresh plan.
 */
async function resolvePlan(
  ctx: CommandContext,
  client: ClusterClient,
  options: Record<string, any>,
  record: MigrationRecord | undefined,
  flags: PlanFlags,
): Promise<{ plan: Plan; resuming: boolean; allNodes: Plan['nodes'] }> {
  const overrides = settingsOverrides(options, process.env);
  const [{ detect }, { collectSnapshot, diffSnapshots, readCluster }, { buildPlan }] = await Promise.all([
    import('../../flannel/detect.js'),
    import('../../plan/snapshot.js'),
    import('../../plan/planner.js'),
  ]);
  const cluster = readCluster(client);
  const detection = await detect(client, overrides);
  const resuming = record?.phase === 'migrating';
  const failed = detection.checks.filter((c) => c.level === 'fail');
  if (failed.length && !resuming) {
    for (const check of failed) ctx.log(failureText(ctx.chalk, check));
    throw new CliError(
      'detection found problems that block the migration; nothing was changed',
      ExitCode.preflightFailed,
      'Fix them, then run `flannel2calico detect` again.',
    );
  }
  const snapshot = await collectSnapshot(client, detection, cluster);
  // Every node's Calico identity and IPAM is written before the first node moves, even when only
  // some nodes are migrated now: migrated nodes route to the others through it.
  const planOptions = { ...planOptionsFrom(options), helperImage: options.helperImage };
  const fresh = options.plan ? undefined : buildPlan(snapshot, detection, planOptions);
  const allNodes =
    fresh && planOptions.nodes === undefined
      ? fresh.nodes
      : buildPlan(snapshot, detection, { ...planOptions, nodes: undefined }).nodes;
  if (options.plan) {
    const saved = loadPlanFile(options.plan);
    const { plan, applied } = narrowPlan(saved, flags, options.plan);
    for (const line of applied) ctx.log(`${options.plan} narrowed by ${line}`);
    if (resuming && record?.planHash === plan.cluster.stateHash) return { plan, resuming, allNodes };
    const changes = diffSnapshots(plan.cluster.fingerprint, snapshot);
    if (changes.length) {
      for (const change of changes.slice(0, 20)) ctx.log(`  ${change.message}`);
      if (changes.length > 20) ctx.log(`  … and ${changes.length - 20} more`);
      throw new CliError(
        `the cluster changed since the plan was made (${changes.length} ` +
          `difference${changes.length === 1 ? '' : 's'}); nothing was changed`,
        ExitCode.preflightFailed,
        'Make a new plan (flannel2calico plan --out plan.json), review it, and apply that one.',
      );
    }
    return { plan, resuming, allNodes };
  }
  return { plan: fresh!, resuming, allNodes };
}

function printClientDryRun(ctx: CommandContext, plan: Plan): void {
  ctx.out(`Dry run (client): nothing is changed. The migration would:`);
  ctx.out(
    `  1. install or validate Calico (DaemonSet ${calicoDaemonSetName(plan.settings)}, nodeSelector network=calico)`,
  );
  ctx.out(
    `  2. create IPPool(s) ${plan.calico.pools.map((p) => `${p.metadata?.name} ${p.spec?.cidr} blockSize ${p.spec?.blockSize}`).join(', ')}`,
  );
  ctx.out(`  3. patch FelixConfiguration default: ${JSON.stringify(plan.calico.felixConfigurationPatch)}`);
  ctx.out(
    `  4. write per-node IPAM (${plan.nodes.reduce((n, node) => n + node.ipam.blocks.length, 0)} ` +
      `blocks) and label every node network=flannel`,
  );
  ctx.out(
    `  5. restrict DaemonSet ${plan.flannelDaemonSet.namespace}/${plan.flannelDaemonSet.name} to network=flannel nodes`,
  );
  plan.batches.forEach((batch, i) => {
    ctx.out(`  batch ${i + 1}/${plan.batches.length}: ${batch.join(', ')}`);
    for (const name of batch) {
      const node = plan.nodes.find((n) => n.name === name);
      const evict = node?.pods.filter((p) => p.action === 'evict').length ?? 0;
      ctx.out(
        `    ${name}: ${NODE_STEPS.filter((s) => s !== 'done')
          .map((s) => (s === 'drain' ? `drain (evict ${evict} pods)` : STEP_TITLES[s]))
          .join(' → ')}`,
      );
    }
  });
}

async function reportOutcome(ctx: CommandContext, outcome: RunOutcome): Promise<number> {
  const [{ LockHeldError }, { DrainBlockedError, DrainRefusedError }, { WaitTimeoutError }] = await Promise.all([
    import('../../engine/lock.js'),
    import('../../engine/drain.js'),
    import('../../engine/waits.js'),
  ]);
  const c = ctx.chalk;
  if (outcome.skipped.length) {
    ctx.log(`${c.yellow('!')} skipped, not migrated (deleted from the cluster): ${outcome.skipped.join(', ')}`);
  }
  if (outcome.notInPlan.length) {
    ctx.log(
      `${c.yellow('!')} not part of the plan, left on flannel (labelled network=flannel): ` +
        `${outcome.notInPlan.join(', ')}; migrate them with a new plan`,
    );
  }
  if (outcome.status === 'completed' && ctx.opts.dryRun === 'server') {
    ctx.out(
      `${c.green('✔')} Server dry run: the API server accepted every write for ${outcome.migrated.length} ` +
        `node(s) (dryRun=All); nothing was changed.`,
    );
    return ExitCode.ok;
  }
  if (outcome.status === 'completed') {
    ctx.out(
      `${c.green('✔')} ${outcome.migrated.length} node(s) run ` +
        `Calico${outcome.finalized ? '; flannel removed (finalized)' : ''}.` +
        c.dim(' Next: flannel2calico report --out-dir migration-report (what changed, node by node)'),
    );
    return ExitCode.ok;
  }
  if (outcome.status === 'declined') {
    ctx.out(
      `Stopped at your request after ${outcome.migrated.length} ` +
        `node(s)${outcome.migrated.length ? '' : '; no node was changed'}. Rerun \`flannel2calico ` +
        `migrate\` to continue.`,
    );
    return ExitCode.ok;
  }
  const resume = 'Rerun `flannel2calico migrate` with the same options to resume';
  if (outcome.status === 'interrupted') {
    const where = outcome.at.length
      ? outcome.at.map((a) => `${a.node} (${STEP_TITLES[a.step]})`).join(', ')
      : 'between steps';
    ctx.log(
      `${c.yellow('interrupted:')} the migration stopped at ${where}; ${outcome.migrated.length} ` +
        `node(s) run Calico. The state is recorded in the ` +
        `cluster${outcome.at.length ? '; the interrupted step is not marked done and the node stays cordoned' : ''}.`,
    );
    ctx.log(`${c.yellow('hint:')} ${resume}.`);
    return ExitCode.resumable;
  }
  const err = outcome.error;
  if (err instanceof LockHeldError)
    throw new CliError(
      err.message,
      ExitCode.usage,
      `Wait for it to finish, or if its process is gone, retry after the Lease expires (${err.expiresInSeconds} s).`,
    );
  const nodeFailures = outcome.failures.filter((f) => f.node);
  if (nodeFailures.length > 1) {
    ctx.log(`${c.red('error:')} migration stopped after the batch: ${nodeFailures.length} nodes failed:`);
    for (const f of nodeFailures) ctx.log(`  - ${f.node} (${STEP_TITLES[f.step!]}): ${f.error.message}`);
  } else {
    const where = outcome.node ? `${outcome.node} (${STEP_TITLES[outcome.step!]})` : 'preparation';
    ctx.log(`${c.red('error:')} migration stopped at ${where}: ${err.message}`);
  }
  const failed = nodeFailures.map((f) => f.node!);
  if (
    nodeFailures.every((f) => f.error instanceof DrainBlockedError || f.error instanceof DrainRefusedError) &&
    nodeFailures.length
  ) {
    const blocked = nodeFailures.some((f) => f.error instanceof DrainBlockedError);
    const refused = nodeFailures.some((f) => f.error instanceof DrainRefusedError);
    if (blocked)
      ctx.log(
        `${c.yellow('hint:')} ${failed.join(', ')} stay${failed.length === 1 ? 's' : ''} ` +
          `cordoned. Relax the PodDisruptionBudget(s) (e.g. scale the workload up) or raise ` +
          `--drain-timeout. ${resume}; \`kubectl uncordon ${failed.join(' ')}\` gives the node back ` +
          `to its workloads meanwhile (it still runs flannel).`,
      );
    if (refused)
      ctx.log(
        `${c.yellow('hint:')} pass --force and/or --delete-emptydir-data if those pods may be deleted. ${resume}.`,
      );
    return ExitCode.resumable;
  }
  for (const f of nodeFailures) {
    if (f.step === 'start-calico' && f.error instanceof WaitTimeoutError) {
      ctx.log(
        `${c.yellow('hint:')} ${f.node} stays cordoned with flannel removed and calico-node not ` +
          `Ready: see why with \`kubectl -n kube-system get pods -o wide --field-selector ` +
          `spec.nodeName=${f.node}\` and \`kubectl -n kube-system describe pod <calico-node pod>\`; ` +
          `fix it, then rerun, or move the node back to flannel with \`flannel2calico revert --node ` +
          `${f.node}\`.`,
      );
    }
  }
  ctx.log(
    `${c.yellow('hint:')} ${resume}. ` +
      `${failed.length ? `The recorded state of each node: kubectl get node ${failed.join(' ')} -o jsonpath='{.metadata.annotations.flannel2calico\\.io/state}'. ` : ''}Nodes ` +
      `of later batches were not touched.`,
  );
  return ExitCode.failure;
}

export function migrateCommand(): Command {
  const cmd = new Command('migrate')
    .description('migrate the cluster to Calico, node by node (resumable; one run at a time)')
    .option('--plan <file>', 'apply a plan saved by `plan --out` (refused if the cluster changed since)')
    .option(
      '--calico-manifest <file|url>',
      "Calico's flannel-migration calico.yaml, applied when Calico is not installed yet",
    )
    .option('--finalize', 'after the last node, delete flannel and the migration labels without asking')
    .option('--no-finalize', 'never finalize in this run')
    .option(
      '--helper-image <image>',
      `image of the host cleanup Job, checked on the first node before any drain (needs bash, ` +
        `ip, rm, nft, iptables/ip6tables -nft and -legacy save/restore; default: the plan's, else ` +
        `${DEFAULT_HELPER_IMAGE})`,
    );
  addProbeOptions(cmd, DEFAULT_PROBE_IMAGE);
  cmd
    .addOption(
      new Option(
        '--step-timeout <duration>',
        'bound on each wait other than the drain (calico-node Ready, Jobs)',
      ).default('5m'),
    )
    .addOption(
      new Option('--drain-retry <duration>', 'pause between refused evictions (kubectl: 5s); e.g. 500ms')
        .default('5s')
        .hideHelp(),
    )
    .addHelpText(
      'after',
      `
Examples:
  flannel2calico migrate --calico-manifest calico.yaml                 interactive, asks before each batch
  flannel2calico migrate --nodes worker-1 --calico-manifest calico.yaml   one canary node first
  flannel2calico migrate --plan plan.json --yes --max-parallel 20%     CI, no questions
  flannel2calico migrate --dry-run=client                              print every step, change nothing
  flannel2calico migrate --finalize                                    remove flannel once every node runs Calico

Rerun the same command after a failure, Ctrl-C or crash: it resumes from the state recorded in the cluster.
Exit codes: 0 done, 1 failed, 2 refused (no terminal and no --yes; another run holds the lock),
3 preflight failed (nothing changed), 4 stopped but resumable (drain blocked, Ctrl-C).
With --plan, --nodes narrows the saved plan, --max-parallel re-batches it and --drain-timeout replaces
the plan's; --force, --delete-emptydir-data and --grace-period must match the plan.
--yes answers the batch questions but never finalizes: removing flannel needs --finalize.
Ctrl-C stops at the next safe point (exit 4, resumable); a second Ctrl-C exits at once.`,
    );
  addSettingsOptions(cmd);
  addPlanOptions(cmd);
  cmd.action(
    action('migrate', async (ctx, options) => {
      const [{ MigrationEngine }, { RunContext }, { makeProgress }, { makeConfirm, requireConfirmable }] =
        await Promise.all([
          import('../../engine/engine.js'),
          import('../../engine/run-context.js'),
          import('../progress.js'),
          import('../prompt.js'),
        ]);
      requireConfirmable(ctx);
      // Every input is checked before the first request to the cluster.
      parseMaxParallel(planOptionsFrom(options).maxParallel ?? '1');
      const stepTimeoutMs = parsePositiveDuration(options.stepTimeout, '--step-timeout') * 1000;
      const drainRetryMs = parseDurationMs(options.drainRetry, '--drain-retry');
      const flags = typedPlanFlags(cmd, options);
      settingsOverrides(options, process.env);
      if (options.plan) loadPlanFile(options.plan);
      const manifest = options.calicoManifest
        ? await readManifest(options.calicoManifest, ctx.opts.requestTimeoutMs ?? 30_000)
        : undefined;
      if (ctx.opts.dryRun !== 'client') ctx.audit.open({ argv: process.argv.slice(2) });
      const client = await ctx.connect();
      const record = await readMigrationRecord(client);
      if (record?.phase === 'finalized') {
        ctx.out('The migration is already finalized: every node runs Calico and flannel is gone.');
        return ExitCode.ok;
      }
      const { plan, resuming, allNodes } = await resolvePlan(ctx, client, options, record, flags);
      const failed = plan.preflight.filter((f) => f.level === 'fail');
      if (failed.length && !resuming) {
        for (const f of failed) ctx.log(failureText(ctx.chalk, f));
        throw new CliError(
          `preflight failed (${failed.length} finding${failed.length === 1 ? '' : 's'}); nothing was changed`,
          ExitCode.preflightFailed,
          'See `flannel2calico plan` for the whole plan.',
        );
      }
      for (const f of plan.preflight.filter((x) => x.level === 'warn')) ctx.log(warningText(ctx.chalk, f));
      if (ctx.opts.dryRun === 'client') {
        printClientDryRun(ctx, plan);
        return ExitCode.ok;
      }
      if (resuming) ctx.log(`Resuming the migration started ${record?.startedAt}.`);
      ctx.stopProgress();
      const progress = makeProgress(ctx);
      const abort = new AbortController();
      const onSigint = () => {
        if (abort.signal.aborted) {
          ctx.log(
            '\ninterrupted again: exiting now. The step in progress is not recorded as done; rerun ' +
              'the same command to resume.',
          );
          process.exit(ExitCode.resumable);
        }
        ctx.log(
          '\ninterrupted: stopping at the next safe point (no new node or step starts; press Ctrl-C ' +
            'again to exit at once)',
        );
        abort.abort();
        process.exitCode = ExitCode.resumable;
      };
      process.on('SIGINT', onSigint);
      try {
        const run = new RunContext({
          onEvent: progress.onEvent,
          confirm: makeConfirm(ctx),
          audit: ctx.audit,
          signal: abort.signal,
        });
        const engine = new MigrationEngine(client, run, {
          plan,
          allNodes,
          calicoManifest: manifest,
          helperImage: options.helperImage ?? plan.hostCleanup?.helperImage ?? DEFAULT_HELPER_IMAGE,
          probeImage: options.probeImage,
          drainTimeoutMs: plan.drain.timeoutSeconds * 1000,
          drainRetryDelayMs: drainRetryMs,
          stepTimeoutMs,
          // Finalizing removes the way back: --yes alone never answers it; it needs --finalize or a person.
          finalize: options.finalize === true ? 'yes' : options.finalize === false || ctx.opts.yes ? 'no' : 'ask',
          skipProbe: options.skipProbe === true,
        });
        const outcome = await engine.run().catch(
          (error: Error): RunOutcome => ({
            status: 'failed',
            migrated: [],
            skipped: [],
            notInPlan: [],
            error,
            failures: [{ error }],
          }),
        );
        progress.stop();
        return await reportOutcome(ctx, outcome);
      } finally {
        progress.stop();
        process.removeListener('SIGINT', onSigint);
      }
    }),
  );
  return cmd;
}
