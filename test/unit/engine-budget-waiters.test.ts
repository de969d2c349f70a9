/**
 * The waiters of evictions that a PodDisruptionBudget refused: released as the budget's
 * status.disruptionsAllowed allows, oldest first, over one watch per budget. The watch is a fake
 * (this is the release logic alone); test/e2e/migrate-faults.test.ts runs it against the real API server.
 */
import { describe, expect, it } from '@jest/globals';
import type { ClusterClient, KubeObject } from '../../src/cluster/index.js';
import { BudgetWaiters } from '../../src/engine/drain.js';

interface FakeWatch {
  fieldSelector?: string;
  onList?: (items: KubeObject[]) => boolean;
  onEvent: (type: string, obj: KubeObject) => boolean;
  signal: AbortSignal;
}

function fakeClient(): { client: ClusterClient; watches: FakeWatch[] } {
  const watches: FakeWatch[] = [];
  const client = {
    watchUntil: (
      _apiVersion: string,
      _kind: string,
      opts: { fieldSelector?: string; signal: AbortSignal; onList?: (items: KubeObject[]) => boolean },
      onEvent: FakeWatch['onEvent'],
    ) => {
      watches.push({ fieldSelector: opts.fieldSelector, onList: opts.onList, onEvent, signal: opts.signal });
      return new Promise<boolean>((resolve) => opts.signal.addEventListener('abort', () => resolve(false)));
    },
  } as unknown as ClusterClient;
  return { client, watches };
}

const pdb = (allowed: number, resourceVersion: string): KubeObject => ({
  metadata: { name: 'api', namespace: 'apps', resourceVersion },
  status: { disruptionsAllowed: allowed },
});
const tick = () => new Promise((resolve) => setImmediate(resolve));
const HOUR = 3600_000;

describe('BudgetWaiters', () => {
  it('releases as many waiters as the budget allows, oldest first, over one watch', async () => {
    const { client, watches } = fakeClient();
    const waiters = new BudgetWaiters(client, 0);
    const stop = new AbortController();
    const released: string[] = [];
    const wait = (who: string) => waiters.wait('apps', 'api', HOUR, stop.signal).then(() => released.push(who));
    const all = [wait('a'), wait('b'), wait('c')];
    expect(watches).toHaveLength(1);
    expect(watches[0].fieldSelector).toBe('metadata.name=api');
    watches[0].onList?.([pdb(0, '1')]);
    await tick();
    expect(released).toEqual([]);
    watches[0].onEvent('MODIFIED', pdb(1, '2'));
    await tick();
    expect(released).toEqual(['a']);
    expect(waiters.allowed('apps', 'api')).toBe(1);
    watches[0].onEvent('MODIFIED', pdb(2, '3'));
    await Promise.all(all);
    expect(released).toEqual(['a', 'b', 'c']);
    stop.abort();
    waiters.close();
  });

  it('does not release a waiter again on the status that released it last time', async () => {
    const { client, watches } = fakeClient();
    const waiters = new BudgetWaiters(client, 0);
    const stop = new AbortController();
    let released = false;
    const pending = waiters.wait('apps', 'api', HOUR, stop.signal, '7').then(() => {
      released = true;
    });
    watches[0].onList?.([pdb(1, '7')]);
    await tick();
    expect(released).toBe(false);
    watches[0].onEvent('MODIFIED', pdb(1, '8'));
    await pending;
    expect(released).toBe(true);
    waiters.close();
  });

  it('a deleted budget releases everyone; Ctrl-C and the fallback delay release a waiter without it', async () => {
    const { client, watches } = fakeClient();
    const waiters = new BudgetWaiters(client, 0);
    const stop = new AbortController();
    const gone = waiters.wait('apps', 'api', HOUR, stop.signal);
    watches[0].onList?.([pdb(0, '1')]);
    watches[0].onEvent('DELETED', pdb(0, '2'));
    await gone;

    const interrupted = new AbortController();
    const other = waiters.wait('apps', 'other', HOUR, interrupted.signal);
    interrupted.abort();
    await other;

    const polled = waiters.wait('apps', 'third', 1, stop.signal);
    await polled;
    waiters.close();
    expect(watches.every((w) => w.signal.aborted)).toBe(true);
  });

  it('counts the evictions it lets go against the status they went on, so the next one waits', async () => {
    const { client, watches } = fakeClient();
    const waiters = new BudgetWaiters(client, HOUR);
    const stop = new AbortController();
    const api = { namespace: 'apps', name: 'api', disruptionsAllowed: 1 };
    const listing = {};
    // Not watched: the drain's list says 1; one eviction sent on it uses it up.
    expect(waiters.holding([api], listing)).toBeUndefined();
    waiters.evicting([api], listing);
    expect(waiters.holding([api], listing)).toEqual({ ...api, disruptionsAllowed: 0 });
    // A newer list of the budgets is a new basis.
    expect(waiters.holding([api], {})).toBeUndefined();
    // Watched: a waiter let go on a status counts against it, until the next status.
    const first = waiters.wait('apps', 'api', HOUR, stop.signal);
    watches[0].onList?.([pdb(1, '5')]);
    await first;
    expect(waiters.holding([api], listing)).toEqual({ ...api, disruptionsAllowed: 0 });
    let second = false;
    const pending = waiters.wait('apps', 'api', HOUR, stop.signal).then(() => {
      second = true;
    });
    await tick();
    expect(second).toBe(false);
    watches[0].onEvent('MODIFIED', pdb(1, '6'));
    await pending;
    expect(second).toBe(true);
    watches[0].onEvent('MODIFIED', pdb(1, '7'));
    expect(waiters.holding([api], listing)).toBeUndefined();
    waiters.close();
  });

  it('stops watching a budget nobody waits on', async () => {
    const { client, watches } = fakeClient();
    const waiters = new BudgetWaiters(client, 0);
    const stop = new AbortController();
    const pending = waiters.wait('apps', 'api', HOUR, stop.signal);
    watches[0].onList?.([pdb(1, '1')]);
    await pending;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(watches[0].signal.aborted).toBe(true);
    // A later waiter starts a new watch.
    const again = waiters.wait('apps', 'api', HOUR, stop.signal);
    expect(watches).toHaveLength(2);
    watches[1].onList?.([pdb(1, '2')]);
    await again;
    waiters.close();
  });
});
