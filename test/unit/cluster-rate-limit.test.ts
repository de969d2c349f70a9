import { describe, expect, it } from '@jest/globals';
import { TokenBucket } from '../../src/cluster/rate-limit.js';

describe('client-side rate limit (token bucket)', () => {
  it('lets a burst through at once, then one request per 1/qps, in arrival order', () => {
    let now = 1_000;
    const bucket = new TokenBucket(50, 100, () => now);
    const waits = Array.from({ length: 103 }, () => bucket.reserve());
    expect(waits.slice(0, 100)).toEqual(Array(100).fill(0));
    // The 101st waits 20 ms (1/50 s), the next ones 20 ms more each.
    expect(waits.slice(100)).toEqual([20, 40, 60]);
    now += 60;
    // The three reserved tokens have been paid back; the bucket is empty, so the next waits 20 ms.
    expect(bucket.reserve()).toBe(20);
  });

  it('refills at qps up to the burst, never beyond', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 5, () => now);
    for (let i = 0; i < 5; i++) expect(bucket.reserve()).toBe(0);
    expect(bucket.reserve()).toBe(100);
    now += 60_000;
    for (let i = 0; i < 5; i++) expect(bucket.reserve()).toBe(0);
    expect(bucket.reserve()).toBeGreaterThan(0);
  });

  it('refuses a limit that would block every request', () => {
    expect(() => new TokenBucket(0, 10)).toThrow(RangeError);
    expect(() => new TokenBucket(5, 0)).toThrow(RangeError);
  });
});
