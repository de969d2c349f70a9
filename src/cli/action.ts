import type { Command } from 'commander';
import { ClusterError } from '../cluster/errors.js';
import { SettingError } from '../flannel/settings.js';
import type { CommandContext, GlobalOptions } from './context.js';
import { CliError, ExitCode, UsageError } from './exit.js';
import { parsePositiveDuration } from './plan-options.js';

export type Action = (ctx: CommandContext, options: Record<string, any>, args: string[]) => Promise<number | void>;

/** Wraps a subcommand action: builds its context, maps every expected error to a message and exit code. */
export function action(name: string, fn: Action) {
  return async (...args: any[]) => {
    const command = args[args.length - 1] as Command;
    const options = command.opts();
    const raw = rootOf(command).opts();
    let requestTimeoutMs: number | undefined;
    let badTimeout: unknown;
    try {
      requestTimeoutMs = parsePositiveDuration(raw.requestTimeout ?? '30s', '--request-timeout') * 1000;
      if (raw.apiQps !== undefined && !(Number(raw.apiQps) >= 0))
        throw new UsageError(`--api-qps: expected a number of requests a second, 0 for no limit (got "${raw.apiQps}")`);
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

/** The program: its options are the global ones (--kubeconfig, -o, --yes, …). */
export function rootOf(command: Command): Command {
  let root = command;
  while (root.parent) root = root.parent;
  return root;
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
    ...(raw.apiQps !== undefined ? { apiQps: Number(raw.apiQps) } : {}),
  };
}

/**
 * What every error becomes: one `error:` line and a `hint:` line on stderr, and with -o json|yaml also a document on
 * stdout.
 */
export interface ErrorReport {
  kind: string;
  message: string;
  hint?: string;
  exitCode: number;
}

async function classify(err: unknown): Promise<ErrorReport & { detail?: string }> {
  // Loaded only when an error is reported, so that startup does not pay for it.
  const { AuditLogError } = await import('../engine/audit.js');
  if (err instanceof CliError)
    return {
      kind:
        err.exitCode === ExitCode.usage ? 'usage' : err.exitCode === ExitCode.preflightFailed ? 'preflight' : 'failure',
      message: err.message,
      hint: err.hint,
      exitCode: err.exitCode,
    };
  if (err instanceof SettingError) {
    return {
      kind: 'usage',
      message: err.message,
      hint:
        (err as { hint?: string }).hint ??
        'Fix the flag or environment variable; `flannel2calico detect --help` lists every setting and its format.',
      exitCode: ExitCode.usage,
    };
  }
  if (err instanceof AuditLogError) {
    return {
      kind: 'audit-log',
      message: `${err.message}; nothing was changed`,
      hint: 'Choose a writable file with --log-file (its directory is created 0700, the file 0600).',
      exitCode: ExitCode.usage,
    };
  }
  if (err instanceof ClusterError)
    return {
      kind: err.kind,
      message: err.message,
      hint: err.hint,
      exitCode: err.kind === 'kubeconfig' ? ExitCode.usage : ExitCode.failure,
      detail: err.detail,
    };
  return {
    kind: 'unexpected',
    message: `unexpected failure: ${(err as Error)?.message ?? String(err)}`,
    hint:
      'Run it again with -v to see where it failed. A migrate run resumes where it stopped when ' +
      'you rerun the same command.',
    exitCode: ExitCode.failure,
    detail: String((err as Error)?.stack ?? err),
  };
}

/** Writes the machine-readable error document on stdout when -o json|yaml was asked for. */
export async function printErrorDocument(
  output: string | undefined,
  write: (s: string) => void,
  report: ErrorReport,
): Promise<void> {
  const doc = {
    error: {
      kind: report.kind,
      message: report.message,
      ...(report.hint ? { hint: report.hint } : {}),
      exitCode: report.exitCode,
    },
  };
  if (output === 'json') write(`${JSON.stringify(doc, null, 2)}\n`);
  else if (output === 'yaml') write((await import('yaml')).stringify(doc));
}

async function reportError(ctx: CommandContext, err: unknown): Promise<number> {
  const report = await classify(err);
  ctx.log(`${ctx.chalk.red('error:')} ${report.message}`);
  if (report.hint) ctx.log(`${ctx.chalk.yellow('hint:')} ${report.hint}`);
  if (report.detail) ctx.debug(report.detail);
  await printErrorDocument(ctx.opts.output, (s) => ctx.stdout.write(s), report);
  return report.exitCode;
}
