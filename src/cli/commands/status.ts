import type { Command } from 'commander';
import { CliError, ExitCode } from '../exit.js';
import { action } from '../main.js';

export function registerStatus(program: Command): void {
  const cmd = program.command('status');
  cmd
    .description('show where every node stands (not available yet)')
    .addHelpText('after', '\nExample:\n  flannel2calico status\n')
    .action(action(program, 'status', async () => {
      throw new CliError('"status" is not available in this version yet', ExitCode.failure, 'See docs/ for what this version supports.');
    }));

}
