import { Chalk, type ChalkInstance } from 'chalk';
import { ClusterClient, type Mutation } from '../cluster/index.js';
import { AuditLog } from '../engine/audit.js';

export type OutputFormat = 'text' | 'json' | 'yaml';
export type DryRunMode = 'client' | 'server' | undefined;

export interface GlobalOptions {
  kubeconfig?: string;
  context?: string;
  output: OutputFormat;
  verbose: boolean;
  color: boolean;
  yes: boolean;
  dryRun: DryRunMode;
  logFile?: string;
}

/** What every subcommand gets: its options, output streams, and (lazily) the one cluster client. */
export class CommandContext {
  readonly chalk: ChalkInstance;
  readonly interactive: boolean;
  private clientInstance?: ClusterClient;
  private auditInstance?: AuditLog;

  constructor(
    readonly opts: GlobalOptions,
    readonly stdout: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
    readonly stderr: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
    readonly command = 'unknown',
  ) {
    const colour = opts.color && !('NO_COLOR' in process.env) && Boolean(stderr.isTTY || stdout.isTTY);
    this.chalk = new Chalk({ level: colour ? 1 : 0 });
    this.interactive = Boolean(process.stdin.isTTY && stderr.isTTY);
  }

  get audit(): AuditLog {
    this.auditInstance ??= new AuditLog(this.opts.logFile, this.command);
    return this.auditInstance;
  }

  get client(): ClusterClient {
    this.clientInstance ??= ClusterClient.fromOptions({
      kubeconfig: this.opts.kubeconfig,
      context: this.opts.context,
      serverDryRun: this.opts.dryRun === 'server',
      onMutation: (m: Mutation) => this.audit.mutation(m),
    });
    return this.clientInstance;
  }

  /** A result line on stdout. */
  out(text = ''): void {
    this.stdout.write(`${text}\n`);
  }

  /** A progress or log line on stderr. */
  log(text = ''): void {
    this.stderr.write(`${text}\n`);
  }

  debug(text: string): void {
    if (this.opts.verbose) this.stderr.write(`${this.chalk.dim(text)}\n`);
  }
}
