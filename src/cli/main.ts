import { Command, CommanderError, Option } from 'commander';
import { createRequire } from 'node:module';
import { ClusterError } from '../cluster/index.js';
import { SettingError } from '../flannel/settings.js';
import { CommandContext, type GlobalOptions } from './context.js';
import { CliError, ExitCode } from './exit.js';
import { registerDetect } from './commands/detect.js';
import { registerPlan } from './commands/plan.js';
import { registerMigrate } from './commands/migrate.js';
import { registerStatus } from './commands/status.js';
import { registerRevert } from './commands/revert.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

export type Action = (ctx: CommandContext, options: Record<string, any>, args: string[]) => Promise<number | void>;

/** Wraps a subcommand action: builds its context, maps every expected error to a message and exit code. */
export function action(program: Command, name: string, fn: Action) {
  return async (...args: any[]) => {
    const command = args[args.length - 1] as Command;
    const options = command.opts();
    const globals = globalOptions(program.opts());
    const ctx = new CommandContext(globals, process.stdout, process.stderr, name);
    try {
      const code = await fn(ctx, options, command.args);
      process.exitCode = code ?? ExitCode.ok;
    } catch (err) {
      process.exitCode = reportError(ctx, err);
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

export function reportError(ctx: CommandContext, err: unknown): number {
  const red = ctx.chalk.red;
  if (err instanceof CliError || err instanceof ClusterError || err instanceof SettingError) {
    ctx.log(`${red('error:')} ${err.message}`);
    const hint = (err as CliError).hint;
    if (hint) ctx.log(`${ctx.chalk.yellow('hint:')} ${hint}`);
    if (err instanceof ClusterError && err.detail) ctx.debug(err.detail);
    if (err instanceof CliError) return err.exitCode;
    if (err instanceof SettingError) return ExitCode.usage;
    return err.kind === 'kubeconfig' ? ExitCode.usage : ExitCode.failure;
  }
  ctx.log(`${red('error:')} unexpected failure: ${(err as Error)?.message ?? String(err)}`);
  ctx.log(ctx.opts.verbose ? String((err as Error)?.stack) : 'Run again with -v for details; the run can be resumed, nothing is left half-written.');
  return ExitCode.failure;
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
    .addOption(new Option('--dry-run [mode]', 'show what would change: "client" changes nothing, "server" sends writes with dryRun=All').choices(['client', 'server']))
    .option('--log-file <file>', 'audit log (NDJSON) path (default: $XDG_STATE_HOME/flannel2calico/audit.ndjson)')
    .showHelpAfterError('(run with --help for usage)')
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
  program.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  registerDetect(program);
  registerPlan(program);
  registerMigrate(program);
  registerStatus(program);
  registerRevert(program);
  for (const sub of program.commands) sub.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
      return ExitCode.usage;
    }
    throw err;
  }
}
