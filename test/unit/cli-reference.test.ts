import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { buildProgram } from '../../src/cli/main.js';
import { renderCommandReference } from '../../src/cli/reference.js';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

describe('docs/commands.md', () => {
  it('is what the command definitions generate (run `npm run docs:commands` when this fails)', () => {
    const committed = fs.readFileSync(path.join(repoRoot, 'docs/commands.md'), 'utf8');
    expect(committed).toBe(renderCommandReference(buildProgram()));
  });

  it("shows the global options in every subcommand's help", () => {
    const reference = renderCommandReference(buildProgram());
    for (const section of reference.split(/^## /m).slice(2)) {
      expect(section).toMatch(/Global Options:[\s\S]*--kubeconfig <file>[\s\S]*-o, --output <format>[\s\S]*-y, --yes/);
    }
  });
});
