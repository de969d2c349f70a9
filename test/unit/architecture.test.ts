import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

// The import rules `npm run lint` checks (.dependency-cruiser.cjs, docs/architecture.md): src/ keeps
// them, and a tree that breaks each of them is reported.
const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const config = path.join(repoRoot, '.dependency-cruiser.cjs');
const depcruise = path.join(repoRoot, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

function cruise(cwd: string): Violation[] {
  let out: string;
  try {
    out = execFileSync(process.execPath, [depcruise, 'src', '--config', config, '--output-type', 'json'], {
      cwd,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    // depcruise exits non-zero when it finds errors; the report is on stdout all the same.
    out = String((err as { stdout?: string }).stdout ?? '');
    if (!out) throw err;
  }
  return (JSON.parse(out) as { summary: { violations: Violation[] } }).summary.violations;
}

const BROKEN: Record<string, string> = {
  'tsconfig.json': JSON.stringify({
    compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true },
    include: ['src'],
  }),
  // names, the bottom layer, imports the engine: an upward import, and with run.ts a cycle.
  'src/names.ts': `import { run } from './engine/run.js';\nexport const NAME = 'x';\nexport const USE = run;\n`,
  'src/engine/run.ts': `import { NAME } from '../names.js';\nexport const run = () => NAME;\n`,
  // Two modules of one layer that import each other.
  'src/plan/a.ts':
    `import { b } from './b.js';\nimport type { K } from '../flannel/read.js';\nexport const ` +
    `a = (k?: K) => b(k);\n`,
  'src/plan/b.ts': `import { a } from './a.js';\nexport const b = (k?: unknown) => (k ? a() : 1);\n`,
  // The Kubernetes client and a terminal library outside the layers allowed to use them.
  'src/flannel/read.ts':
    `import type { KubeConfig } from '@kubernetes/client-node';\nimport chalk from ` +
    `'chalk';\nexport type K = KubeConfig;\nexport const red = chalk.red;\n`,
  // Imported by nothing.
  'src/plan/dead.ts': `import { NAME } from '../names.js';\nexport const dead = NAME;\n`,
  'src/cli/main.ts':
    `import { run } from '../engine/run.js';\nimport { a } from '../plan/a.js';\nexport const ` +
    `main = () => [run(), a()];\n`,
  'src/cli/reference.ts': `export const reference = '';\n`,
};

describe('the import rules of src/', () => {
  let dir: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-layers-'));
    for (const [file, text] of Object.entries(BROKEN)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    }
    fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  });

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('hold in src/', () => {
    expect(cruise(repoRoot)).toEqual([]);
  });

  it('report an upward import, a cycle, a forbidden library and a module nothing reaches', () => {
    const found = cruise(dir).map(
      (v) => `${v.rule.name}: ${v.from} -> ${v.to.replace(/^.*node_modules\//, 'node_modules/')}`,
    );
    expect(found).toEqual(
      expect.arrayContaining([
        'layer-names: src/names.ts -> src/engine/run.ts',
        'no-circular: src/engine/run.ts -> src/names.ts',
        'no-circular: src/plan/a.ts -> src/plan/b.ts',
        'no-unreachable: src/plan/dead.ts -> src/plan/dead.ts',
      ]),
    );
    expect(
      found.some((f) =>
        f.startsWith('kubernetes-client-only-in-cluster: src/flannel/read.ts -> node_modules/@kubernetes/client-node/'),
      ),
    ).toBe(true);
    expect(
      found.some((f) => f.startsWith('terminal-libraries-only-in-cli: src/flannel/read.ts -> node_modules/chalk/')),
    ).toBe(true);
    // Nothing else: the allowed imports (cli -> engine, plan -> flannel, engine -> names) pass.
    expect(found).toHaveLength(6);
  });
});
