import type { Command } from 'commander';
import { CliError, ExitCode } from '../exit.js';
import { action } from '../main.js';

export function registerDetect(program: Command): void {
  program
    .command('detect')
    .description('(not available yet)')
    .action(action(program, 'detect', async () => {
      throw new CliError('"detect" is not available in this version yet', ExitCode.failure);
    }));
}
