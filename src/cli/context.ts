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
  /** Client-side rate limit, requests a second (0: none). */
  apiQps?: number;
}

/** CI systems set CI=true; their logs want plain lines, not spinners or colour codes. */
function inCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** Spinners and in-place updates only on a real terminal of known width, outside CI, for text output. */
export function canAnimate(stream: { isTTY?: boolean; columns?: number }, output: OutputFormat): boolean {
  return (
    Boolean(stream.isTTY) && (stream.columns ?? 0) > 0 && !inCi() && process.env.TERM !== 'dumb' && output === 'text'
  );
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
  /** Set by commands that show how far a long read has got (detect, plan). */
  onListPage?: (kind: string, itemsSoFar: number, done: boolean) => void;

  constructor(
    readonly opts: GlobalOptions,
    readonly stdout: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
    readonly stderr: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
    readonly command = 'unknown',
  ) {
    const colour =
      opts.color && !process.env.NO_COLOR && !inCi() && opts.output === 'text' && Boolean(stderr.isTTY || stdout.isTTY);
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
      qps: this.opts.apiQps,
      onListPage: (kind, itemsSoFar, done) => this.onListPage?.(kind, itemsSoFar, done),
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
    const connecting = `connecting to ${address} (context ${client.contextName})`;
    // Plain progress lines only for text output: with -o json|yaml stderr carries errors alone.
    if (!this.showProgress(connecting) && this.opts.output === 'text') this.log(`${connecting} ...`);
    const version = await client.verifyServer();
    this.verified = true;
    if (this.spinner) this.spinner.text = `reading the cluster (Kubernetes ${version.gitVersion} at ${address})`;
    return client;
  }

  private onRequest(r: RequestContext): void {
    if (!this.verified) return;
    // While a command counts what it reads (onListPage), that count is the progress line.
    if (this.spinner) {
      if (!this.onListPage) this.spinner.text = `reading the cluster: ${r.verb} ${describeTarget(r)}`;
    } else if (!this.readingLogged && this.command !== 'migrate' && this.opts.output === 'text') {
      this.readingLogged = true;
      this.log('reading the cluster ...');
    }
  }

  /**
   * The one progress line on stderr: a spinner on a terminal (started if needed, its text replaced
   * otherwise). False when stderr cannot animate (pipe, CI, -o json|yaml): the caller logs lines instead.
   */
  showProgress(text: string): boolean {
    if (!canAnimate(this.stderr, this.opts.output)) return false;
    if (this.spinner) this.spinner.text = text;
    // ora colours its frames by itself, ignoring NO_COLOR and --no-color: follow ours.
    else
      this.spinner = ora({
        text,
        stream: this.stderr as NodeJS.WriteStream,
        discardStdin: false,
        color: this.chalk.level > 0 ? 'cyan' : false,
      }).start();
    return true;
  }

  /** Ends the progress display (before results or prompts are printed), leaving `note` in its place if given. */
  stopProgress(note?: string): void {
    if (note) this.spinner?.stopAndPersist({ symbol: this.chalk.dim('·'), text: note });
    else this.spinner?.stop();
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
