import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Mutation } from '../cluster/index.js';

export function defaultAuditLogPath(): string {
  const stateHome = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(stateHome, 'flannel2calico', 'audit.ndjson');
}

/** Append-only NDJSON record of every mutation and engine decision, one JSON object per line. */
export class AuditLog {
  readonly file: string;
  private readonly runId = `${new Date().toISOString()}-${process.pid}`;
  private failed = false;

  constructor(file: string | undefined, private readonly command: string) {
    this.file = file ?? defaultAuditLogPath();
  }

  write(entry: Record<string, unknown>): void {
    if (this.failed) return;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.appendFileSync(this.file, `${JSON.stringify({ time: new Date().toISOString(), run: this.runId, command: this.command, user: os.userInfo().username, ...entry })}\n`);
    } catch (err) {
      this.failed = true;
      process.stderr.write(`warning: cannot write the audit log ${this.file}: ${(err as Error).message}; use --log-file to choose another path\n`);
    }
  }

  mutation(m: Mutation): void {
    this.write({ type: 'mutation', ...m });
  }
}
