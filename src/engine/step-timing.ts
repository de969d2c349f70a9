import { AsyncLocalStorage } from 'node:async_hooks';
import { sleep } from '../cluster/index.js';

/**
 * Where a step's wall time goes: waiting on the cluster (evictions the budgets hold back, pods
 * terminating, calico-node starting, Jobs running: the inherent part), pausing before a retry, or
 * the tool's own work (requests and computation): the rest of the step's elapsed time.
 */
export interface StepTime {
  waitedMs: number;
  pausedMs: number;
}

/**
 * Accrues wall time to "waiting" while any wait runs, else to "pausing" while any pause runs; concurrent waits count
 * once.
 */
export class StepClock implements StepTime {
  waitedMs = 0;
  pausedMs = 0;
  private waits = 0;
  private pauses = 0;
  private since: number;

  constructor(private readonly now: () => number = Date.now) {
    this.since = now();
  }

  private accrue(): void {
    const now = this.now();
    if (this.waits) this.waitedMs += now - this.since;
    else if (this.pauses) this.pausedMs += now - this.since;
    this.since = now;
  }

  async during<T>(kind: 'wait' | 'pause', fn: () => Promise<T>): Promise<T> {
    this.accrue();
    if (kind === 'wait') this.waits++;
    else this.pauses++;
    try {
      return await fn();
    } finally {
      this.accrue();
      if (kind === 'wait') this.waits--;
      else this.pauses--;
    }
  }
}

const clocks = new AsyncLocalStorage<StepClock>();

/** Runs a step with its own clock; the waits and pauses below it (however deep) are accrued to it. */
export function timeStep<T>(clock: StepClock, fn: () => Promise<T>): Promise<T> {
  return clocks.run(clock, fn);
}

/** Marks time spent waiting for the cluster to reach a state (a watch, not the tool's work). */
export function waitingOnCluster<T>(fn: () => Promise<T>): Promise<T> {
  const clock = clocks.getStore();
  return clock ? clock.during('wait', fn) : fn();
}

/** A pause before a retry: the tool's own time. Resolves early when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  const clock = clocks.getStore();
  return clock ? clock.during('pause', () => sleep(ms, signal)) : sleep(ms, signal);
}
