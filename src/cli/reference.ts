import type { Command } from 'commander';

const WIDTH = 100;

function helpOf(cmd: Command): string {
  // A fixed width keeps the page the same whatever terminal generates it.
  const previous = cmd.configureHelp();
  cmd.configureHelp({ ...previous, helpWidth: WIDTH });
  const chunks: string[] = [];
  cmd.configureOutput({
    ...cmd.configureOutput(),
    writeOut: (s: string) => {
      chunks.push(s);
    },
  });
  cmd.outputHelp();
  cmd.configureHelp(previous);
  return chunks.join('').trimEnd();
}

/** docs/commands.md: every command's --help, generated from the commander definitions. */
export function renderCommandReference(program: Command): string {
  const commands = program.commands.filter((c) => c.name() !== 'help');
  const lines = [
    '# Command reference',
    '',
    '<!-- Generated from the command definitions by `npm run docs:commands`; do not edit by hand. -->',
    '',
    `Every command's \`--help\`, as printed. Conventions, output formats and exit codes: [cli.md](cli.md).`,
    'Installed from the package, the same commands also run as a kubectl plugin: `kubectl flannel2calico status`.',
    '',
    ...commands.map((c) => `- [${c.name()}](#${c.name()})`),
    '',
    `## ${program.name()}`,
    '',
    '```text',
    helpOf(program),
    '```',
    '',
  ];
  for (const cmd of commands) lines.push(`## ${cmd.name()}`, '', '```text', helpOf(cmd), '```', '');
  return lines.join('\n');
}
