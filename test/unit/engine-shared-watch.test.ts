/**
 * A run-wide watch whose cache answers many waits: the logic over a fake watch stream (the real
 * watch is exercised by test/e2e/migrate.test.ts). Also the Job and pod waits that read it.
 */
import { describe, expect, it } from '@jest/globals';
import type { ClusterClient, KubeObject } from '../../src/cluster/index.js';
import { SharedWatch } from '../../src/engine/shared-watch.js';
import { matchesSelector, waitForJob, waitForPodReadyOnNode } from '../../src/engine/waits.js';

interface Stream {
  onList?: (items: KubeObject[]) => boolean;
  onEvent: (type: string, obj: KubeObject) => boolean;
  end: (err?: Error) => void;
  signal: AbortSignal;
}

function fakeClient(): { client: ClusterClient; streams: Stream[] } {
  const streams: Stream[] = [];
  const client = {
    watchUntil: (
      _v: string,
      _k: string,
      opts: { signal: AbortSignal; onList?: Stream['onList'] },
      onEvent: Stream['onEvent'],
    ) =>
      new Promise<boolean>((resolve, reject) => {
        streams.push({
          onList: opts.onList,
          onEvent,
          signal: opts.signal,
          end: (err) => (err ? reject(err) : resolve(false)),
        });
        opts.signal.addEventListener('abort', () => resolve(false));
      }),
  } as unknown as ClusterClient;
  return { client, streams };
}

const job = (name: string, uid: string, status: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name, namespace: 'kube-system', uid },
  status,
});
const tick = () => new Promise((resolve) => setImmediate(resolve));
const HOUR = 3600_000;

describe('SharedWatch', () => {
  it('one watch answers several waits, each when its own object gets there', async () => {
    const { client, streams } = fakeClient();
    const jobs = new SharedWatch(client, 'batch/v1', 'Job', { namespace: 'kube-system' });
    const a = waitForJob(client, 'kube-system', 'a', HOUR, undefined, jobs, 'uid-a');
    const b = waitForJob(client, 'kube-system', 'b', HOUR, undefined, jobs, 'uid-b');
    expect(streams).toHaveLength(1);
    // An earlier run's failed Job of the same name is not this one.
    streams[0].onList?.([
      job('a', 'old-a', { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] }),
    ]);
    streams[0].onEvent('ADDED', job('a', 'uid-a'));
    streams[0].onEvent('ADDED', job('b', 'uid-b'));
    streams[0].onEvent('MODIFIED', job('b', 'uid-b', { succeeded: 1 }));
    await expect(b).resolves.toEqual({ succeeded: true });
    streams[0].onEvent(
      'MODIFIED',
      job('a', 'uid-a', {
        conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'too slow' }],
      }),
    );
    await expect(a).resolves.toEqual({ succeeded: false, reason: 'DeadlineExceeded: too slow' });
    jobs.close();
  });

  it('a Job deleted while waited on fails the wait', async () => {
    const { client, streams } = fakeClient();
    const jobs = new SharedWatch(client, 'batch/v1', 'Job', {});
    const a = waitForJob(client, 'kube-system', 'a', HOUR, undefined, jobs, 'uid-a');
    streams[0].onList?.([job('a', 'uid-a')]);
    streams[0].onEvent('DELETED', job('a', 'uid-a'));
    await expect(a).resolves.toEqual({ succeeded: false, reason: 'the Job was deleted' });
    jobs.close();
  });

  it('a pod wait takes only a Ready pod of its node and selector', async () => {
    const { client, streams } = fakeClient();
    const pods = new SharedWatch(client, 'v1', 'Pod', {
      namespace: 'kube-system',
      labelSelector: 'k8s-app=calico-node',
    });
    const pod = (node: string, ready: boolean, extra: Record<string, unknown> = {}): KubeObject => ({
      metadata: {
        name: `calico-${node}`,
        namespace: 'kube-system',
        uid: `${node}-${ready}`,
        labels: { 'k8s-app': 'calico-node' },
        ...extra,
      },
      spec: { nodeName: node },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
    });
    const wait = waitForPodReadyOnNode(
      client,
      'w-1',
      'kube-system',
      'k8s-app=calico-node',
      HOUR,
      'calico-node on w-1',
      undefined,
      pods,
    );
    streams[0].onList?.([
      pod('w-0', true),
      pod('w-1', false),
      pod('w-1', true, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
    ]);
    await tick();
    let settled = false;
    void wait.then(() => {
      settled = true;
    });
    await tick();
    expect(settled).toBe(false);
    streams[0].onEvent('ADDED', pod('w-1', true));
    await expect(wait).resolves.toMatchObject({ spec: { nodeName: 'w-1' } });
    expect(matchesSelector(pod('w-1', true), 'k8s-app=calico-node,tier=x')).toBe(false);
    pods.close();
  });

  it('a failed watch fails the waits on it; the next wait starts a new watch; Ctrl-C ends a wait', async () => {
    const { client, streams } = fakeClient();
    const jobs = new SharedWatch(client, 'batch/v1', 'Job', {});
    const a = jobs.until(() => undefined, HOUR);
    streams[0].end(new Error('cannot reach the API server'));
    await expect(a).rejects.toThrow('cannot reach the API server');
    const stop = new AbortController();
    const b = jobs.until(() => undefined, HOUR, stop.signal);
    expect(streams).toHaveLength(2);
    stop.abort();
    await expect(b).resolves.toBeUndefined();
    jobs.close();
    expect(streams[1].signal.aborted).toBe(true);
  });
});

describe('what the cache keeps', () => {
  it('keeps of each object only what the waits read: a calico-node pod without its spec, Ready all the same', async () => {
    const { client, streams } = fakeClient();
    const watch = new SharedWatch(client, 'v1', 'Pod', { namespace: 'kube-system' });
    const kept: KubeObject[] = [];
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'calico-node-x',
        namespace: 'kube-system',
        uid: 'u1',
        labels: { 'k8s-app': 'calico-node' },
        annotations: { big: 'x'.repeat(10_000) },
        managedFields: [{ manager: 'kubelet' }],
      },
      spec: {
        nodeName: 'worker-1',
        containers: [{ name: 'calico-node', env: [{ name: 'A', value: 'x'.repeat(10_000) }] }],
      },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True' }],
        podIPs: [{ ip: '10.0.0.1' }],
        containerStatuses: [{ name: 'calico-node', ready: true }],
      },
    };
    const ready = waitForPodReadyOnNode(
      client,
      'worker-1',
      'kube-system',
      'k8s-app=calico-node',
      1000,
      'calico-node',
      undefined,
      watch,
    );
    streams[0].onList!([pod]);
    const found = await ready;
    kept.push(found);
    expect(found.metadata).toEqual({
      name: 'calico-node-x',
      namespace: 'kube-system',
      uid: 'u1',
      labels: { 'k8s-app': 'calico-node' },
    });
    expect(found.spec).toEqual({ nodeName: 'worker-1' });
    expect(found.status.podIPs).toEqual([{ ip: '10.0.0.1' }]);
    expect(found.status.containerStatuses).toBeUndefined();
    expect(JSON.stringify(kept).length).toBeLessThan(1000);
    watch.close();
  });
});
