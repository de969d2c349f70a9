/**
 * One migration at a time: the Lease is taken, refused while another live run holds it, taken over once it is stale.
 */
import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../src/cluster/index.js';
import { LEASE_NAME, STATE_NAMESPACE } from '../../src/names.js';
import { LockHeldError, MigrationLock } from '../../src/engine/lock.js';
import { fakeCluster, migrate, nodeObject, nodeState, plan } from './engine-fixtures.js';
import { conflict, FakeCluster } from './fake-cluster.js';

const OTHER = 'someone@elsewhere.example/pid-4242';

function lease(holder: string, renewedSecondsAgo: number, durationSeconds = 30): KubeObject {
  const renewTime = new Date(Date.now() - renewedSecondsAgo * 1000).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: LEASE_NAME, namespace: STATE_NAMESPACE },
    spec: { holderIdentity: holder, leaseDurationSeconds: durationSeconds, acquireTime: renewTime, renewTime },
  };
}

const holder = (cluster: FakeCluster) => cluster.peek('Lease', LEASE_NAME, STATE_NAMESPACE)?.spec?.holderIdentity;

describe('MigrationLock', () => {
  it.each([
    ['no Lease', 'taken', [], undefined],
    ['a Lease held by a live run (renewed 5 s ago)', 'refused', [lease(OTHER, 5)], undefined],
    ['a stale Lease (not renewed for 2 min)', 'taken', [lease(OTHER, 120)], OTHER],
    [
      'a released Lease without holder',
      'taken',
      [{ ...lease(OTHER, 5), spec: { leaseDurationSeconds: 30 } }],
      undefined,
    ],
  ])('%s: %s', async (_what, expected, objects, tookOverFrom) => {
    const cluster = new FakeCluster(objects as KubeObject[]);
    const lock = new MigrationLock(cluster);
    if (expected === 'refused') {
      const err = await lock.acquire().catch((e: Error) => e);
      expect(err).toBeInstanceOf(LockHeldError);
      expect((err as LockHeldError).holder).toBe(OTHER);
      expect((err as Error).message).toMatch(
        /another migration is running: the Lease kube-system\/flannel2calico is held by someone@elsewhere/,
      );
      expect(holder(cluster)).toBe(OTHER);
      return;
    }
    await expect(lock.acquire()).resolves.toEqual({ tookOverFrom });
    expect(holder(cluster)).toBe(lock.identity);
    await lock.release();
    expect(cluster.peek('Lease', LEASE_NAME, STATE_NAMESPACE)).toBeUndefined();
  });

  it('loses a simultaneous takeover to the run that changed the Lease first, and says who holds it', async () => {
    const cluster = new FakeCluster([lease(OTHER, 120)]);
    let raced = false;
    cluster.after((call) => {
      if (call.verb !== 'get' || call.kind !== 'Lease' || raced) return;
      raced = true;
      cluster.put(lease('rival@elsewhere.example/pid-7', 0));
    });
    const err = await new MigrationLock(cluster).acquire().catch((e: Error) => e);
    expect(err).toBeInstanceOf(LockHeldError);
    expect((err as LockHeldError).holder).toBe('rival@elsewhere.example/pid-7');
  });

  it('retries a create that raced another run (409) and then finds that run holding the Lease', async () => {
    const cluster = new FakeCluster();
    cluster.fail({ verb: 'create', kind: 'Lease' }, () => {
      cluster.put(lease(OTHER, 0));
      return conflict('leases.coordination.k8s.io "flannel2calico" already exists');
    });
    await expect(new MigrationLock(cluster).acquire()).rejects.toBeInstanceOf(LockHeldError);
  });

  it('release leaves a Lease another run took over', async () => {
    const cluster = new FakeCluster();
    const lock = new MigrationLock(cluster);
    await lock.acquire();
    cluster.put(lease(OTHER, 0));
    await lock.release();
    expect(holder(cluster)).toBe(OTHER);
  });
});

describe('a migration run and the lock', () => {
  it('refuses to start while another run holds the Lease, changing nothing', async () => {
    const cluster = fakeCluster([nodeObject('a')]);
    cluster.put(lease(OTHER, 1));
    await expect(migrate(cluster, plan([['a']]))).rejects.toBeInstanceOf(LockHeldError);
    expect(cluster.writes().filter((c) => c.kind !== 'Lease')).toEqual([]);
  });

  it('takes over a stale Lease, says so, runs, and releases it', async () => {
    const cluster = fakeCluster([nodeObject('a')]);
    cluster.put(lease(OTHER, 600));
    const { outcome, recorded } = await migrate(cluster, plan([['a']]));
    expect(outcome.status).toBe('completed');
    expect(recorded.events).toContainEqual(
      expect.objectContaining({
        type: 'warning',
        message: expect.stringMatching(/took over the migration lock from someone@elsewhere/),
      }),
    );
    expect(nodeState(cluster, 'a')?.completed).toContain('done');
    expect(cluster.peek('Lease', LEASE_NAME, STATE_NAMESPACE)).toBeUndefined();
  });
});
