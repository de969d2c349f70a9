import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../src/cluster/index.js';
import { canonicalJson, diffFingerprints, diffSnapshots, fingerprint, stateHash } from '../../src/plan/fingerprint.js';
import { buildPlan } from '../../src/plan/planner.js';
import type { ClusterSnapshot } from '../../src/plan/types.js';
import { detection, pdb, pod, random, smallCluster, snapshot } from './plan-fixtures.js';

function base(): ClusterSnapshot {
  const nodes = smallCluster();
  nodes[1].metadata!.annotations = {
    'flannel.alpha.coreos.com/backend-data': '{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:01"}',
    'flannel.alpha.coreos.com/public-ip': '192.168.0.11',
    'node.alpha.kubernetes.io/ttl': '0',
  };
  return snapshot({
    nodes,
    pods: [pod('default', 'web-1', { node: 'worker-1', labels: { app: 'web' } })],
    pdbs: [pdb('default', 'web', { matchLabels: { app: 'web' } }, 1)],
    calico: {
      ipPools: [
        {
          apiVersion: 'crd.projectcalico.org/v1',
          kind: 'IPPool',
          metadata: { name: 'default-ipv4-ippool', resourceVersion: '5' },
          spec: { cidr: '10.244.0.0/16', blockSize: 26 },
        },
      ],
      ipamBlocks: [],
      blockAffinities: [],
      ipamHandles: [],
    },
  });
}

/** Deep copy, change, and report what the drift check says. */
function driftAfter(change: (s: ClusterSnapshot) => void): string[] {
  const before = base();
  const after = structuredClone(before);
  change(after);
  return diffSnapshots(fingerprint(before), after).map((c) => c.message);
}

const worker1 = (s: ClusterSnapshot) => s.nodes.find((n) => n.metadata?.name === 'worker-1')!;

describe('canonicalJson', () => {
  it('ignores key order and undefined fields but not array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: undefined } })).toBe(canonicalJson({ a: { d: [1, 2] }, b: 1 }));
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
  });
});

describe('stateHash', () => {
  it('is a sha256 hex digest, equal for equal state', () => {
    expect(stateHash(base())).toMatch(/^[0-9a-f]{64}$/);
    expect(stateHash(base())).toBe(stateHash(base()));
  });

  it('does not depend on list order, resourceVersions, pod churn or pod status', () => {
    const reference = stateHash(base());
    const rnd = random(3);
    for (let i = 0; i < 5; i++) {
      const s = base();
      s.nodes.sort(() => rnd() - 0.5);
      s.nodes.forEach((n) => {
        n.metadata!.resourceVersion = String(1000 + i);
        n.status!.conditions![0].lastHeartbeatTime = new Date() as any;
      });
      s.pods.push(pod('default', `web-${i + 2}`, { node: 'worker-2' }));
      s.pods[0].status!.phase = 'Pending';
      s.pdbs[0].status!.disruptionsAllowed = i;
      s.calico.ipPools![0].metadata!.resourceVersion = String(i);
      s.collectedAt = new Date().toISOString();
      expect(stateHash(s)).toBe(reference);
    }
  });

  it('ignores node labels and annotations the plan does not depend on, and our own progress record', () => {
    expect(
      driftAfter((s) => {
        worker1(s).metadata!.labels!['team'] = 'blue';
      }),
    ).toEqual([]);
    expect(
      driftAfter((s) => {
        worker1(s).metadata!.annotations!['node.alpha.kubernetes.io/ttl'] = '30';
      }),
    ).toEqual([]);
    expect(
      driftAfter((s) => {
        worker1(s).metadata!.annotations!['flannel2calico.io/state'] = '{"step":"drain"}';
      }),
    ).toEqual([]);
  });
});

describe('diffSnapshots names what changed', () => {
  it.each<[string, (s: ClusterSnapshot) => void, string]>([
    [
      'a podCIDR',
      (s) => {
        worker1(s).spec!.podCIDR = '10.244.9.0/24';
        worker1(s).spec!.podCIDRs = ['10.244.9.0/24'];
      },
      'node worker-1 changed (podCIDRs)',
    ],
    [
      'a role label',
      (s) => {
        worker1(s).metadata!.labels!['node-role.kubernetes.io/control-plane'] = '';
      },
      'node worker-1 changed (labels)',
    ],
    [
      'the migration label',
      (s) => {
        worker1(s).metadata!.labels!['projectcalico.org/node-network-during-migration'] = 'flannel';
      },
      'node worker-1 changed (labels)',
    ],
    [
      'a flannel annotation',
      (s) => {
        worker1(s).metadata!.annotations!['flannel.alpha.coreos.com/public-ip'] = '192.168.0.99';
      },
      'node worker-1 changed (annotations)',
    ],
    [
      'a Calico annotation',
      (s) => {
        worker1(s).metadata!.annotations!['projectcalico.org/IPv4VXLANTunnelAddr'] = '10.244.1.0';
      },
      'node worker-1 changed (annotations)',
    ],
    [
      'cordon',
      (s) => {
        worker1(s).spec!.unschedulable = true;
      },
      'node worker-1 changed (unschedulable)',
    ],
    [
      'a PDB spec',
      (s) => {
        s.pdbs[0].spec!.minAvailable = 2;
      },
      'PodDisruptionBudget default/web changed (spec)',
    ],
    [
      'the flannel ConfigMap',
      (s) => {
        s.flannel.configMap!.data!['net-conf.json'] = '{"Network":"10.245.0.0/16"}';
      },
      'flannel ConfigMap kube-flannel/kube-flannel-cfg changed (data)',
    ],
    [
      'the flannel DaemonSet',
      (s) => {
        s.flannel.daemonSet!.spec!.template.spec!.nodeSelector = { a: 'b' };
      },
      'flannel DaemonSet kube-flannel/kube-flannel-ds changed (spec)',
    ],
    [
      'a Calico pool',
      (s) => {
        s.calico.ipPools![0].spec.blockSize = 24;
      },
      'Calico IPPool default-ipv4-ippool changed (spec)',
    ],
  ])('%s', (_label, change, message) => {
    expect(driftAfter(change)).toEqual([message]);
  });

  it('reports added and removed objects, and the Calico CRDs appearing', () => {
    const added = driftAfter((s) => {
      s.pdbs.push(pdb('shop', 'db', { matchLabels: { app: 'db' } }, 0));
      s.calico.blockAffinities!.push({
        apiVersion: 'crd.projectcalico.org/v1',
        kind: 'BlockAffinity',
        metadata: { name: 'worker-1-10-244-1-0-26' },
        spec: { node: 'worker-1', cidr: '10.244.1.0/26' },
      } as KubeObject);
      s.nodes = s.nodes.filter((n) => n.metadata?.name !== 'worker-3');
    });
    expect(added).toEqual([
      'Calico BlockAffinity worker-1-10-244-1-0-26 was added',
      'node worker-3 was removed',
      'PodDisruptionBudget shop/db was added',
    ]);
    const crds = diffSnapshots(
      fingerprint(snapshot({ nodes: smallCluster() })),
      snapshot({
        nodes: smallCluster(),
        calico: { ipPools: [], ipamBlocks: [], blockAffinities: [], ipamHandles: [] },
      }),
    );
    expect(crds.map((c) => c.message)).toEqual([
      'installed Calico CRDs changed (ipPools, ipamBlocks, blockAffinities, ipamHandles)',
    ]);
  });

  it('works on the fingerprint stored in a plan, after a JSON round trip', () => {
    const snap = base();
    const plan = JSON.parse(JSON.stringify(buildPlan(snap, detection(snap.nodes))));
    expect(plan.cluster.fingerprint['node/worker-1']).toMatch(
      /^podCIDRs=[0-9a-f]{16} labels=[0-9a-f]{16} annotations=[0-9a-f]{16} unschedulable=[0-9a-f]{16}$/,
    );
    expect(diffSnapshots(plan.cluster.fingerprint, base())).toEqual([]);
    const moved = base();
    worker1(moved).spec!.unschedulable = true;
    expect(diffSnapshots(plan.cluster.fingerprint, moved)).toEqual([
      {
        key: 'node/worker-1',
        change: 'changed',
        aspects: ['unschedulable'],
        message: 'node worker-1 changed (unschedulable)',
      },
    ]);
  });

  it('diffFingerprints is empty for equal input and symmetric in what it names', () => {
    const a = fingerprint(base());
    expect(diffFingerprints(a, a)).toEqual([]);
    const b = { ...a, 'pdb/x/y': 'spec=0000000000000000' };
    expect(diffFingerprints(a, b).map((c) => c.change)).toEqual(['added']);
    expect(diffFingerprints(b, a).map((c) => c.change)).toEqual(['removed']);
  });
});
