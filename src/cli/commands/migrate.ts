import type { Command } from 'commander';
import { CliError, ExitCode } from '../exit.js';
import { action } from '../main.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('(not available yet)')
    .action(action(program, 'migrate', async () => {
      throw new CliError('"migrate" is not available in this version yet', ExitCode.failure);
    }));
}
