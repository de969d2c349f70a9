/** Exit codes, documented in docs/cli.md. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  preflightFailed: 3,
  resumable: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the operator caused or can fix: printed as one line plus a hint, never with a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.failure,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.usage, hint);
    this.name = 'UsageError';
  }
}
