import type { Command } from 'commander';
import { CliError, ExitCode } from '../exit.js';
import { action } from '../main.js';

export function registerRevert(program: Command): void {
  const cmd = program.command('revert');
  cmd
    .description('move nodes back to flannel (not available yet)')
    .addHelpText('after', '\nExample:\n  flannel2calico revert --node worker-1\n')
    .action(action(program, 'revert', async () => {
      throw new CliError('"revert" is not available in this version yet', ExitCode.failure, 'See docs/ for what this version supports.');
    }));
  cmd.option('--node <name>', 'revert only this node');
}
