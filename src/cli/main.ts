import { Command, CommanderError, Option } from 'commander';
import { createRequire } from 'node:module';
import { printErrorDocument } from './action.js';
import { ExitCode } from './exit.js';
import { detectCommand } from './commands/detect.js';
import { planCommand } from './commands/plan.js';
import { migrateCommand } from './commands/migrate.js';
import { statusCommand } from './commands/status.js';
import { revertCommand } from './commands/revert.js';
import { reportCommand } from './commands/report.js';
import { completionCommand } from './commands/completion.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

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
    .description(
      'Live-migrate a Kubernetes cluster from flannel (VXLAN) or Canal to Calico networking ' +
        'with Calico IPAM, node by node, without downtime.',
    )
    .version(pkg.version, '--version', 'print the version')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use (default: the current context)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json', 'yaml']).default('text'))
    .option('-v, --verbose', 'show details: every step, API error bodies, stack traces')
    .option('--no-color', 'disable colours (also: NO_COLOR=1)')
    .option('-y, --yes', 'answer yes to every confirmation (required without a terminal)')
    .addOption(
      new Option(
        '--dry-run [mode]',
        'show what would change: "client" (the default when no mode follows) changes nothing, ' +
          '"server" sends writes with dryRun=All',
      ).choices(['client', 'server']),
    )
    .option('--log-file <file>', 'audit log (NDJSON) path (default: $XDG_STATE_HOME/flannel2calico/audit.ndjson)')
    .addOption(
      new Option(
        '--request-timeout <duration>',
        'bound on each API request, watches excepted (connecting: half of it, 10 s at most)',
      ).default('30s'),
    )
    .addOption(
      new Option(
        '--api-qps <n>',
        'client-side rate limit: API requests a second, burst twice that (default 100; 0: none)',
      ).hideHelp(),
    )
    .showHelpAfterError('hint: run the command with --help for its options and their formats')
    .addHelpText(
      'after',
      `
Workflow:
  flannel2calico detect                 read flannel's settings and check prerequisites
  flannel2calico plan --out plan.json   review the plan (nothing is changed)
  flannel2calico migrate --plan plan.json --calico-manifest calico.yaml
  flannel2calico status [--watch]       where the run and every node stand
  flannel2calico revert --node NAME     move one node back to flannel (--all: the whole cluster)

Exit codes: 0 ok, 1 failure, 2 usage error or refused, 3 preflight failed (nothing changed),
4 stopped but resumable (e.g. drain blocked by a PodDisruptionBudget). See docs/cli.md.`,
    );
  program.exitOverride();
  // Inherited by every subcommand added below: its --help lists --kubeconfig, -o, --yes, …
  program.configureHelp({ showGlobalOptions: true });
  program.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  for (const sub of [
    detectCommand(),
    planCommand(),
    migrateCommand(),
    statusCommand(),
    revertCommand(),
    reportCommand(),
    completionCommand(),
  ]) {
    // What program.command() would have given it: the help, output and error settings set above.
    sub.copyInheritedSettings(program);
    program.addCommand(sub);
    sub.exitOverride();
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(normalizeDryRun(argv));
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return ExitCode.ok;
      await printErrorDocument(program.opts().output, (s) => process.stdout.write(s), {
        kind: 'usage',
        message: err.message.replace(/^error: /, ''),
        hint: 'Run the command with --help for its options and their formats.',
        exitCode: ExitCode.usage,
      });
      return ExitCode.usage;
    }
    throw err;
  }
}
