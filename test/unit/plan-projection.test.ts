/**
 * The snapshot keeps Pods and Nodes only in the parts the planner reads: a plan and its fingerprint
 * made from projected objects equal those made from the full objects.
 */
import { describe, expect, it } from '@jest/globals';
import type { V1Node, V1Pod } from '../../src/cluster/index.js';
import { classifyPod, drainContext } from '../../src/plan/drain-filters.js';
import { fingerprint } from '../../src/plan/fingerprint.js';
import { planNode, planPod } from '../../src/plan/projection.js';
import { podRequests } from '../../src/plan/resources.js';
import type { ClusterSnapshot } from '../../src/plan/types.js';

const fullPod = (o: { namespace?: string; emptyDir?: boolean; owner?: string; mirror?: boolean } = {}): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    namespace: o.namespace ?? 'team',
    name: 'web-1',
    uid: 'u-1',
    labels: { app: 'web' },
    annotations: { 'example.com/note': 'x'.repeat(200), ...(o.mirror ? { 'kubernetes.io/config.mirror': 'h' } : {}) },
    ownerReferences: o.owner
      ? [
          { apiVersion: 'v1', kind: 'Other', name: 'not-controller', uid: 'o-0' },
          { apiVersion: 'apps/v1', kind: o.owner, name: 'web', uid: 'o-1', controller: true, blockOwnerDeletion: true },
        ]
      : undefined,
    deletionTimestamp: new Date('2025-01-01T00:00:00Z'),
  },
  spec: {
    nodeName: 'n-1',
    hostNetwork: false,
    containers: [
      {
        name: 'main',
        image: 'web:1',
        command: ['kube-apiserver'],
        args: ['--service-cluster-ip-range=10.96.0.0/12'],
        env: [{ name: 'A', value: 'b' }],
        resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '1' } },
      },
    ],
    initContainers: [{ name: 'side', image: 's', restartPolicy: 'Always', resources: { requests: { cpu: '1' } } }],
    overhead: { cpu: '10m' },
    volumes: [
      { name: 'token', projected: { sources: [] } },
      ...(o.emptyDir ? [{ name: 'scratch', emptyDir: {} }] : []),
    ],
    tolerations: [{ key: 'k', operator: 'Exists' }],
  },
  status: {
    phase: 'Running',
    podIP: '10.0.0.5',
    podIPs: [{ ip: '10.0.0.5' }],
    conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [{ name: 'main', image: 'web:1', imageID: 'x', ready: true, restartCount: 0 }],
  },
});

const fullNode = (): V1Node => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: {
    name: 'n-1',
    uid: 'n',
    labels: { 'node-role.kubernetes.io/control-plane': '', 'flannel2calico.io/x': 'y', zone: 'a' },
    annotations: { 'flannel.alpha.coreos.com/public-ip': '172.16.0.1', 'projectcalico.org/IPv4Address': 'x' },
  },
  spec: {
    podCIDR: '10.0.0.0/24',
    podCIDRs: ['10.0.0.0/24'],
    taints: [{ key: 'k', effect: 'NoSchedule' }],
    unschedulable: true,
    providerID: 'p',
  },
  status: {
    conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'down' }],
    allocatable: { cpu: '4', memory: '8Gi' },
    capacity: { cpu: '4', memory: '8Gi' },
    addresses: [{ type: 'InternalIP', address: '172.16.0.1' }],
    images: [{ names: ['a'], sizeBytes: 1 }],
    nodeInfo: {} as any,
  },
});

describe('snapshot projection', () => {
  it('keeps what the drain filters and resource sums read, and drops the rest', () => {
    const ctx = drainContext({ daemonSets: [], pdbs: [], skipWaitForDeleteTimeoutSeconds: 1, now: new Date() });
    for (const o of [{}, { owner: 'ReplicaSet', emptyDir: true }, { owner: 'DaemonSet' }, { mirror: true }]) {
      const pod = fullPod(o);
      const small = planPod(pod);
      expect(classifyPod(small, ctx)).toEqual(classifyPod(pod, ctx));
      expect(podRequests(small)).toEqual(podRequests(pod));
      expect(JSON.stringify(small).length).toBeLessThan(JSON.stringify(pod).length / 2);
    }
    const small = planPod(fullPod({ owner: 'ReplicaSet', emptyDir: true }));
    expect(small.metadata?.ownerReferences?.map((r) => r.name)).toEqual(['web']);
    expect(small.spec?.volumes).toEqual([{ name: 'scratch', emptyDir: {} }]);
    expect(small.spec?.containers[0]).toEqual({
      name: 'main',
      resources: { requests: { cpu: '250m', memory: '64Mi' } },
    });
    expect(small.status).toEqual({ phase: 'Running', podIP: '10.0.0.5', podIPs: [{ ip: '10.0.0.5' }] });
  });

  it('keeps the command lines of kube-system pods, where the service network is read', () => {
    expect(planPod(fullPod({ namespace: 'kube-system' })).spec?.containers[0].args).toEqual([
      '--service-cluster-ip-range=10.96.0.0/12',
    ]);
  });

  it('fingerprints a projected node as the full node, so a saved plan compares with the live cluster', () => {
    const snapshot = (nodes: V1Node[]) =>
      ({
        annotationPrefix: 'flannel.alpha.coreos.com',
        nodes,
        pdbs: [],
        flannel: {},
        calico: {},
      }) as unknown as ClusterSnapshot;
    const node = fullNode();
    expect(fingerprint(snapshot([planNode(node)]))).toEqual(fingerprint(snapshot([node])));
    const small = planNode(node);
    expect(small.status).toEqual({
      conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'down' }],
      allocatable: { cpu: '4', memory: '8Gi' },
      addresses: [{ type: 'InternalIP', address: '172.16.0.1' }],
    });
    expect(small.spec).toEqual({
      podCIDR: '10.0.0.0/24',
      podCIDRs: ['10.0.0.0/24'],
      taints: [{ key: 'k', effect: 'NoSchedule' }],
      unschedulable: true,
    });
  });
});
