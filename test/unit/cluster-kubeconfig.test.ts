import { afterAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadKubeConfig } from '../../src/cluster/kubeconfig.js';
import { ClusterError } from '../../src/cluster/errors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-kubeconfig-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

const cluster =
  'clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]\nusers: [{name: u, user: {token: t}}]\n';

function errorOf(opts: { kubeconfig: string; context?: string }): ClusterError {
  try {
    loadKubeConfig(opts);
  } catch (err) {
    if (err instanceof ClusterError) return err;
    throw err;
  }
  throw new Error('loadKubeConfig accepted the file');
}

describe('kubeconfig faults: one clear message with a fix, never JavaScript internals', () => {
  const cases: Array<[string, () => { kubeconfig: string; context?: string }, RegExp]> = [
    ['missing', () => ({ kubeconfig: path.join(dir, 'nope') }), /kubeconfig file .*nope does not exist/],
    ['empty', () => ({ kubeconfig: file('empty', '') }), /kubeconfig .*empty is empty/],
    ['a directory', () => ({ kubeconfig: dir }), /is a directory, not a file/],
    [
      'not YAML',
      () => ({ kubeconfig: file('bad', 'clusters: [\n  - {name: c\n:::') }),
      /is not valid YAML \(line \d+, column \d+\)/,
    ],
    ['a YAML scalar', () => ({ kubeconfig: file('scalar', 'hello') }), /is not a kubeconfig/],
    ['no contexts', () => ({ kubeconfig: file('nocontexts', `${cluster}contexts: []\n`) }), /defines no contexts/],
    [
      'no current-context',
      () => ({ kubeconfig: file('nocurrent', `${cluster}contexts: [{name: x, context: {cluster: c, user: u}}]\n`) }),
      /sets no current-context/,
    ],
    [
      'a current-context that does not exist',
      () => ({
        kubeconfig: file(
          'badcurrent',
          `${cluster}contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: gone\n`,
        ),
      }),
      /current-context "gone" is not one of its contexts/,
    ],
    [
      'an unknown --context',
      () => ({
        kubeconfig: file('ok', `${cluster}contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`),
        context: 'other',
      }),
      /context "other" not found in the kubeconfig; known contexts: x/,
    ],
  ];
  for (const [what, opts, message] of cases) {
    it(what, () => {
      const err = errorOf(opts());
      expect(err.kind).toBe('kubeconfig');
      expect(err.message).toMatch(message);
      expect(err.message).not.toMatch(/undefined|Cannot read|TypeError|reading '/);
      expect(err.hint).toMatch(/--kubeconfig|--context|kubectl config/);
    });
  }
});
