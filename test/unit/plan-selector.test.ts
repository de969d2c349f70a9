import { describe, expect, it } from '@jest/globals';
import { formatSelector, selectorMatches } from '../../src/plan/selector.js';

const labels = { app: 'web', tier: 'frontend', track: 'stable' };

describe('selectorMatches', () => {
  it('matches when every matchLabels entry is present with the same value', () => {
    expect(selectorMatches({ matchLabels: { app: 'web' } }, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'web', tier: 'frontend' } }, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'api' } }, labels)).toBe(false);
    expect(selectorMatches({ matchLabels: { app: 'web', env: 'prod' } }, labels)).toBe(false);
  });

  it('treats an empty selector as everything and a missing one as nothing (policy/v1)', () => {
    expect(selectorMatches({}, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: {}, matchExpressions: [] }, {})).toBe(true);
    expect(selectorMatches(undefined, labels)).toBe(false);
    expect(selectorMatches(null, labels)).toBe(false);
  });

  it('In holds only for a present key with a listed value', () => {
    expect(
      selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['frontend', 'backend'] }] }, labels),
    ).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['backend'] }] }, labels)).toBe(
      false,
    );
    expect(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] }, labels)).toBe(
      false,
    );
  });

  it('NotIn holds for an absent key or an unlisted value', () => {
    expect(
      selectorMatches({ matchExpressions: [{ key: 'track', operator: 'NotIn', values: ['canary'] }] }, labels),
    ).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, labels)).toBe(
      true,
    );
    expect(
      selectorMatches({ matchExpressions: [{ key: 'track', operator: 'NotIn', values: ['stable'] }] }, labels),
    ).toBe(false);
  });

  it('Exists and DoesNotExist look at the key only', () => {
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'Exists' }] }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'empty', operator: 'Exists' }] }, { empty: '' })).toBe(true);
  });

  it('requires matchLabels and every expression together', () => {
    const selector = {
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['frontend'] },
        { key: 'track', operator: 'NotIn', values: ['canary'] },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    };
    expect(selectorMatches(selector, labels)).toBe(true);
    expect(selectorMatches(selector, { ...labels, legacy: 'yes' })).toBe(false);
    expect(selectorMatches(selector, { ...labels, track: 'canary' })).toBe(false);
    expect(selectorMatches(selector, { tier: 'frontend' })).toBe(false);
  });

  it('selects nothing with an unknown operator and handles pods without labels', () => {
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'Gt', values: ['1'] }] }, labels)).toBe(false);
    expect(selectorMatches({ matchLabels: { app: 'web' } }, undefined)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, undefined)).toBe(true);
  });

  it('agrees with a brute-force reading of the rules over many random selectors', () => {
    const keys = ['a', 'b', 'c'];
    const values = ['1', '2'];
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const pickFrom = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
    for (let i = 0; i < 500; i++) {
      const podLabels: Record<string, string> = {};
      for (const k of keys) if (rnd() < 0.6) podLabels[k] = pickFrom(values);
      const op = pickFrom(['In', 'NotIn', 'Exists', 'DoesNotExist']);
      const key = pickFrom(keys);
      const vals = values.filter(() => rnd() < 0.5);
      const present = key in podLabels;
      const expected =
        op === 'In'
          ? present && vals.includes(podLabels[key])
          : op === 'NotIn'
            ? !present || !vals.includes(podLabels[key])
            : op === 'Exists'
              ? present
              : !present;
      expect(selectorMatches({ matchExpressions: [{ key, operator: op, values: vals }] }, podLabels)).toBe(expected);
    }
  });
});

describe('formatSelector', () => {
  it('renders like kubectl', () => {
    expect(
      formatSelector({
        matchLabels: { app: 'web' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['a', 'b'] },
          { key: 'x', operator: 'DoesNotExist' },
        ],
      }),
    ).toBe('app=web,tier in (a,b),!x');
    expect(formatSelector({})).toBe('<everything>');
    expect(formatSelector(undefined)).toBe('<none>');
  });
});
