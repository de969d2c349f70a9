import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { ExitCode, UsageError } from '../exit.js';
import { action } from '../action.js';

function write(file: string, text: string): void {
  try {
    fs.writeFileSync(file, text);
  } catch (err) {
    throw new UsageError(
      `--out-dir: cannot write ${file}: ${(err as Error).message}`,
      'Choose a directory you can write to.',
    );
  }
}

export function reportCommand(): Command {
  return new Command('report')
    .description(
      'write a report of the migration from what the cluster and the audit log recorded: what ' +
        'changed, node by node with the time of each step, where time went, warnings; changes ' +
        'nothing',
    )
    .option('--out-dir <dir>', 'write report.md, timeline.svg and report.json into this directory (created if missing)')
    .addHelpText(
      'after',
      `
Examples:
  flannel2calico report                                Markdown on stdout
  flannel2calico report --out-dir migration-report     report.md + timeline.svg (a row per node, a colour per step) + report.json
  flannel2calico report -o json                        the report as JSON (schemaVersion 1)
  flannel2calico report --log-file ci-audit.ndjson     use the audit log the migration wrote elsewhere

Step times come from the audit log (milliseconds) where it covers them, otherwise from each node's
Migrated Event (tenths of a second; Events expire after kube-apiserver's --event-ttl, 1 h by default).
Run it right after the migration, before finalize removes the per-node annotations.
Exit codes: 0 written, 1 the cluster could not be read, 2 bad flags.`,
    )
    .action(
      action('report', async (ctx: CommandContext, options) => {
        const [{ collectReport }, { renderMarkdown, renderTimelineSvg }] = await Promise.all([
          import('../../engine/report.js'),
          import('../../engine/report-render.js'),
        ]);
        const report = await collectReport(await ctx.connect(), ctx.audit.file);
        if (options.outDir) {
          const dir = path.resolve(String(options.outDir));
          try {
            fs.mkdirSync(dir, { recursive: true });
          } catch (err) {
            throw new UsageError(
              `--out-dir: cannot create ${dir}: ${(err as Error).message}`,
              'Choose a directory you can write to.',
            );
          }
          write(path.join(dir, 'report.md'), renderMarkdown(report, 'timeline.svg'));
          write(path.join(dir, 'timeline.svg'), renderTimelineSvg(report));
          write(path.join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
          if (ctx.opts.output === 'json') ctx.out(JSON.stringify(report, null, 2));
          else if (ctx.opts.output === 'yaml') ctx.stdout.write((await import('yaml')).stringify(report));
          else ctx.out(path.join(dir, 'report.md'));
          ctx.log(
            `report written: ${path.join(dir, 'report.md')} (timeline ` +
              `${path.join(dir, 'timeline.svg')}, data ${path.join(dir, 'report.json')})`,
          );
        } else if (ctx.opts.output === 'json') ctx.out(JSON.stringify(report, null, 2));
        else if (ctx.opts.output === 'yaml') ctx.stdout.write((await import('yaml')).stringify(report));
        else ctx.stdout.write(renderMarkdown(report));
        if (!report.record)
          ctx.log('No migration is recorded in this cluster yet; run `flannel2calico migrate` first.');
        return ExitCode.ok;
      }),
    );
}
