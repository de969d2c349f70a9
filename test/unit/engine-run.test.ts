import { describe, expect, it } from '@jest/globals';
import { MIGRATION_LABEL } from '../../src/names.js';
import { NODE_STEPS } from '../../src/engine/events.js';
import { fakeCluster, migrate, nodeObject, nodeState, plan, stepsStarted } from './engine-fixtures.js';

describe('a migration run against the in-memory cluster', () => {
  it('moves every planned node through every step and records it', async () => {
    const cluster = fakeCluster([nodeObject('a'), nodeObject('b')]);
    const { outcome, recorded } = await migrate(cluster, plan([['a'], ['b']]));
    expect(outcome).toMatchObject({ status: 'completed', migrated: ['a', 'b'], skipped: [], notInPlan: [] });
    for (const n of ['a', 'b']) {
      expect(stepsStarted(recorded, n)).toEqual(NODE_STEPS);
      expect(nodeState(cluster, n)?.completed).toEqual(NODE_STEPS);
      expect(cluster.peek('Node', n)?.metadata?.labels?.[MIGRATION_LABEL]).toBe('calico');
    }
  });
});
