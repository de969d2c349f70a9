import { describe, expect, it } from '@jest/globals';
import { forEachLimited } from '../../src/engine/concurrency.js';
import { StepClock, pause, timeStep, waitingOnCluster } from '../../src/engine/step-timing.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('forEachLimited', () => {
  it('never has more than `limit` calls in flight and visits every item once', async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    await forEachLimited([...Array(25).keys()], 4, async (item) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await tick();
      seen.push(item);
      inFlight--;
    });
    expect(most).toBe(4);
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(25).keys()]);
  });

  it('rejects with the first error and starts no call after it', async () => {
    const started: number[] = [];
    const run = forEachLimited([0, 1, 2, 3, 4, 5], 2, async (item) => {
      started.push(item);
      if (item === 1) throw new Error('node 1 failed');
      await tick();
    });
    await expect(run).rejects.toThrow('node 1 failed');
    expect(started).toEqual([0, 1]);
  });
});

describe('step timing', () => {
  it('counts concurrent waits once, and pauses only where nothing waits', async () => {
    let now = 0;
    const clock = new StepClock(() => now);
    const gates: Array<() => void> = [];
    const gate = () => new Promise<void>((resolve) => gates.push(resolve));
    await timeStep(clock, async () => {
      now = 10; // tool work before the waits
      const waits = Promise.all([waitingOnCluster(gate), waitingOnCluster(gate), waitingOnCluster(gate)]);
      await tick();
      now = 50;
      gates[0]();
      await tick();
      now = 70;
      gates[1]();
      gates[2]();
      await waits;
      const paused = clock.during('pause', gate);
      await tick();
      now = 100;
      gates[3]();
      await paused;
      now = 105;
    });
    // Three overlapping waits from 10 to 70 are 60 ms of waiting, not 140; the pause 70 to 100 is 30 ms.
    expect(clock.waitedMs).toBe(60);
    expect(clock.pausedMs).toBe(30);
  });

  it('counts a pause that overlaps a wait as waiting', async () => {
    let now = 0;
    const clock = new StepClock(() => now);
    const gates: Array<() => void> = [];
    const gate = () => new Promise<void>((resolve) => gates.push(resolve));
    await timeStep(clock, async () => {
      const paused = clock.during('pause', gate);
      const waited = waitingOnCluster(gate);
      await tick();
      now = 40;
      gates[1]();
      await waited;
      now = 50;
      gates[0]();
      await paused;
    });
    expect(clock).toMatchObject({ waitedMs: 40, pausedMs: 10 });
  });

  it('accrues nothing outside a timed step', async () => {
    const clock = new StepClock();
    await waitingOnCluster(() => new Promise((resolve) => setTimeout(resolve, 5)));
    await pause(1);
    expect(clock).toMatchObject({ waitedMs: 0, pausedMs: 0 });
  });
});
