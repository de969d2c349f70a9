import { describe, expect, it } from '@jest/globals';
import { NODE_STEPS, REVERT_STEPS } from '../../src/engine/events.js';
import { nodeSummaryMessage, parseNodeSummary } from '../../src/engine/node-summary.js';

describe("a node's summary Event message", () => {
  it('names each step with its duration in tenths of a second, in the order given', () => {
    expect(
      nodeSummaryMessage('migrate', 15_149, [
        { step: 'cordon', ms: 120 },
        { step: 'drain', ms: 6_060 },
        { step: 'stop-flannel', ms: 3_500 },
      ]),
    ).toBe('migrated to Calico in 15.1 s: cordon 0.1 s, drain 6.1 s, stop flannel (label network=none) 3.5 s');
  });

  it('reads back every step of either operation, titles with parentheses and apostrophes included', () => {
    for (const [operation, steps] of [
      ['migrate', NODE_STEPS],
      ['revert', REVERT_STEPS],
    ] as const) {
      const listed = steps.map((step, i) => ({ step, ms: (i + 1) * 1_300 }));
      const message = nodeSummaryMessage(operation, 99_900, listed);
      expect(parseNodeSummary(operation, steps, message)).toEqual({ totalMs: 99_900, steps: listed });
    }
  });

  it('is not mistaken for another message', () => {
    expect(parseNodeSummary('migrate', NODE_STEPS, 'cordon: done')).toBeUndefined();
    expect(parseNodeSummary('revert', REVERT_STEPS, 'migrated to Calico in 1.0 s: cordon 1.0 s')).toBeUndefined();
    expect(parseNodeSummary('migrate', NODE_STEPS, 'migrated to Calico in 1.0 s: cordon 1.0 s, reboot 2.0 s')).toBe(
      undefined,
    );
  });
});
