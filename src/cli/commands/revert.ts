import { Command, Option } from 'commander';
import { REVERT_STEPS, STEP_TITLES } from '../../engine/events.js';
import type { RevertOptions, RevertOutcome, RevertStepError } from '../../engine/revert.js';
import type { CommandContext } from '../context.js';
import { CliError, ExitCode, UsageError } from '../exit.js';
import { action } from '../action.js';
import { addDrainOptions, addProbeOptions, parseDurationSeconds, planOptionsFrom } from '../plan-options.js';
import { DEFAULT_HELPER_IMAGE, DEFAULT_PROBE_IMAGE } from './migrate.js';

function parseMaxParallel(raw: string, targets: number): number {
  const m = /^(\d+)(%)?$/.exec(String(raw).trim());
  if (!m || Number(m[1]) < 1 || (m[2] && Number(m[1]) > 100))
    throw new UsageError(`--max-parallel: expected a count (1 or more) or a percentage (1% to 100%), got "${raw}"`);
  return m[2] ? Math.max(1, Math.ceil((targets * Number(m[1])) / 100)) : Number(m[1]);
}

async function reportOutcome(ctx: CommandContext, outcome: RevertOutcome, all: boolean): Promise<number> {
  const [{ LockHeldError }, { DrainBlockedError, DrainRefusedError }, { InterruptedError }] = await Promise.all([
    import('../../engine/lock.js'),
    import('../../engine/drain.js'),
    import('../../engine/waits.js'),
  ]);
  const c = ctx.chalk;
  if (outcome.status === 'nothing') {
    ctx.out(outcome.message);
    return ExitCode.ok;
  }
  if (outcome.status === 'completed' && ctx.opts.dryRun === 'server') {
    ctx.out(
      `${c.green('✔')} Server dry run: the API server accepted every write for ${outcome.reverted.length} ` +
        `node(s) (dryRun=All); nothing was changed.`,
    );
    return ExitCode.ok;
  }
  if (outcome.status === 'completed') {
    ctx.out(
      `${c.green('✔')} ${outcome.reverted.length} node(s) moved back to ` +
        `flannel${outcome.restored ? "; Calico and the migration's traces removed: the cluster runs flannel only" : ''}.`,
    );
    if (outcome.kept.length)
      ctx.log(
        `${c.yellow('!')} kept because pods still hold addresses from them: ` +
          `${outcome.kept.join('; ')}. Delete those pods, then rerun \`flannel2calico revert ` +
          `--all\`.`,
      );
    return ExitCode.ok;
  }
  if (outcome.status === 'declined') {
    ctx.out(
      `Stopped at your request after ${outcome.reverted.length} node(s). Rerun \`flannel2calico ` +
        `revert ${all ? '--all' : '--node …'}\` to continue.`,
    );
    return ExitCode.ok;
  }
  const err = outcome.error;
  if (err instanceof InterruptedError || (err as RevertStepError).cause instanceof InterruptedError) {
    ctx.log(
      `${c.yellow('interrupted:')} the revert ` +
        `stopped${outcome.node ? ` at ${outcome.node} (${STEP_TITLES[outcome.step!]})` : ''}; the ` +
        `step in progress is not recorded as done. ` +
        `Rerun \`flannel2calico revert ${all ? '--all' : `--node ${outcome.node ?? '…'}`}\` with ` +
        `the same options to resume.`,
    );
    return ExitCode.resumable;
  }
  if (err instanceof LockHeldError)
    throw new CliError(
      err.message,
      ExitCode.usage,
      `Wait for that run to finish (\`flannel2calico status --watch\`), or if its process is ` +
        `gone, retry after the Lease expires (${err.expiresInSeconds} s).`,
    );
  ctx.log(
    `${c.red('error:')} revert ` +
      `stopped${outcome.node ? ` at ${outcome.node} (${STEP_TITLES[outcome.step!]})` : ''}: ${err.message}`,
  );
  const resume =
    `Rerun \`flannel2calico revert ${all ? '--all' : `--node ${outcome.node ?? '…'}`}\` with ` +
    `the same options to resume`;
  if (err instanceof DrainBlockedError) {
    ctx.log(
      `${c.yellow('hint:')} the node stays cordoned. Relax the PodDisruptionBudget(s) or raise ` +
        `--drain-timeout. ${resume}.`,
    );
    return ExitCode.resumable;
  }
  if (err instanceof DrainRefusedError) {
    ctx.log(`${c.yellow('hint:')} pass --force and/or --delete-emptydir-data if those pods may be deleted. ${resume}.`);
    return ExitCode.resumable;
  }
  ctx.log(
    `${c.yellow('hint:')} ${resume}; \`flannel2calico status --node ${outcome.node ?? 'NAME'}\` ` +
      `shows the node's steps.`,
  );
  return ExitCode.failure;
}

export function revertCommand(): Command {
  const cmd = new Command('revert');
  cmd
    .description('move nodes back to flannel: one node, or every node and then the cluster as before (resumable)')
    .option('--node <name>', 'revert this node (repeat the flag for several)', (v: string, prev: string[] = []) => [
      ...prev,
      v,
    ])
    .option('--all', 'revert every node, then remove Calico and every trace of the migration')
    .option('--max-parallel <N|N%>', 'nodes reverted at once: a count or a percentage of the nodes to revert', '1');
  addDrainOptions(cmd);
  cmd.option(
    '--helper-image <image>',
    'image of the host revert Job (needs bash, ip, rm, nft, iptables/ip6tables -nft and -legacy save/restore)',
    DEFAULT_HELPER_IMAGE,
  );
  addProbeOptions(cmd, DEFAULT_PROBE_IMAGE);
  cmd
    .addOption(
      new Option(
        '--step-timeout <duration>',
        'bound on each wait other than the drain (pods leaving or Ready, Jobs)',
      ).default('5m'),
    )
    .addHelpText(
      'after',
      `
Examples:
  flannel2calico revert --node worker-1            one node back to flannel (asks first)
  flannel2calico revert --all --yes --max-parallel 3   every node, then the cluster as before the migration
  flannel2calico revert --all --dry-run=client     print what would happen, change nothing

Each node: cordon, drain (as migrate), calico-node off (label =none), host revert Job, flannel back
(label =flannel) and Ready, IPAM released once no node runs Calico, probe, uncordon (only if it was
schedulable before). Refused after finalize (flannel is gone) and while another run holds the lock.
Rerun the same command after a failure, Ctrl-C or crash: it resumes from the state recorded in the cluster.
Exit codes: 0 done, 1 failed, 2 refused, 4 stopped but resumable (drain blocked).`,
    )
    .action(
      action('revert', async (ctx, options) => {
        const nodes: string[] = options.node ?? [];
        if (!options.all && !nodes.length)
          throw new UsageError(
            'say which nodes to revert: --node NAME (repeatable) or --all',
            'See `flannel2calico status` for where every node stands.',
          );
        if (options.all && nodes.length) throw new UsageError('--node and --all exclude each other');
        // Loaded here rather than at the top, so that `revert --help` does not load the Kubernetes client.
        const [
          { RevertEngine, RevertRefusedError },
          { RunContext },
          { makeProgress },
          { makeConfirm, requireConfirmable },
        ] = await Promise.all([
          import('../../engine/revert.js'),
          import('../../engine/run-context.js'),
          import('../progress.js'),
          import('../prompt.js'),
        ]);
        requireConfirmable(ctx);
        const drain = planOptionsFrom({ ...options, nodes: undefined });
        const stepTimeoutMs = parseDurationSeconds(options.stepTimeout, '--step-timeout') * 1000;
        const progress = makeProgress(ctx);
        const abort = new AbortController();
        const engineOptions: RevertOptions = {
          target: options.all ? { all: true } : { nodes },
          helperImage: options.helperImage,
          probeImage: options.probeImage,
          drain: {
            force: drain.force ?? false,
            deleteEmptyDirData: drain.deleteEmptyDirData ?? false,
            timeoutSeconds: drain.drainTimeoutSeconds ?? 600,
            gracePeriodSeconds: drain.gracePeriodSeconds ?? -1,
          },
          stepTimeoutMs,
          maxParallel: 1,
          skipProbe: options.skipProbe === true,
        };
        const run = new RunContext({
          onEvent: progress.onEvent,
          confirm: makeConfirm(ctx),
          audit: ctx.audit,
          signal: abort.signal,
        });
        const onSigint = () => {
          ctx.log('\ninterrupted: stopping; rerun the same command to resume');
          abort.abort();
          process.exitCode = ExitCode.resumable;
        };
        process.once('SIGINT', onSigint);
        try {
          const engine = new RevertEngine(ctx.client, run, engineOptions);
          const preview = await engine.preview();
          if ('nothing' in preview) {
            ctx.out(preview.nothing);
            return ExitCode.ok;
          }
          engineOptions.maxParallel = parseMaxParallel(options.maxParallel, preview.nodes.length);
          if (ctx.opts.dryRun === 'client') {
            ctx.out('Dry run (client): nothing is changed. The revert would:');
            for (const name of preview.nodes)
              ctx.out(
                `  ${name}: ${REVERT_STEPS.filter((s) => s !== 'done')
                  .map((s) => STEP_TITLES[s])
                  .join(' → ')}`,
              );
            if (!preview.nodes.length) ctx.out('  (every node already runs flannel)');
            if (options.all) {
              ctx.out(
                "  then: remove the migration nodeSelector from flannel's DaemonSet; delete what Calico's " +
                  'install created; release IPAM;',
              );
              ctx.out(
                '        restore IP pools and FelixConfiguration as before; remove the migration label ' +
                  'and annotations from every node;',
              );
              ctx.out('        delete helper Jobs, the migration Events and the record ConfigMap');
            }
            return ExitCode.ok;
          }
          const outcome = await engine
            .run()
            .catch((error: Error): RevertOutcome => ({ status: 'failed', reverted: [], error }));
          progress.stop();
          if (outcome.status === 'failed' && outcome.error instanceof RevertRefusedError)
            throw new CliError(outcome.error.message, ExitCode.usage, outcome.error.hint);
          return await reportOutcome(ctx, outcome, options.all === true);
        } catch (err) {
          if (err instanceof RevertRefusedError) throw new CliError(err.message, ExitCode.usage, err.hint);
          throw err;
        } finally {
          progress.stop();
          process.removeListener('SIGINT', onSigint);
        }
      }),
    );
  return cmd;
}
