#!/usr/bin/env node
// Writes docs/commands.md from the commander definitions (run `npm run build` first).
// --check: exit 1 if the file is not what the definitions generate.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { buildProgram } = await import(path.join(root, 'dist/cli/main.js'));
const { renderCommandReference } = await import(path.join(root, 'dist/cli/reference.js'));
const file = path.join(root, 'docs/commands.md');
const text = renderCommandReference(buildProgram());
if (process.argv.includes('--check')) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (current !== text) {
    process.stderr.write('docs/commands.md is stale: run `npm run docs:commands` and commit the result\n');
    process.exit(1);
  }
  process.stdout.write('docs/commands.md is up to date\n');
} else {
  fs.writeFileSync(file, text);
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
