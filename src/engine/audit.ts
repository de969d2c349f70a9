import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Mutation } from '../cluster/index.js';

export function defaultAuditLogPath(): string {
  const stateHome = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(stateHome, 'flannel2calico', 'audit.ndjson');
}

/** The audit log cannot be written: a mutating command must not start. */
export class AuditLogError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`cannot write the audit log ${file}: ${reason}`);
    this.name = 'AuditLogError';
  }
}

/**
 * Append-only NDJSON record of every mutation and engine decision, one JSON object per line. The file
 * is created 0600 and the directories created for it 0700: it names nodes, pods and objects of the
 * cluster (never credentials).
 */
export class AuditLog {
  readonly file: string;
  private readonly runId = `${new Date().toISOString()}-${process.pid}`;
  private failed = false;

  constructor(
    file: string | undefined,
    private readonly command: string,
  ) {
    this.file = file ?? defaultAuditLogPath();
  }

  private append(line: string): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const fd = fs.openSync(this.file, 'a', 0o600);
    try {
      fs.writeSync(fd, line);
    } finally {
      fs.closeSync(fd);
    }
  }

  private line(entry: Record<string, unknown>): string {
    return `${JSON.stringify({ time: new Date().toISOString(), run: this.runId, command: this.command, user: os.userInfo().username, ...entry })}\n`;
  }

  /**
   * Proves the log can be written (records the start of the run); throws AuditLogError otherwise. Call before the
   * first change.
   */
  open(entry: Record<string, unknown> = {}): void {
    try {
      if (fs.existsSync(this.file) && fs.statSync(this.file).isDirectory())
        throw Object.assign(new Error('it is a directory'), { code: 'EISDIR' });
      this.append(this.line({ type: 'run-start', ...entry }));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason =
        code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'ENOENT'
            ? 'its directory cannot be created'
            : code === 'EISDIR'
              ? 'it is a directory'
              : code === 'ENOTDIR' || code === 'EEXIST'
                ? 'a part of its path is a file, not a directory'
                : code === 'EROFS'
                  ? 'read-only file system'
                  : (err as Error).message;
      throw new AuditLogError(this.file, reason);
    }
  }

  write(entry: Record<string, unknown>): void {
    if (this.failed) return;
    try {
      this.append(this.line(entry));
    } catch (err) {
      this.failed = true;
      process.stderr.write(
        `warning: cannot write the audit log ${this.file}: ${(err as Error).message}; use ` +
          `--log-file to choose another path\n`,
      );
    }
  }

  mutation(m: Mutation): void {
    this.write({ type: 'mutation', ...m });
  }
}
