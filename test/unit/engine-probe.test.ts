import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../src/cluster/index.js';
import { probeNode } from '../../src/engine/node-ops.js';
import { PROBE_NAMESPACE, probeClientJob, probeServerPod, probeServerSelector } from '../../src/engine/probe.js';
import { MANAGED_BY_SELECTOR } from '../../src/names.js';
import { nodeObject } from './engine-fixtures.js';
import { FakeCluster } from './fake-cluster.js';

const labelValue = /^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/;

function matches(selector: string, labels: Record<string, string>): boolean {
  return selector.split(',').every((term) => {
    const [key, value] = term.split('=');
    return labels[key] === value;
  });
}

describe('probe objects', () => {
  for (const node of ['worker-1', `ip-10-0-0-1.${'very-long-subdomain.'.repeat(4)}compute.internal`]) {
    it(`have valid names and labels, and the server's selector finds it (${node.length}-character node name)`, () => {
      const server = probeServerPod(node, 'busybox:1.36');
      const job = probeClientJob({
        runOn: 'peer',
        migratedNode: node,
        image: 'busybox:1.36',
        httpTargets: ['10.244.1.5', 'fd00::5'],
        dnsNames: ['kubernetes.default'],
        suffix: 'peer',
        owner: { name: 'server', uid: 'uid-1' },
      });
      for (const obj of [server, job]) {
        expect(obj.metadata!.name!.length).toBeLessThanOrEqual(63);
        for (const value of Object.values(obj.metadata!.labels!)) expect(value).toMatch(labelValue);
      }
      expect(server.spec.nodeName).toBe(node);
      expect(matches(probeServerSelector(node), server.metadata!.labels!)).toBe(true);
      expect(matches(probeServerSelector('another-node'), server.metadata!.labels!)).toBe(false);
      expect(job.spec.template.spec.containers[0].command[2]).toContain('http://[fd00::5]:8080/');
    });
  }
});

const NODE = 'worker-1';
const IMAGE = 'busybox:test';

function probeCluster(extra: KubeObject[] = []): FakeCluster {
  return new FakeCluster([nodeObject(NODE, { label: 'calico' }), nodeObject('peer', { label: 'flannel' }), ...extra]);
}

async function probe(cluster: FakeCluster, waits: string[] = []): Promise<void> {
  await probeNode(cluster, NODE, { image: IMAGE, timeoutMs: 2000, peerNetwork: 'flannel', wait: (m) => waits.push(m) });
}

/** The name of the probe's DNS Job for NODE (the owner does not change the name). */
const dnsJobName = probeClientJob({
  runOn: NODE,
  migratedNode: NODE,
  image: IMAGE,
  httpTargets: [],
  dnsNames: [],
  suffix: 'dns',
  owner: { name: '', uid: '' },
}).metadata!.name!;

/** A Job an earlier probe left: finished, owned by a server pod that is gone. */
function leftoverDnsJob(o: { status: object; deleting?: boolean }): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: dnsJobName,
      namespace: PROBE_NAMESPACE,
      labels: { 'app.kubernetes.io/managed-by': 'flannel2calico' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'old-server', uid: 'uid-of-a-gone-pod' }],
      ...(o.deleting ? { deletionTimestamp: new Date().toISOString() as any, finalizers: ['test.example/hold'] } : {}),
    },
    spec: { template: { spec: { containers: [{ name: 'probe', image: IMAGE }] } } },
    status: o.status,
  };
}

const failed = { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] };
const complete = { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] };

describe('probeNode', () => {
  it('owns its Jobs by the server pod, and deleting the pod is the one request that removes the probe', async () => {
    const cluster = probeCluster();
    let serverUid: string | undefined;
    cluster.after((call) => {
      if (call.verb === 'create' && call.kind === 'Pod')
        serverUid = cluster.peek('Pod', call.name!, call.namespace)?.metadata?.uid;
    });
    await probe(cluster);
    const created = cluster.changes().filter((c) => c.verb === 'create');
    const server = created.find((c) => c.kind === 'Pod')!;
    const jobs = created.filter((c) => c.kind === 'Job');
    expect(jobs.map((c) => c.name).sort()).toEqual([dnsJobName, dnsJobName.replace('-dns-', '-peer-')]);
    expect(serverUid).toBeDefined();
    for (const job of jobs)
      expect((job.body as KubeObject).metadata!.ownerReferences).toEqual([
        {
          apiVersion: 'v1',
          kind: 'Pod',
          name: server.name,
          uid: serverUid,
          controller: false,
          blockOwnerDeletion: false,
        },
      ]);
    expect(cluster.writes().filter((c) => c.verb === 'delete')).toEqual([
      expect.objectContaining({ verb: 'delete', kind: 'Pod', name: server.name, namespace: PROBE_NAMESPACE }),
    ]);
    // The garbage collector took the Jobs after their owner.
    for (const kind of ['Pod', 'Job'])
      expect(cluster.all(kind, { namespace: PROBE_NAMESPACE, labelSelector: MANAGED_BY_SELECTOR })).toEqual([]);
  });

  it('replaces a Job an earlier probe left (owned by a server pod that is gone), never reusing its result', async () => {
    const cluster = probeCluster([leftoverDnsJob({ status: complete })]);
    const waits: string[] = [];
    await probe(cluster, waits);
    expect(waits).toContainEqual(
      `replacing Job ${PROBE_NAMESPACE}/${dnsJobName}: it belongs to an earlier probe's server pod`,
    );
    expect(
      cluster
        .changes('Job')
        .filter((c) => c.name === dnsJobName)
        .map((c) => c.verb),
    ).toEqual(['delete', 'create']);
  });

  it('waits out a Job already being deleted (its owner gone), without deleting it again, then runs its own', async () => {
    const cluster = probeCluster([leftoverDnsJob({ status: failed, deleting: true })]);
    const waits: string[] = [];
    // The garbage collector's deletion completes a moment after the probe finds the Job.
    cluster.after((call) => {
      if (call.verb === 'watch' && call.kind === 'Job')
        setTimeout(() => cluster.remove('Job', dnsJobName, PROBE_NAMESPACE), 20);
    });
    await probe(cluster, waits);
    expect(waits).toContainEqual(`replacing Job ${PROBE_NAMESPACE}/${dnsJobName}: it is being deleted`);
    expect(cluster.writes('Job').filter((c) => c.verb === 'delete')).toEqual([]);
    expect(cluster.changes('Job').filter((c) => c.verb === 'create' && c.name === dnsJobName)).toHaveLength(1);
  });

  it("starts a new server pod when an earlier probe's is still terminating", async () => {
    const stale = probeServerPod(NODE, IMAGE);
    const cluster = probeCluster([
      {
        ...stale,
        metadata: {
          ...stale.metadata,
          deletionTimestamp: new Date().toISOString() as any,
          finalizers: ['test.example/hold'],
        },
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
      },
    ]);
    cluster.after((call) => {
      if (call.verb === 'watch' && call.kind === 'Pod')
        setTimeout(() => cluster.remove('Pod', stale.metadata!.name!, PROBE_NAMESPACE), 20);
    });
    await probe(cluster);
    expect(cluster.changes('Pod').filter((c) => c.verb === 'create')).toHaveLength(1);
  });
});
