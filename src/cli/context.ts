import { Chalk, type ChalkInstance } from 'chalk';
import ora, { type Ora } from 'ora';
import { ClusterClient, describeTarget, serverAddress, type Mutation, type RequestContext } from '../cluster/index.js';
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
  /** Bound on every API request (watches excepted). */
  requestTimeoutMs?: number;
}

/** What every subcommand gets: its options, output streams, and (lazily) the one cluster client. */
export class CommandContext {
  readonly chalk: ChalkInstance;
  readonly interactive: boolean;
  private clientInstance?: ClusterClient;
  private auditInstance?: AuditLog;
  private verified = false;
  private spinner?: Ora;
  private readingLogged = false;

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
      onRequest: (r: RequestContext) => this.onRequest(r),
      requestTimeoutMs: this.opts.requestTimeoutMs,
    });
    return this.clientInstance;
  }

  /**
   * The cluster client, once GET /version has shown that the server is a Kubernetes API server
   * that accepts the credentials. Shows progress on stderr while the command reads the cluster.
   */
  async connect(): Promise<ClusterClient> {
    const client = this.client;
    if (this.verified) return client;
    const address = serverAddress(client.server);
    if (this.stderr.isTTY) this.spinner = ora({ text: `connecting to ${address} (context ${client.contextName})`, stream: this.stderr as NodeJS.WriteStream }).start();
    else this.log(`connecting to ${address} (context ${client.contextName}) ...`);
    const version = await client.verifyServer();
    this.verified = true;
    if (this.spinner) this.spinner.text = `reading the cluster (Kubernetes ${version.gitVersion} at ${address})`;
    return client;
  }

  private onRequest(r: RequestContext): void {
    if (!this.verified) return;
    if (this.spinner) this.spinner.text = `reading the cluster: ${r.verb} ${describeTarget(r)}`;
    else if (!this.readingLogged && this.command !== 'migrate') {
      this.readingLogged = true;
      this.log('reading the cluster ...');
    }
  }

  /** Ends the connection progress display (before results or prompts are printed). */
  stopProgress(): void {
    this.spinner?.stop();
    this.spinner = undefined;
  }

  /** A result line on stdout. */
  out(text = ''): void {
    this.stopProgress();
    this.stdout.write(`${text}\n`);
  }

  /** A progress or log line on stderr. */
  log(text = ''): void {
    this.stopProgress();
    this.stderr.write(`${text}\n`);
  }

  debug(text: string): void {
    if (this.opts.verbose) this.log(this.chalk.dim(text));
  }
}
