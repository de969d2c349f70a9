/**
 * `flannel2calico plan` against the real test bed: a dual-stack cluster running flannel (first
 * IPv4 only, then dual-stack) and a Canal cluster, both with the standard workloads. Checks the
 * planned Calico objects, order, batches and drain blockers against what the cluster holds, the
 * saved plan and its drift fingerprint, and that planning changes nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ClusterClient } from '../../src/cluster/index.js';
import { detect } from '../../src/flannel/detect.js';
import { collectSnapshot, diffSnapshots } from '../../src/plan/snapshot.js';
import type { Plan, PlannedNode } from '../../src/plan/types.js';
import {
  getNodes,
  getPods,
  installFlannel,
  installWorkloads,
  kubectlJson,
  kubectlOk,
  nodeInternalIp,
  nodeInternalIpV6,
  startTestbed,
  vtepMac,
  waitFor,
  type FlannelInstall,
  type NodeJson,
  type PodJson,
  type Testbed,
} from '../testbed/harness.js';

interface Listed<T> {
  items: T[];
}
interface PdbJson {
  metadata: { name: string; namespace: string };
  status?: { disruptionsAllowed?: number };
}

/** IPv4 /24 → its four /26 blocks, computed independently of src/calico. */
function quarters(cidr: string): string[] {
  const [addr] = cidr.split('/');
  const [a, b, c] = addr.split('.');
  return [0, 64, 128, 192].map((d) => `${a}.${b}.${c}.${d}/26`);
}

function planJson(tb: Testbed, args: string[], expectedStatus: number): Plan {
  const result = tb.cli(['plan', '-o', 'json', ...args]);
  if (result.status !== expectedStatus)
    throw new Error(
      `plan ${args.join(' ')} exited ${result.status}, expected ${expectedStatus}:\n${result.stderr}\n${result.stdout.slice(0, 2000)}`,
    );
  return JSON.parse(result.stdout) as Plan;
}

/** resourceVersion of every object the migration could touch: planning must leave them all alone. */
function resourceVersions(tb: Testbed): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kind of [
    'nodes',
    'daemonsets',
    'deployments',
    'statefulsets',
    'configmaps',
    'poddisruptionbudgets',
    'pods',
    'services',
    'leases.coordination.k8s.io',
  ]) {
    const list = kubectlJson<Listed<{ metadata: { name: string; namespace?: string; resourceVersion: string } }>>(tb, [
      'get',
      kind,
      '-A',
    ]);
    for (const item of list.items) {
      // node leases and the control plane's own leases are heartbeats, not state we could change
      if (kind.startsWith('leases') && item.metadata.namespace !== 'kube-system') continue;
      if (kind.startsWith('leases') && item.metadata.name !== 'flannel2calico') continue;
      out[`${kind}/${item.metadata.namespace ?? ''}/${item.metadata.name}`] = item.metadata.resourceVersion;
    }
  }
  return out;
}

function podKey(p: { metadata: { namespace?: string; name: string } } | { namespace: string; name: string }): string {
  return 'metadata' in p ? `${p.metadata.namespace}/${p.metadata.name}` : `${p.namespace}/${p.name}`;
}

function ownerKind(p: PodJson): string | undefined {
  return p.metadata.ownerReferences?.[0]?.kind;
}

function expectNodeMatchesCluster(planned: PlannedNode, node: NodeJson, index: number, dual: boolean): void {
  const name = node.metadata.name;
  const v4 = node.spec.podCIDRs!.find((c) => !c.includes(':'))!;
  expect(planned.podCidrs).toEqual(node.spec.podCIDRs);
  expect(planned.tunnelAddressV4).toBe(v4.split('/')[0]);
  const v4Blocks = planned.ipam.blocks.filter((b) => !String(b.spec.cidr).includes(':'));
  expect(v4Blocks.map((b) => b.spec.cidr)).toEqual(quarters(v4));
  expect(v4Blocks.map((b) => b.metadata?.name)).toEqual(quarters(v4).map((c) => c.replace(/[./]/g, '-')));
  expect(v4Blocks.every((b) => b.spec.affinity === `host:${name}`)).toBe(true);
  expect(
    planned.ipam.affinities.filter((a) => !String(a.spec.cidr).includes(':')).map((a) => [a.spec.node, a.spec.cidr]),
  ).toEqual(quarters(v4).map((c) => [name, c]));
  expect(planned.annotations['projectcalico.org/IPv4VXLANTunnelAddr']).toBe(v4.split('/')[0]);
  expect(planned.annotations['projectcalico.org/VXLANTunnelMACAddr']).toBe(vtepMac(name, 4));
  expect(planned.annotations['projectcalico.org/IPv4Address']).toBe(`${nodeInternalIp(index)}/32`);
  if (dual) {
    const v6 = node.spec.podCIDRs!.find((c) => c.includes(':'))!;
    expect(planned.tunnelAddressV6).toBe(v6.split('/')[0]);
    expect(planned.annotations['projectcalico.org/IPv6VXLANTunnelAddr']).toBe(v6.split('/')[0]);
    expect(planned.annotations['projectcalico.org/VXLANTunnelMACAddrV6']).toBe(vtepMac(name, 6));
    expect(planned.annotations['projectcalico.org/IPv6Address']).toBe(`${nodeInternalIpV6(index)}/128`);
    const v6Blocks = planned.ipam.blocks.filter((b) => String(b.spec.cidr).includes(':'));
    expect(v6Blocks.map((b) => b.spec.cidr)).toEqual([`${v6.split('/')[0]}/122`]);
  } else {
    expect(planned.tunnelAddressV6).toBeUndefined();
    expect(Object.keys(planned.annotations).filter((k) => k.includes('IPv6'))).toEqual([]);
  }
}

describe('plan on a flannel cluster (IPv4, then dual-stack)', () => {
  let tb: Testbed;
  let flannel: FlannelInstall;
  let nodeIndex: Map<string, number>;

  beforeAll(async () => {
    tb = await startTestbed({ nodes: 4, controlPlane: 1, podCidrV6: 'fd00:10:244::/56' });
    nodeIndex = new Map(tb.nodeNames.map((n, i) => [n, i]));
    flannel = await installFlannel(tb);
    await installWorkloads(tb);
  }, 300_000);

  afterAll(async () => {
    await tb?.down();
  });

  it("plans the pool, Felix settings and every node's blocks, tunnel address, MAC and address from the cluster", () => {
    const plan = planJson(tb, ['--force', '--delete-emptydir-data'], 0);
    expect(plan).toMatchObject({
      apiVersion: 'flannel2calico/v1',
      kind: 'Plan',
      flavour: 'flannel',
      flannelDaemonSet: { name: flannel.daemonSet, namespace: flannel.namespace },
    });
    expect(plan.calico.pools.map((p) => [p.metadata?.name, p.spec])).toEqual([
      [
        'default-ipv4-ippool',
        expect.objectContaining({
          cidr: flannel.netConf.Network,
          blockSize: 26,
          vxlanMode: 'Always',
          ipipMode: 'Never',
          natOutgoing: true,
        }),
      ],
    ]);
    expect(plan.calico.felixConfigurationPatch).toEqual({ spec: { vxlanVNI: 1, vxlanPort: 8472, vxlanMTU: 1450 } });
    const nodes = getNodes(tb);
    expect(plan.nodes).toHaveLength(nodes.length);
    for (const node of nodes) {
      const planned = plan.nodes.find((n) => n.name === node.metadata.name)!;
      expectNodeMatchesCluster(planned, node, nodeIndex.get(node.metadata.name)!, false);
    }
    expect(plan.preflight.filter((f) => f.level === 'fail')).toEqual([]);
    expect(plan.hostCleanup).toEqual({
      helperImage: 'quay.io/calico/node:v3.32.1',
      preDrainCheck: expect.stringContaining(
        "a Job on the first node to move (worker-0) runs the host cleanup's command check " +
          '(MODE=check, changes nothing) in quay.io/calico/node:v3.32.1',
      ),
    });
    expect(
      planJson(tb, ['--force', '--delete-emptydir-data', '--helper-image', 'registry.example/calico/node:v3.32.1'], 0)
        .hostCleanup.helperImage,
    ).toBe('registry.example/calico/node:v3.32.1');
  });

  it('orders workers by name and the control-plane node last, in --max-parallel batches', () => {
    expect(planJson(tb, ['--force', '--delete-emptydir-data'], 0).batches).toEqual([
      ['worker-0'],
      ['worker-1'],
      ['worker-2'],
      ['cp-0'],
    ]);
    const two = planJson(tb, ['--force', '--delete-emptydir-data', '--max-parallel', '2'], 0);
    expect(two.batches).toEqual([['worker-0', 'worker-1'], ['worker-2'], ['cp-0']]);
    expect(two.nodes.map((n) => [n.name, n.role, n.batch])).toEqual([
      ['worker-0', 'worker', 0],
      ['worker-1', 'worker', 0],
      ['worker-2', 'worker', 1],
      ['cp-0', 'control-plane', 2],
    ]);
    // 50% of 3 workers rounds up to 2
    expect(planJson(tb, ['--force', '--delete-emptydir-data', '--max-parallel', '50%'], 0).batches).toEqual(
      two.batches,
    );
    const one = planJson(tb, ['--force', '--delete-emptydir-data', '--nodes', 'cp-0,worker-2'], 0);
    expect(one.batches).toEqual([['worker-2'], ['cp-0']]);
  });

  it('names what each drain evicts, skips or refuses, and the blocking PDBs, as the cluster stands', () => {
    const plan = planJson(tb, [], 3);
    const pods = getPods(tb, '*').filter((p) => p.spec.nodeName);
    const pdbs = kubectlJson<Listed<PdbJson>>(tb, ['get', 'pdb', '-A']).items;
    const allowed = (name: string) =>
      pdbs.find((p) => p.metadata.namespace === 'apps' && p.metadata.name === name)!.status!.disruptionsAllowed!;
    expect(allowed('api')).toBe(0);
    for (const planned of plan.nodes) {
      const onNode = pods.filter((p) => p.spec.nodeName === planned.name);
      expect(planned.pods.map(podKey).sort()).toEqual(onNode.map(podKey).sort());
      for (const pod of onNode) {
        const d = planned.pods.find((x) => podKey(x) === podKey(pod))!;
        const kind = ownerKind(pod);
        if (kind === 'DaemonSet')
          expect(d).toMatchObject({
            action: 'skip',
            reason: expect.stringContaining('ignoring DaemonSet-managed Pods'),
          });
        else if (pod.metadata.name === 'bare')
          expect(d).toMatchObject({
            action: 'refuse',
            reason: 'Pods that declare no controller (use --force to override)',
          });
        else if (pod.metadata.labels?.app === 'cache')
          expect(d).toMatchObject({
            action: 'refuse',
            reason: 'Pods with local storage (use --delete-emptydir-data to override)',
          });
        else expect(d.action).toBe('evict');
        const app = pod.metadata.labels?.app;
        if (d.action === 'evict' && app && ['web', 'api', 'db'].includes(app)) {
          expect(d.blockingPdbs).toEqual([{ namespace: 'apps', name: app, disruptionsAllowed: allowed(app) }]);
        } else {
          expect(d.blockingPdbs).toEqual([]);
        }
      }
    }
    const bareNode = pods.find((p) => p.metadata.name === 'bare')!.spec.nodeName;
    const cacheNode = pods.find((p) => p.metadata.labels?.app === 'cache')!.spec.nodeName;
    const fails = plan.preflight.filter((f) => f.level === 'fail');
    expect(fails.map((f) => [f.id, f.node])).toEqual(
      expect.arrayContaining([
        ['drain.unreplicated', bareNode],
        ['drain.emptydir', cacheNode],
      ]),
    );
    expect(fails.every((f) => f.id.startsWith('drain.'))).toBe(true);
    const apiNodes = [...new Set(pods.filter((p) => p.metadata.labels?.app === 'api').map((p) => p.spec.nodeName))];
    const blocked = plan.preflight.find((f) => f.id === 'drain.pdb-blocked')!;
    expect(blocked.level).toBe('warn');
    expect(blocked.message).toContain('PodDisruptionBudget apps/api allows 0 disruptions');
    for (const n of apiNodes) expect(blocked.message).toContain(n!);
  });

  it('prints a summary table, per-node details with -v, and exits 3 while a finding fails', () => {
    const text = tb.cli(['plan']);
    expect(text.status).toBe(3);
    expect(text.stdout).toMatch(/Migration plan: flannel → Calico/);
    expect(text.stdout).toMatch(/│ batch │ node\s+│ role/);
    expect(text.stdout).toMatch(/│ 4\s+│ cp-0\s+│ control-plane/);
    expect(text.stdout).toContain('✘ fail  node');
    expect(text.stdout).toContain('apps/bare');
    expect(text.stdout).not.toContain('evict  apps/');
    const verbose = tb.cli(['plan', '-v', '--force', '--delete-emptydir-data']);
    expect(verbose.status).toBe(0);
    expect(verbose.stdout).toMatch(/Node worker-0 \(batch 1, worker, state unlabelled\)/);
    expect(verbose.stdout).toMatch(/skip\s+kube-flannel\/kube-flannel-ds-\w+: ignoring DaemonSet-managed Pods/);
    expect(verbose.stdout).toMatch(/evict\s+apps\/bare: deleting Pods that declare no controller/);
    expect(verbose.stdout).toContain('blocks: 10.244.1.0/26, 10.244.1.64/26, 10.244.1.128/26, 10.244.1.192/26');
    expect(verbose.stdout).toContain('Nothing blocks the migration.');
    expect(verbose.stdout).toContain('host Jobs   helper image quay.io/calico/node:v3.32.1 (--helper-image)');
    expect(verbose.stdout).toMatch(
      /image check before the first drain, a Job on the first node to move \(worker-0\) runs the host cleanup's command check/,
    );
    const yaml = tb.cli(['plan', '-o', 'yaml', '--nodes', 'worker-1']);
    expect(yaml.stdout).toMatch(/^apiVersion: flannel2calico\/v1\nkind: Plan\n/);
  });

  it('refuses bad flags with exit 2, before planning', () => {
    for (const args of [
      ['--max-parallel', '0'],
      ['--max-parallel', '120%'],
      ['--nodes', 'worker-0,nope'],
      ['--drain-timeout', '5x'],
      ['--grace-period', '-5'],
      ['--flannel-vni', 'x'],
    ]) {
      const r = tb.cli(['plan', ...args]);
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      expect(r.stderr).toMatch(/^error: /m);
      expect(r.stdout).toBe('');
    }
  });

  it('saves the plan with a stable state hash, and the fingerprint names what drifted', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-plan-'));
    const file = path.join(dir, 'plan.json');
    const saved = tb.cli(['plan', '--force', '--delete-emptydir-data', '--out', file]);
    expect(saved.status).toBe(0);
    expect(saved.stderr).toContain(`plan saved to ${file}`);
    const plan = JSON.parse(fs.readFileSync(file, 'utf8')) as Plan;
    expect(plan.apiVersion).toBe('flannel2calico/v1');
    expect(plan.cluster.stateHash).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(plan.cluster.fingerprint)).toEqual(
      expect.arrayContaining([
        'node/worker-0',
        'node/cp-0',
        'pdb/apps/api',
        `flannel/configmap/${flannel.namespace}/${flannel.configMap}`,
        `flannel/daemonset/${flannel.namespace}/${flannel.daemonSet}`,
      ]),
    );
    // pods come and go (a web replica is replaced) without changing the hash
    const web = getPods(tb, 'apps', 'app=web')[0];
    kubectlOk(tb, ['delete', 'pod', '-n', 'apps', web.metadata.name, '--wait=false']);
    await waitFor(
      () =>
        getPods(tb, 'apps', 'app=web').filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp)
          .length === 3,
      60_000,
      'web back to 3 pods',
    );
    expect(planJson(tb, ['--force', '--delete-emptydir-data'], 0).cluster.stateHash).toBe(plan.cluster.stateHash);

    const client = ClusterClient.fromOptions({ kubeconfig: tb.kubeconfig });
    const detection = await detect(client, {});
    expect(diffSnapshots(plan.cluster.fingerprint, await collectSnapshot(client, detection))).toEqual([]);
    kubectlOk(tb, ['cordon', 'worker-1']);
    kubectlOk(tb, ['patch', 'pdb', 'web', '-n', 'apps', '--type', 'merge', '-p', '{"spec":{"maxUnavailable":2}}']);
    try {
      const drift = diffSnapshots(plan.cluster.fingerprint, await collectSnapshot(client, detection));
      expect(drift.map((d) => d.message)).toEqual([
        'node worker-1 changed (unschedulable)',
        'PodDisruptionBudget apps/web changed (spec)',
      ]);
      expect(planJson(tb, ['--force', '--delete-emptydir-data'], 0).cluster.stateHash).not.toBe(plan.cluster.stateHash);
    } finally {
      kubectlOk(tb, ['uncordon', 'worker-1']);
      kubectlOk(tb, ['patch', 'pdb', 'web', '-n', 'apps', '--type', 'merge', '-p', '{"spec":{"maxUnavailable":1}}']);
    }
    expect(planJson(tb, ['--force', '--delete-emptydir-data'], 0).cluster.stateHash).toBe(plan.cluster.stateHash);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('changes nothing in the cluster', () => {
    const before = resourceVersions(tb);
    expect(tb.cli(['plan']).status).toBe(3);
    expect(tb.cli(['plan', '--force', '--delete-emptydir-data', '-o', 'json', '--max-parallel', '2']).status).toBe(0);
    expect(resourceVersions(tb)).toEqual(before);
    expect(tb.kubectl(['get', 'crd', 'ippools.crd.projectcalico.org']).status).not.toBe(0);
    for (const node of getNodes(tb)) {
      expect(Object.keys(node.metadata.labels ?? {}).filter((k) => k.startsWith('projectcalico.org/'))).toEqual([]);
      expect(
        Object.keys(node.metadata.annotations ?? {}).filter(
          (k) => k.startsWith('projectcalico.org/') || k.startsWith('flannel2calico.io/'),
        ),
      ).toEqual([]);
    }
  });

  it('plans IPv6 too once flannel runs dual-stack', async () => {
    flannel = await installFlannel(tb, {
      netConf: {
        Network: '10.244.0.0/16',
        EnableIPv6: true,
        IPv6Network: 'fd00:10:244::/56',
        Backend: { Type: 'vxlan' },
      },
    });
    const plan = planJson(tb, ['--force', '--delete-emptydir-data'], 0);
    expect(plan.calico.pools.map((p) => [p.metadata?.name, p.spec.cidr, p.spec.blockSize, p.spec.vxlanMode])).toEqual([
      ['default-ipv4-ippool', '10.244.0.0/16', 26, 'Always'],
      ['default-ipv6-ippool', 'fd00:10:244::/56', 122, 'Always'],
    ]);
    expect(plan.calico.blockSizeV6).toBe(122);
    expect(plan.calico.felixConfigurationPatch).toEqual({
      spec: { vxlanVNI: 1, vxlanPort: 8472, vxlanMTU: 1450, vxlanMTUV6: 1450 },
    });
    for (const node of getNodes(tb)) {
      expectNodeMatchesCluster(
        plan.nodes.find((n) => n.name === node.metadata.name)!,
        node,
        nodeIndex.get(node.metadata.name)!,
        true,
      );
    }
    expect(plan.preflight.find((f) => f.id === 'cidr.service-overlap')).toMatchObject({
      level: 'pass',
      message: expect.stringContaining('ServiceCIDR'),
    });
  });
});

describe('plan on a Canal cluster', () => {
  let tb: Testbed;

  beforeAll(async () => {
    tb = await startTestbed({ nodes: 3, controlPlane: 1 });
    await installFlannel(tb, { canal: true });
    await installWorkloads(tb);
    // What Canal's calico-node leaves behind: its default pool without VXLAN.
    kubectlOk(
      tb,
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'crd.projectcalico.org/v1',
        kind: 'IPPool',
        metadata: { name: 'default-ipv4-ippool' },
        spec: {
          cidr: '10.244.0.0/16',
          blockSize: 26,
          ipipMode: 'Never',
          vxlanMode: 'Never',
          natOutgoing: true,
          nodeSelector: 'all()',
        },
      }),
    );
  }, 300_000);

  afterAll(async () => {
    await tb?.down();
  });

  it("plans Canal's default pool for replacement and flags another node's block affinity over a podCIDR", () => {
    const workerCidr = getNodes(tb).find((n) => n.metadata.name === 'worker-0')!.spec.podCIDR!;
    const stale = quarters(workerCidr)[1];
    kubectlOk(
      tb,
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'crd.projectcalico.org/v1',
        kind: 'BlockAffinity',
        metadata: { name: `gone-node-${stale.replace(/[./]/g, '-')}` },
        spec: { state: 'confirmed', node: 'gone-node', type: 'host', cidr: stale, deleted: 'false' },
      }),
    );
    const plan = planJson(tb, ['--force', '--delete-emptydir-data'], 3);
    expect(plan.flavour).toBe('canal');
    expect(plan.flannelDaemonSet).toEqual({ name: 'canal', namespace: 'kube-system' });
    expect(plan.calico.replacePools).toEqual(['default-ipv4-ippool']);
    expect(plan.preflight.find((f) => f.id === 'calico.pool')).toMatchObject({
      level: 'warn',
      message: expect.stringContaining("Canal's default pool"),
    });
    const fails = plan.preflight.filter((f) => f.level === 'fail');
    expect(fails).toEqual([
      expect.objectContaining({
        id: 'ipam.block-affinity',
        node: 'worker-0',
        message: expect.stringContaining(`claims ${stale}`),
      }),
    ]);
    expect(plan.batches).toEqual([['worker-0'], ['worker-1'], ['cp-0']]);
    for (const node of getNodes(tb)) {
      const planned = plan.nodes.find((n) => n.name === node.metadata.name)!;
      expect(planned.ipam.blocks.map((b) => b.spec.cidr)).toEqual(quarters(node.spec.podCIDR!));
      expect(planned.tunnelAddressV4).toBe(node.spec.podCIDR!.split('/')[0]);
      expect(planned.annotations['projectcalico.org/VXLANTunnelMACAddr']).toBe(vtepMac(node.metadata.name, 4));
    }

    kubectlOk(tb, ['delete', 'blockaffinities.crd.projectcalico.org', `gone-node-${stale.replace(/[./]/g, '-')}`]);
    const clean = planJson(tb, ['--force', '--delete-emptydir-data'], 0);
    expect(clean.preflight.filter((f) => f.level === 'fail')).toEqual([]);
    expect(clean.cluster.stateHash).not.toBe(plan.cluster.stateHash);
  });
});
