import { describe, expect, it } from '@jest/globals';
import { InFlightLimit, TokenBucket } from '../../src/cluster/rate-limit.js';

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

describe('requests in flight', () => {
  it('sends at most max at once; the next goes, in arrival order, as soon as one returns', async () => {
    const limit = new InFlightLimit(2);
    const sent: number[] = [];
    const finish: Array<() => void> = [];
    let inFlight = 0;
    let most = 0;
    const request = async (i: number) => {
      const release = await limit.acquire();
      sent.push(i);
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((resolve) => finish.push(resolve));
      inFlight--;
      release();
    };
    const all = Promise.all([0, 1, 2, 3, 4].map(request));
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([0, 1]);
    finish.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([0, 1, 2]);
    while (finish.length) {
      finish.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    await all;
    expect(sent).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
  });

  it('frees a slot once, however often its release is called', async () => {
    const limit = new InFlightLimit(1);
    const release = await limit.acquire();
    release();
    release();
    await limit.acquire();
    let third = false;
    void limit.acquire().then(() => (third = true));
    await new Promise((r) => setImmediate(r));
    expect(third).toBe(false);
  });
});
