import type { Answer, Confirmation } from '../engine/run-context.js';
import type { CommandContext } from './context.js';
import { CliError, ExitCode } from './exit.js';

/**
 * The one place that asks the operator anything. With --yes every question is answered yes;
 * without a terminal and without --yes the command refuses (exit 2) instead of hanging.
 */
export function makeConfirm(ctx: CommandContext): (c: Confirmation) => Promise<Answer> {
  return async (c) => {
    ctx.stopProgress();
    if (ctx.opts.yes) return c.allowAll ? 'all' : 'yes';
    if (!ctx.interactive) {
      throw new CliError(
        'confirmation needed but there is no terminal to ask on',
        ExitCode.usage,
        'Rerun with --yes to confirm every step (e.g. in CI), or run it in a terminal.',
      );
    }
    // Loaded only when a person is asked: --yes and CI runs do without its memory.
    const { default: inquirer } = await import('inquirer');
    if (c.allowAll) {
      const { answer } = await inquirer.prompt<{ answer: Answer }>(
        [
          {
            type: 'select',
            name: 'answer',
            message: c.message,
            choices: [
              { name: 'yes', value: 'yes' },
              { name: 'yes to all remaining batches', value: 'all' },
              { name: 'no, stop here (the migration can be resumed later)', value: 'no' },
            ],
          },
        ],
        { output: process.stderr } as any,
      );
      return answer;
    }
    const { ok } = await inquirer.prompt<{ ok: boolean }>(
      [{ type: 'confirm', name: 'ok', message: c.message, default: false }],
      { output: process.stderr } as any,
    );
    return ok ? 'yes' : 'no';
  };
}

/** Refuses early, before anything is read or changed, when confirmations will be needed but cannot be asked. */
export function requireConfirmable(ctx: CommandContext): void {
  if (!ctx.opts.yes && !ctx.interactive && ctx.opts.dryRun !== 'client') {
    throw new CliError(
      'this command changes the cluster and needs confirmations, but there is no terminal to ask on',
      ExitCode.usage,
      'Rerun with --yes to confirm every step (e.g. in CI), or with --dry-run=client to only print the steps.',
    );
  }
}
