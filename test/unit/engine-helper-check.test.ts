/**
 * The helper image check (a MODE=check Job before the first drain) against an in-memory cluster: a
 * pod that cannot pull its image fails the check at once, but only a pod of this Job — not the pod a
 * replaced Job of the same name left behind for the garbage collector.
 */
import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../src/cluster/index.js';
import { STATE_NAMESPACE } from '../../src/names.js';
import { checkHelperImage } from '../../src/engine/host-jobs.js';
import { cleanupJob, nodeObject } from './engine-fixtures.js';
import { FakeCluster } from './fake-cluster.js';

const NODE = 'worker-1';
const checkJob = cleanupJob(NODE, 'check');
const jobName = checkJob.metadata!.name!;

function podThatCannotPull(ownerUid: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${jobName}-x1`,
      namespace: STATE_NAMESPACE,
      uid: `pod-of-${ownerUid}`,
      labels: { 'job-name': jobName },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName, uid: ownerUid, controller: true }],
    },
    spec: { nodeName: NODE, containers: [{ name: 'check', image: 'registry.test/no-such-image:v1' }] },
    status: {
      phase: 'Pending',
      containerStatuses: [{ name: 'check', state: { waiting: { reason: 'ImagePullBackOff' } } }],
    },
  };
}

const run = { what: 'host cleanup', image: 'calico/node:test', timeoutMs: 2000 };

describe('the helper image check', () => {
  it("is not failed by the pod a replaced Job left behind; it waits for its own Job's outcome", async () => {
    const cluster = new FakeCluster([nodeObject(NODE), podThatCannotPull('uid-of-the-replaced-job')], {
      jobOutcome: () => 'pending',
    });
    // The new Job's pod runs the check and succeeds a moment later.
    cluster.after((call) => {
      if (call.verb !== 'create' || call.kind !== 'Job') return;
      setTimeout(() => {
        const job = cluster.peek('Job', jobName, STATE_NAMESPACE)!;
        cluster.put({ ...job, status: { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] } });
      }, 50);
    });
    await expect(checkHelperImage(cluster, checkJob, NODE, run)).resolves.toBeUndefined();
  });

  it('fails, naming the image pull, when its own pod cannot pull the image (the Job itself never finishes)', async () => {
    const cluster = new FakeCluster([nodeObject(NODE)], { jobOutcome: () => 'pending' });
    cluster.after((call) => {
      if (call.verb !== 'create' || call.kind !== 'Job') return;
      const job = cluster.peek('Job', jobName, STATE_NAMESPACE);
      if (job) cluster.put(podThatCannotPull(job.metadata!.uid!));
    });
    await expect(checkHelperImage(cluster, checkJob, NODE, run)).rejects.toThrow(
      /its pod did not run the check \(ImagePullBackOff\)/,
    );
  });
});
