import { describe, expect, it } from '@jest/globals';
import { normalizeDryRun } from '../../src/cli/main.js';
import { parsePositiveDuration } from '../../src/cli/plan-options.js';

const argv = (...args: string[]) => ['node', 'flannel2calico', ...args];

describe('--dry-run before or after the command', () => {
  it('a bare --dry-run means client and leaves the command name alone', () => {
    expect(normalizeDryRun(argv('--dry-run', 'migrate', '--yes'))).toEqual(
      argv('--dry-run=client', 'migrate', '--yes'),
    );
    expect(normalizeDryRun(argv('migrate', '--dry-run'))).toEqual(argv('migrate', '--dry-run=client'));
    expect(normalizeDryRun(argv('migrate', '--dry-run', '--yes'))).toEqual(
      argv('migrate', '--dry-run=client', '--yes'),
    );
  });
  it('--dry-run server and --dry-run=server keep their mode', () => {
    expect(normalizeDryRun(argv('--dry-run', 'server', 'migrate'))).toEqual(argv('--dry-run', 'server', 'migrate'));
    expect(normalizeDryRun(argv('--dry-run=server', 'migrate'))).toEqual(argv('--dry-run=server', 'migrate'));
  });
});

describe('timeouts', () => {
  it('refuses 0, negative and garbage values', () => {
    for (const bad of ['0', '0s', '-5s', 'abc', '5x', ''])
      expect(() => parsePositiveDuration(bad, '--step-timeout')).toThrow(/--step-timeout/);
    expect(parsePositiveDuration('90s', '--step-timeout')).toBe(90);
    expect(parsePositiveDuration('2m', '--step-timeout')).toBe(120);
  });
});
