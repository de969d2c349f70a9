import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import ipaddr from 'ipaddr.js';
import { ClusterClient, ClusterError } from '../../src/cluster/index.js';
import {
  CONTROL_PLANE_ROLE,
  LABEL_FAIL,
  LABEL_NEVER_READY,
  clusterPids,
  fixturesDir,
  getNodes,
  getPods,
  installCalicoCrds,
  installFlannel,
  installWorkloads,
  kubectlJson,
  kubectlOk,
  nodeInternalIp,
  repoRoot,
  scaleDeployment,
  startTestbed,
  testbedDir,
  waitFor,
  waitForDaemonSet,
  waitForDeployment,
  waitForPdb,
  type NodeJson,
  type PodJson,
  type Testbed,
} from '../testbed/harness.js';

interface ManagedField {
  manager: string;
  operation: string;
  subresource?: string;
  fieldsV1?: { 'f:spec'?: Record<string, unknown> };
}
interface Condition {
  type: string;
  status: string;
}
interface JobJson {
  status?: { conditions?: Condition[]; succeeded?: number; failed?: number };
}
interface PdbJson {
  status?: { disruptionsAllowed?: number };
}

const apply = (tb: Testbed, obj: object) => kubectlOk(tb, ['apply', '-f', '-'], JSON.stringify(obj));

function inCidr(ip: string, cidr: string): boolean {
  const addr = ipaddr.parse(ip);
  const [range, bits] = ipaddr.parseCIDR(cidr);
  return addr.kind() === range.kind() && addr.match(range, bits);
}

function deployment(name: string, replicas: number, labels: Record<string, string> = {}): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...labels } },
        spec: { containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.10' }] },
      },
    },
  };
}

function job(name: string, labels: Record<string, string> = {}): object {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default' },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels },
        spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.10' }] },
      },
    },
  };
}

function jobCondition(tb: Testbed, name: string): string | undefined {
  const conditions = kubectlJson<JobJson>(tb, ['get', 'job', name, '-n', 'default']).status?.conditions ?? [];
  return conditions.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True')?.type;
}

const readyOf = (pod: PodJson) => pod.status?.conditions?.find((c) => c.type === 'Ready')?.status;

/** Processes whose command line mentions the cluster's kwok directory. */
function processesOf(cluster: string): number[] {
  const marker = path.join(testbedDir, 'kwok', 'clusters', cluster) + path.sep;
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false;
      }
    });
}

describe('test bed: 1 control-plane node + 3 workers, podCIDRs /26 from 10.50.0.0/16', () => {
  let tb: Testbed;
  let client: ClusterClient;

  beforeAll(async () => {
    tb = await startTestbed({ nodes: 4, controlPlane: 1, podCidr: '10.50.0.0/16', nodeCidrMask: 26 });
    client = ClusterClient.fromOptions({ kubeconfig: tb.kubeconfig });
  });
  afterAll(async () => {
    await tb?.down();
  });

  it('names nodes cp-0, worker-0 … and marks the control plane like kubeadm does', () => {
    const nodes = getNodes(tb);
    expect(nodes.map((n) => n.metadata.name).sort()).toEqual(['cp-0', 'worker-0', 'worker-1', 'worker-2']);
    const cp = nodes.find((n) => n.metadata.name === 'cp-0')!;
    expect(cp.metadata.labels?.[CONTROL_PLANE_ROLE]).toBe('');
    expect(cp.spec.taints).toEqual([{ key: CONTROL_PLANE_ROLE, effect: 'NoSchedule' }]);
    const worker = nodes.find((n) => n.metadata.name === 'worker-0')!;
    expect(worker.metadata.labels).toMatchObject({
      'kubernetes.io/os': 'linux',
      'kubernetes.io/hostname': 'worker-0',
      type: 'kwok',
    });
    expect(worker.spec.taints ?? []).toEqual([]);
  });

  it('gets each node its podCIDR from the controller-manager, not from kwok', () => {
    const nodes = kubectlJson<{ items: Array<NodeJson & { metadata: { managedFields: ManagedField[] } }> }>(tb, [
      'get',
      'nodes',
      '--show-managed-fields',
    ]).items;
    const cidrs = nodes.map((n) => n.spec.podCIDR!);
    expect(new Set(cidrs).size).toBe(4);
    for (const node of nodes) {
      expect(node.spec.podCIDRs).toEqual([node.spec.podCIDR]);
      expect(node.spec.podCIDR).toMatch(/\/26$/);
      expect(inCidr(node.spec.podCIDR!.split('/')[0], '10.50.0.0/16')).toBe(true);
      const writers = node.metadata.managedFields
        .filter((f) => f.fieldsV1?.['f:spec']?.['f:podCIDR'] !== undefined)
        .map((f) => f.manager);
      expect(writers).toEqual(['kube-controller-manager']);
    }
  });

  it('gives every node a distinct InternalIP', () => {
    const nodes = getNodes(tb);
    const ips = tb.nodeNames.map((name) =>
      nodes
        .find((n) => n.metadata.name === name)!
        .status!.addresses!.filter((a) => a.type === 'InternalIP')
        .map((a) => a.address),
    );
    expect(ips).toEqual(tb.nodeNames.map((_, i) => [nodeInternalIp(i)]));
  });

  it("schedules a Deployment onto the untainted nodes, with pod IPs from each node's podCIDR", async () => {
    apply(tb, deployment('spread', 6));
    await waitForDeployment(tb, 'default', 'spread');
    const cidrOf = new Map(getNodes(tb).map((n) => [n.metadata.name, n.spec.podCIDR!]));
    const pods = getPods(tb, 'default', 'app=spread');
    expect(pods).toHaveLength(6);
    for (const pod of pods) {
      expect(pod.spec.nodeName).toMatch(/^worker-/);
      expect(pod.status?.phase).toBe('Running');
      expect(inCidr(pod.status!.podIP!, cidrOf.get(pod.spec.nodeName!)!)).toBe(true);
    }
  });

  it('runs a DaemonSet with a nodeSelector exactly on the nodes carrying the label', async () => {
    const label = 'testbed.flannel2calico.io/agent';
    apply(tb, {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'picky', namespace: 'default' },
      spec: {
        selector: { matchLabels: { app: 'picky' } },
        template: {
          metadata: { labels: { app: 'picky' } },
          spec: {
            nodeSelector: { [label]: 'yes' },
            containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.10' }],
          },
        },
      },
    });
    kubectlOk(tb, ['label', 'node', 'worker-1', `${label}=yes`]);
    const placed = await waitFor(
      () => {
        const pods = getPods(tb, 'default', 'app=picky');
        return pods.length === 1 && readyOf(pods[0]) === 'True' ? pods : undefined;
      },
      30_000,
      'the picky DaemonSet pod on worker-1',
    );
    expect(placed[0].spec.nodeName).toBe('worker-1');

    kubectlOk(tb, ['label', 'node', 'worker-1', `${label}-`]);
    await waitFor(() => getPods(tb, 'default', 'app=picky').length === 0, 30_000, 'the picky pod to be deleted');
  });

  it(
    'refuses an eviction with 429 while a PodDisruptionBudget allows no disruption, and ' +
      'allows it after scaling up',
    async () => {
      apply(tb, deployment('guarded', 2));
      apply(tb, {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'guarded', namespace: 'default' },
        spec: { minAvailable: 2, selector: { matchLabels: { app: 'guarded' } } },
      });
      await waitForDeployment(tb, 'default', 'guarded');
      await waitForPdb(tb, 'default', 'guarded');
      const victim = getPods(tb, 'default', 'app=guarded')[0].metadata.name;

      const refusal = await client.evict(victim, 'default').then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refusal).toBeInstanceOf(ClusterError);
      expect((refusal as ClusterError).kind).toBe('too-many-requests');
      expect((refusal as ClusterError).status).toBe(429);
      expect((refusal as ClusterError).message).toContain('disruption budget');

      await scaleDeployment(tb, 'default', 'guarded', 3);
      await waitFor(
        () => kubectlJson<PdbJson>(tb, ['get', 'pdb', 'guarded', '-n', 'default']).status?.disruptionsAllowed === 1,
        30_000,
        'PDB guarded to allow one disruption',
      );
      await expect(client.evict(victim, 'default')).resolves.toBe('evicted');
      await waitFor(
        () => !getPods(tb, 'default', 'app=guarded').some((p) => p.metadata.name === victim),
        30_000,
        `evicted pod ${victim} to be gone`,
      );
      await waitForDeployment(tb, 'default', 'guarded');
      await expect(client.evict(victim, 'default')).resolves.toBe('gone');
    },
  );

  it('completes a Job: its pod exits 0', async () => {
    apply(tb, job('finishes'));
    await waitFor(() => jobCondition(tb, 'finishes') === 'Complete', 30_000, 'Job finishes to complete');
    const [pod] = getPods(tb, 'default', 'job-name=finishes');
    expect(pod.status?.phase).toBe('Succeeded');
    expect(pod.status?.containerStatuses?.[0].state?.terminated?.exitCode).toBe(0);
  });

  it(`fails a Job whose pods carry ${LABEL_FAIL}=true: exit code 1`, async () => {
    apply(tb, job('breaks', { [LABEL_FAIL]: 'true' }));
    await waitFor(() => jobCondition(tb, 'breaks') === 'Failed', 30_000, 'Job breaks to fail');
    const [pod] = getPods(tb, 'default', 'job-name=breaks');
    expect(pod.status?.phase).toBe('Failed');
    expect(pod.status?.containerStatuses?.[0].state?.terminated?.exitCode).toBe(1);
  });

  it(`runs a pod labelled ${LABEL_NEVER_READY}=true without it ever becoming Ready`, async () => {
    apply(tb, deployment('stuck', 1, { [LABEL_NEVER_READY]: 'true' }));
    const pod = await waitFor(
      () => getPods(tb, 'default', 'app=stuck').find((p) => p.status?.phase === 'Running'),
      30_000,
      'the stuck pod to run',
    );
    expect(readyOf(pod)).toBe('False');
    const status = kubectlJson<{ status: { availableReplicas?: number; unavailableReplicas?: number } }>(tb, [
      'get',
      'deployment',
      'stuck',
    ]).status;
    expect(status.availableReplicas ?? 0).toBe(0);
  });

  it("installs flannel from the upstream manifest and writes flanneld's node annotations", async () => {
    const result = await installFlannel(tb, { skipNodes: ['worker-2'] });
    expect(result).toMatchObject({
      namespace: 'kube-flannel',
      daemonSet: 'kube-flannel-ds',
      configMap: 'kube-flannel-cfg',
    });
    const ds = kubectlJson<{ status: { numberReady: number } }>(tb, [
      'get',
      'daemonset',
      'kube-flannel-ds',
      '-n',
      'kube-flannel',
    ]);
    expect(ds.status.numberReady).toBe(4);

    const real = JSON.parse(
      fs.readFileSync(path.join(fixturesDir, 'flanneld-v0.28.10-node-state', 'node-annotations.json'), 'utf8'),
    ) as { annotations: Record<string, string> };
    const flannelKeys = (a: Record<string, string> | undefined) =>
      Object.keys(a ?? {})
        .filter((k) => k.startsWith('flannel.alpha.coreos.com/'))
        .sort();
    const nodes = getNodes(tb);
    for (const node of nodes.filter((n) => n.metadata.name !== 'worker-2')) {
      const a = node.metadata.annotations!;
      expect(flannelKeys(a)).toEqual(Object.keys(real.annotations).sort());
      expect(a['flannel.alpha.coreos.com/backend-type']).toBe('vxlan');
      expect(JSON.parse(a['flannel.alpha.coreos.com/backend-data'])).toEqual({
        VNI: 1,
        VtepMAC: expect.stringMatching(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/),
      });
      expect(a['flannel.alpha.coreos.com/public-ip']).toBe(
        node.status!.addresses!.find((x) => x.type === 'InternalIP')!.address,
      );
    }
    const macs = nodes.map((n) => n.metadata.annotations?.['flannel.alpha.coreos.com/backend-data']).filter(Boolean);
    expect(new Set(macs).size).toBe(3);
    expect(flannelKeys(nodes.find((n) => n.metadata.name === 'worker-2')!.metadata.annotations)).toEqual([]);
  });

  it('installs the workloads with their PDBs; scaling api to 3 allows one disruption', async () => {
    await installWorkloads(tb);
    const allowed = (name: string) =>
      kubectlJson<PdbJson>(tb, ['get', 'pdb', name, '-n', 'apps']).status?.disruptionsAllowed;
    expect(allowed('web')).toBe(1);
    expect(allowed('api')).toBe(0);
    expect(allowed('db')).toBe(1);
    const apps = getPods(tb, 'apps');
    expect(apps.find((p) => p.metadata.name === 'bare')?.metadata.ownerReferences ?? []).toEqual([]);
    expect(apps.filter((p) => p.metadata.labels?.app === 'node-agent')).toHaveLength(3);
    expect(getPods(tb, 'kube-system', 'k8s-app=kube-dns')).toHaveLength(2);
    await waitForDaemonSet(tb, 'apps', 'node-agent');

    await scaleDeployment(tb, 'apps', 'api', 3);
    await waitFor(() => allowed('api') === 1, 30_000, 'PDB api to allow one disruption');
  });

  it("installs Calico's CRDs so that Calico objects can be created", async () => {
    const names = await installCalicoCrds(tb);
    expect(names).toContain('ippools.crd.projectcalico.org');
    kubectlOk(
      tb,
      ['create', '-f', '-'],
      JSON.stringify({
        apiVersion: 'crd.projectcalico.org/v1',
        kind: 'IPPool',
        metadata: { name: 'probe-pool' },
        spec: { cidr: '10.50.0.0/16', blockSize: 26, vxlanMode: 'Always', ipipMode: 'Never', natOutgoing: true },
      }),
    );
    expect(
      kubectlJson<{ spec: { cidr: string } }>(tb, ['get', 'ippools.crd.projectcalico.org', 'probe-pool']).spec.cidr,
    ).toBe('10.50.0.0/16');
  });

  it('runs the product CLI against the cluster', () => {
    const version = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string })
      .version;
    const result = tb.cli(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });
});

describe('test bed: dual-stack', () => {
  let tb: Testbed;
  beforeAll(async () => {
    tb = await startTestbed({ nodes: 3, controlPlane: 1, podCidrV6: 'fd00:10:244::/56' });
  });
  afterAll(async () => {
    await tb?.down();
  });

  it('allocates an IPv4 and an IPv6 podCIDR to every node and dual-stack pod IPs', async () => {
    const nodes = getNodes(tb);
    expect(new Set(nodes.map((n) => n.spec.podCIDRs![1])).size).toBe(3);
    for (const node of nodes) {
      const [v4, v6] = node.spec.podCIDRs!;
      expect(v4).toMatch(/\/24$/);
      expect(inCidr(v4.split('/')[0], '10.244.0.0/16')).toBe(true);
      expect(v6).toMatch(/\/64$/);
      expect(inCidr(v6.split('/')[0], 'fd00:10:244::/56')).toBe(true);
      expect(
        node.status!.addresses!.filter((a) => a.type === 'InternalIP').map((a) => ipaddr.parse(a.address).kind()),
      ).toEqual(['ipv4', 'ipv6']);
    }
    apply(tb, deployment('dual', 2));
    await waitForDeployment(tb, 'default', 'dual');
    for (const pod of getPods(tb, 'default', 'app=dual')) {
      const node = nodes.find((n) => n.metadata.name === pod.spec.nodeName)!;
      const ips = pod.status!.podIPs!.map((p) => p.ip);
      expect(ips).toHaveLength(2);
      expect(inCidr(ips[0], node.spec.podCIDRs![0])).toBe(true);
      expect(inCidr(ips[1], node.spec.podCIDRs![1])).toBe(true);
    }
  });

  it("writes flannel's IPv6 annotations when net-conf enables IPv6", async () => {
    const netConf = {
      Network: '10.244.0.0/16',
      IPv6Network: 'fd00:10:244::/56',
      EnableIPv6: true,
      Backend: { Type: 'vxlan', VNI: 4096 },
    };
    await installFlannel(tb, { netConf });
    const cm = kubectlJson<{ data: Record<string, string> }>(tb, [
      'get',
      'configmap',
      'kube-flannel-cfg',
      '-n',
      'kube-flannel',
    ]);
    expect(JSON.parse(cm.data['net-conf.json'])).toEqual(netConf);
    for (const node of getNodes(tb)) {
      const a = node.metadata.annotations!;
      const v4 = JSON.parse(a['flannel.alpha.coreos.com/backend-data']) as { VNI: number; VtepMAC: string };
      const v6 = JSON.parse(a['flannel.alpha.coreos.com/backend-v6-data']) as { VNI: number; VtepMAC: string };
      expect(v4.VNI).toBe(4096);
      expect(v6.VNI).toBe(4096);
      expect(v6.VtepMAC).not.toBe(v4.VtepMAC);
      expect(ipaddr.parse(a['flannel.alpha.coreos.com/public-ipv6']).kind()).toBe('ipv6');
    }
  });
});

describe('test bed: Canal, renamed, with a custom annotation prefix', () => {
  let tb: Testbed;
  beforeAll(async () => {
    tb = await startTestbed({ nodes: 2 });
  });
  afterAll(async () => {
    await tb?.down();
  });

  it('rejects an MTU for plain flannel before changing anything', async () => {
    await expect(installFlannel(tb, { mtu: 1400 })).rejects.toThrow(/Canal only/);
    expect(tb.kubectl(['get', 'namespace', 'kube-flannel']).status).not.toBe(0);
  });

  it('installs Canal into another namespace under another name, with its settings', async () => {
    const result = await installFlannel(tb, {
      canal: true,
      namespace: 'canal-system',
      name: 'canal-node',
      annotationPrefix: 'flannel.example.com',
      mtu: 1400,
      ipMasq: false,
    });
    expect(result).toMatchObject({ namespace: 'canal-system', daemonSet: 'canal-node', configMap: 'canal-config' });
    const ds = kubectlJson<{
      spec: { template: { spec: { containers: Array<{ name: string; command?: string[] }> } } };
      status: { numberReady: number };
    }>(tb, ['get', 'daemonset', 'canal-node', '-n', 'canal-system']);
    expect(ds.status.numberReady).toBe(2);
    expect(ds.spec.template.spec.containers.find((c) => c.name === 'kube-flannel')?.command).toContain(
      '--kube-annotation-prefix=flannel.example.com',
    );
    const cm = kubectlJson<{ data: Record<string, string> }>(tb, [
      'get',
      'configmap',
      'canal-config',
      '-n',
      'canal-system',
    ]);
    expect(cm.data).toMatchObject({ veth_mtu: '1400', masquerade: 'false' });
    const binding = kubectlJson<{ subjects: Array<{ namespace: string }> }>(tb, [
      'get',
      'clusterrolebinding',
      'canal-flannel',
    ]);
    expect(binding.subjects.map((s) => s.namespace)).toEqual(['canal-system']);
    expect(tb.kubectl(['get', 'daemonset', 'canal', '-n', 'kube-system']).status).not.toBe(0);
    for (const node of getNodes(tb)) {
      expect(node.metadata.annotations?.['flannel.example.com/backend-type']).toBe('vxlan');
      expect(node.metadata.annotations?.['flannel.alpha.coreos.com/backend-type']).toBeUndefined();
    }
  });
});

describe('test bed lifecycle', () => {
  it('rejects node counts the pod CIDR cannot hold, before starting anything', async () => {
    const clusters = () =>
      fs.existsSync(path.join(testbedDir, 'clusters')) ? fs.readdirSync(path.join(testbedDir, 'clusters')).length : 0;
    const before = clusters();
    await expect(startTestbed({ nodes: 5, podCidr: '10.9.0.0/24', nodeCidrMask: 26 })).rejects.toThrow(
      /holds only 4 node subnets/,
    );
    expect(clusters()).toBe(before);
  });

  it('down() stops every process of the cluster and removes its files', async () => {
    const tb = await startTestbed({ nodes: 1 });
    const pids = clusterPids(tb.name);
    expect(pids).toHaveLength(5);
    expect(processesOf(tb.name).sort()).toEqual([...pids].sort());
    await tb.down();
    expect(processesOf(tb.name)).toEqual([]);
    expect(fs.existsSync(tb.kubeconfig)).toBe(false);
    expect(fs.existsSync(path.join(testbedDir, 'kwok', 'clusters', tb.name))).toBe(false);
  });
});
