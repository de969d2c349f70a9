import type { Command } from 'commander';
import { CliError, ExitCode } from '../exit.js';
import { action } from '../main.js';

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('(not available yet)')
    .action(action(program, 'plan', async () => {
      throw new CliError('"plan" is not available in this version yet', ExitCode.failure);
    }));
}
