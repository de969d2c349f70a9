/**
 * The repository stands alone: a copy of it in an empty temporary folder, with nothing beside it,
 * runs an end-to-end suite (the real CLI against the test bed, with flannel installed from the
 * repository's own fixtures), and no file of the project names a folder outside it.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The project's files as a clone has them: tracked, plus new files git does not ignore. */
function projectFiles(): string[] {
  const r = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  return r.stdout.split('\0').filter((f) => f && fs.existsSync(path.join(repoRoot, f)));
}

describe('a copy of the repository with nothing beside it', () => {
  let parent = '';
  let copy = '';

  beforeAll(() => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-standalone-'));
    copy = path.join(parent, 'flannel2calico');
    for (const file of projectFiles()) {
      fs.mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
      fs.copyFileSync(path.join(repoRoot, file), path.join(copy, file));
    }
    // The built CLI (npm test builds it first) and the installed packages, as `npm ci && npm run build` leave them.
    fs.cpSync(path.join(repoRoot, 'dist'), path.join(copy, 'dist'), { recursive: true });
    fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
  });

  afterAll(() => {
    if (parent) fs.rmSync(parent, { recursive: true, force: true });
  });

  it('has no file that names a folder outside the repository', () => {
    const outside = /\.\.\/shared\b|\bshared\/fixtures\b/;
    const offenders = projectFiles()
      .filter((f) => !f.startsWith('test/fixtures/') && !f.endsWith('package-lock.json'))
      .filter((f) => {
        const text = fs.readFileSync(path.join(repoRoot, f));
        return !text.includes(0) && outside.test(text.toString('utf8'));
      });
    expect(offenders).toEqual([]);
  });

  it('ships the upstream fixtures the tests, benchmarks and demo read', () => {
    for (const f of [
      'flannel-v0.28.9/kube-flannel.yml',
      'calico-v3.32.1/flannel-migration-calico.yaml',
      'calico-v3.32.1/canal.yaml',
      'calico-v3.32.1/crds/crd.projectcalico.org_ippools.yaml',
      'flanneld-v0.28.10-node-state/node-annotations.json',
      'README.md',
    ]) {
      expect(fs.existsSync(path.join(copy, 'test/fixtures', f))).toBe(true);
    }
  });

  it("runs an end-to-end suite from the copy (detect against the test bed, flannel from the copy's fixtures)", () => {
    const env = { ...process.env };
    delete env.FIXTURES_DIR;
    const report = path.join(parent, 'report.json');
    const r = spawnSync(
      process.execPath,
      [
        '--experimental-vm-modules',
        '--disable-warning=ExperimentalWarning',
        'node_modules/jest/bin/jest.js',
        'test/e2e/detect.test.ts',
        '-t',
        'detect: upstream flannel',
        '--json',
        `--outputFile=${report}`,
      ],
      { cwd: copy, env, encoding: 'utf8', timeout: 360_000 },
    );
    const output = `${r.stdout}\n${r.stderr}`;
    expect({ status: r.status, tail: r.status === 0 ? '' : output.slice(-4000) }).toEqual({ status: 0, tail: '' });
    const results = JSON.parse(fs.readFileSync(report, 'utf8')) as {
      numPassedTests: number;
      numFailedTests: number;
      testResults: Array<{ name: string }>;
    };
    expect(results.numFailedTests).toBe(0);
    expect(results.numPassedTests).toBeGreaterThan(5);
    // The suite ran from the copy, not from this checkout.
    expect(results.testResults.every((s) => s.name.startsWith(copy))).toBe(true);
  }, 400_000);
});
