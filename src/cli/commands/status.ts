import { Command } from 'commander';
import { action } from '../action.js';

export function statusCommand(): Command {
  const cmd = new Command('status');
  cmd
    .description('show where the migration and every node stand (read-only)')
    .option('--node <name>', 'one node, with its step history from the Events')
    .option('--watch', 'redraw as the cluster changes; ends when the active run ends')
    .option('--all', 'list every node (text output cuts quiet groups of more than 20 nodes short)')
    .addHelpText(
      'after',
      `
Examples:
  flannel2calico status                  phase, lock, counts, time left, nodes grouped by state
  flannel2calico status --node worker-1  one node and its step history
  flannel2calico status --watch          follow the active run until it ends
  flannel2calico status -o json          the versioned document described in docs/status.md

Needs only get, list and watch rights (nodes, pods, daemonsets, configmaps, leases, events).`,
    )
    .action(action('status', async (ctx, options) => (await import('./status-run.js')).runStatus(ctx, options)));
  return cmd;
}
