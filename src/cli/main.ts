import { Command, CommanderError, Option } from 'commander';
import { createRequire } from 'node:module';
import { ClusterError } from '../cluster/errors.js';
import { SettingError } from '../flannel/settings.js';
import type { CommandContext, GlobalOptions } from './context.js';
import { CliError, ExitCode } from './exit.js';
import { parsePositiveDuration } from './plan-options.js';
import { registerDetect } from './commands/detect.js';
import { registerPlan } from './commands/plan.js';
import { registerMigrate } from './commands/migrate.js';
import { registerStatus } from './commands/status.js';
import { registerRevert } from './commands/revert.js';
import { registerReport } from './commands/report.js';
import { registerCompletion } from './commands/completion.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

export type Action = (ctx: CommandContext, options: Record<string, any>, args: string[]) => Promise<number | void>;

/** Wraps a subcommand action: builds its context, maps every expected error to a message and exit code. */
export function action(program: Command, name: string, fn: Action) {
  return async (...args: any[]) => {
    const command = args[args.length - 1] as Command;
    const options = command.opts();
    const raw = program.opts();
    let requestTimeoutMs: number | undefined;
    let badTimeout: unknown;
    try {
      requestTimeoutMs = parsePositiveDuration(raw.requestTimeout ?? '30s', '--request-timeout') * 1000;
    } catch (err) {
      badTimeout = err;
    }
    // Loaded here, not at the top: it brings the Kubernetes client, which `--help` does not need.
    const { CommandContext } = await import('./context.js');
    const ctx = new CommandContext({ ...globalOptions(raw), requestTimeoutMs }, process.stdout, process.stderr, name);
    try {
      if (badTimeout) throw badTimeout;
      const code = await fn(ctx, options, command.args);
      process.exitCode = code ?? ExitCode.ok;
    } catch (err) {
      process.exitCode = await reportError(ctx, err);
    } finally {
      ctx.stopProgress();
    }
  };
}

function globalOptions(raw: Record<string, any>): GlobalOptions {
  return {
    kubeconfig: raw.kubeconfig,
    context: raw.context,
    output: raw.output,
    verbose: Boolean(raw.verbose),
    color: raw.color !== false,
    yes: Boolean(raw.yes),
    dryRun: raw.dryRun === true ? 'client' : raw.dryRun,
    logFile: raw.logFile,
  };
}

/** What every error becomes: one `error:` line and a `hint:` line on stderr, and with -o json|yaml also a document on stdout. */
export interface ErrorReport {
  kind: string;
  message: string;
  hint?: string;
  exitCode: number;
}

async function classify(err: unknown): Promise<ErrorReport & { detail?: string }> {
  // Loaded only when an error is reported, so that startup does not pay for it.
  const { AuditLogError } = await import('../engine/audit.js');
  if (err instanceof CliError) return { kind: err.exitCode === ExitCode.usage ? 'usage' : err.exitCode === ExitCode.preflightFailed ? 'preflight' : 'failure', message: err.message, hint: err.hint, exitCode: err.exitCode };
  if (err instanceof SettingError) {
    return { kind: 'usage', message: err.message, hint: (err as { hint?: string }).hint ?? 'Fix the flag or environment variable; `flannel2calico detect --help` lists every setting and its format.', exitCode: ExitCode.usage };
  }
  if (err instanceof AuditLogError) {
    return { kind: 'audit-log', message: `${err.message}; nothing was changed`, hint: 'Choose a writable file with --log-file (its directory is created 0700, the file 0600).', exitCode: ExitCode.usage };
  }
  if (err instanceof ClusterError) return { kind: err.kind, message: err.message, hint: err.hint, exitCode: err.kind === 'kubeconfig' ? ExitCode.usage : ExitCode.failure, detail: err.detail };
  return {
    kind: 'unexpected',
    message: `unexpected failure: ${(err as Error)?.message ?? String(err)}`,
    hint: 'Run it again with -v to see where it failed. A migrate run resumes where it stopped when you rerun the same command.',
    exitCode: ExitCode.failure,
    detail: String((err as Error)?.stack ?? err),
  };
}

/** Writes the machine-readable error document on stdout when -o json|yaml was asked for. */
export async function printErrorDocument(output: string | undefined, write: (s: string) => void, report: ErrorReport): Promise<void> {
  const doc = { error: { kind: report.kind, message: report.message, ...(report.hint ? { hint: report.hint } : {}), exitCode: report.exitCode } };
  if (output === 'json') write(`${JSON.stringify(doc, null, 2)}\n`);
  else if (output === 'yaml') write((await import('yaml')).stringify(doc));
}

export async function reportError(ctx: CommandContext, err: unknown): Promise<number> {
  const report = await classify(err);
  ctx.log(`${ctx.chalk.red('error:')} ${report.message}`);
  if (report.hint) ctx.log(`${ctx.chalk.yellow('hint:')} ${report.hint}`);
  if (report.detail) ctx.debug(report.detail);
  await printErrorDocument(ctx.opts.output, (s) => ctx.stdout.write(s), report);
  return report.exitCode;
}

/**
 * `--dry-run` takes an optional value, so commander would read `--dry-run migrate` as the value
 * "migrate". A bare `--dry-run` not followed by client or server means client.
 */
export function normalizeDryRun(argv: string[]): string[] {
  const out = [...argv];
  for (let i = 2; i < out.length; i++) {
    if (out[i] === '--') break;
    if (out[i] === '--dry-run' && out[i + 1] !== 'client' && out[i + 1] !== 'server') out[i] = '--dry-run=client';
  }
  return out;
}

export function buildProgram(): Command {
  const program = new Command('flannel2calico');
  program
    .description('Live-migrate a Kubernetes cluster from flannel (VXLAN) or Canal to Calico networking with Calico IPAM, node by node, without downtime.')
    .version(pkg.version, '--version', 'print the version')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use (default: the current context)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json', 'yaml']).default('text'))
    .option('-v, --verbose', 'show details: every step, API error bodies, stack traces')
    .option('--no-color', 'disable colours (also: NO_COLOR=1)')
    .option('-y, --yes', 'answer yes to every confirmation (required without a terminal)')
    .addOption(new Option('--dry-run [mode]', 'show what would change: "client" (the default when no mode follows) changes nothing, "server" sends writes with dryRun=All').choices(['client', 'server']))
    .option('--log-file <file>', 'audit log (NDJSON) path (default: $XDG_STATE_HOME/flannel2calico/audit.ndjson)')
    .addOption(new Option('--request-timeout <duration>', 'bound on each API request, watches excepted (connecting: half of it, 10 s at most)').default('30s'))
    .showHelpAfterError('hint: run the command with --help for its options and their formats')
    .addHelpText('after', `
Workflow:
  flannel2calico detect                 read flannel's settings and check prerequisites
  flannel2calico plan --out plan.json   review the plan (nothing is changed)
  flannel2calico migrate --plan plan.json --calico-manifest calico.yaml
  flannel2calico status [--watch]       where the run and every node stand
  flannel2calico revert --node NAME     move one node back to flannel (--all: the whole cluster)

Exit codes: 0 ok, 1 failure, 2 usage error or refused, 3 preflight failed (nothing changed),
4 stopped but resumable (e.g. drain blocked by a PodDisruptionBudget). See docs/cli.md.`);
  program.exitOverride();
  // Inherited by every subcommand registered below: its --help lists --kubeconfig, -o, --yes, …
  program.configureHelp({ showGlobalOptions: true });
  program.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  registerDetect(program);
  registerPlan(program);
  registerMigrate(program);
  registerStatus(program);
  registerRevert(program);
  registerReport(program);
  registerCompletion(program);
  for (const sub of program.commands) sub.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(normalizeDryRun(argv));
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
      await printErrorDocument(program.opts().output, (s) => process.stdout.write(s), {
        kind: 'usage', message: err.message.replace(/^error: /, ''), hint: 'Run the command with --help for its options and their formats.', exitCode: ExitCode.usage,
      });
      return ExitCode.usage;
    }
    throw err;
  }
}
