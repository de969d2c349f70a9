import { describe, it, expect } from '@jest/globals';
import { formatDuration, parseDuration } from '../../src/duration.js';

describe('parseDuration', () => {
  it('reads seconds, minutes, hours and bare seconds', () => {
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('5m')).toBe(300);
    expect(parseDuration('1h')).toBe(3600);
    expect(parseDuration(' 300 ')).toBe(300);
    expect(parseDuration('0')).toBe(0);
  });

  it('refuses anything else', () => {
    for (const bad of ['', '5 m', '1.5m', '-5s', '5d', 'm', '5ms']) expect(parseDuration(bad)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it('uses the largest unit that divides the seconds', () => {
    expect(formatDuration(7200)).toBe('2h');
    expect(formatDuration(600)).toBe('10m');
    expect(formatDuration(5400)).toBe('90m');
    expect(formatDuration(90)).toBe('90s');
  });

  it('says "no limit" for zero or less', () => {
    expect(formatDuration(0)).toBe('no limit');
    expect(formatDuration(-1)).toBe('no limit');
  });

  it('is read back by parseDuration', () => {
    for (const seconds of [1, 59, 60, 61, 3599, 3600, 86400]) expect(parseDuration(formatDuration(seconds))).toBe(seconds);
  });
});
