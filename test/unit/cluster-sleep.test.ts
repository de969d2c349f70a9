import { getEventListeners } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { sleep } from '../../src/cluster/client.js';

describe('sleep with an abort signal', () => {
  it(
    'leaves no abort listener behind, however many times it is called (no ' +
      'MaxListenersExceededWarning on long PDB waits)',
    async () => {
      const controller = new AbortController();
      for (let i = 0; i < 25; i++) await sleep(1, controller.signal);
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    },
  );

  it('adds no listener to a signal that has already aborted, and removes its own when the signal aborts', async () => {
    const controller = new AbortController();
    const pending = sleep(60_000, controller.signal);
    controller.abort();
    await pending;
    await sleep(50, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
