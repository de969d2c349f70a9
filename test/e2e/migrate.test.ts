import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  fixturesDir,
  getNodes,
  installFlannel,
  installWorkloads,
  kubectlJson,
  kubectlOk,
  repoRoot,
  scaleDeployment,
  startTestbed,
  waitFor,
  waitForPdb,
  type FlannelInstall,
  type NodeJson,
  type PodJson,
  type Testbed,
} from '../testbed/harness.js';

const MIGRATION_LABEL = 'projectcalico.org/node-network-during-migration';
const calicoManifest = path.join(fixturesDir, 'calico-v3.32.1/flannel-migration-calico.yaml');

interface Listed<T> {
  items: T[];
}
interface CalicoObject {
  metadata: { name: string };
  spec: Record<string, any>;
}

function logFile(name: string): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-audit-')), `${name}.ndjson`);
}

function auditEvents(file: string): Array<Record<string, any>> {
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function resourceVersions(tb: Testbed): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kind of ['nodes', 'daemonsets', 'configmaps', 'poddisruptionbudgets', 'deployments']) {
    const list = kubectlJson<Listed<{ metadata: { name: string; namespace?: string; resourceVersion: string } }>>(tb, [
      'get',
      kind,
      '-A',
      '-o',
      'json',
    ]);
    for (const item of list.items)
      out[`${kind}/${item.metadata.namespace ?? ''}/${item.metadata.name}`] = item.metadata.resourceVersion;
  }
  return out;
}

/** Runs the CLI in the background, resolving with its exit code and output. */
function runAsync(
  tb: Testbed,
  args: string[],
  onStderr?: (chunk: string) => void,
): { done: Promise<{ status: number; stdout: string; stderr: string }>; pid: number } {
  const child = spawn(
    process.execPath,
    [path.join(repoRoot, 'bin/flannel2calico.js'), '--kubeconfig', tb.kubeconfig, ...args],
    {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
    onStderr?.(String(d));
  });
  const done = new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ status: code ?? (signal ? 137 : 1), stdout, stderr }));
  });
  return { done, pid: child.pid! };
}

function nodeOf(tb: Testbed, namespace: string, selector: string): string {
  const pods = kubectlJson<Listed<PodJson>>(tb, ['get', 'pods', '-n', namespace, '-l', selector, '-o', 'json']).items;
  return pods.find((p) => p.spec.nodeName && !p.metadata.deletionTimestamp)!.spec.nodeName!;
}

function firstIp(cidr: string): string {
  return cidr.split('/')[0];
}

function expectIpamLikeCalico(tb: Testbed, flannel: FlannelInstall, nodes: NodeJson[]): void {
  const blocks = kubectlJson<Listed<CalicoObject>>(tb, ['get', 'ipamblocks.crd.projectcalico.org', '-o', 'json']).items;
  const affinities = kubectlJson<Listed<CalicoObject>>(tb, [
    'get',
    'blockaffinities.crd.projectcalico.org',
    '-o',
    'json',
  ]).items;
  const handles = kubectlJson<Listed<CalicoObject>>(tb, [
    'get',
    'ipamhandles.crd.projectcalico.org',
    '-o',
    'json',
  ]).items;
  const pools = kubectlJson<Listed<CalicoObject>>(tb, ['get', 'ippools.crd.projectcalico.org', '-o', 'json']).items;
  const pool = pools.find((p) => p.metadata.name === 'default-ipv4-ippool')!;
  expect(pool.spec).toMatchObject({
    cidr: flannel.netConf.Network,
    blockSize: 26,
    vxlanMode: 'Always',
    ipipMode: 'Never',
    natOutgoing: true,
  });
  for (const node of nodes) {
    const name = node.metadata.name;
    const podCidr = node.spec.podCIDR!;
    const own = blocks.filter((b) => b.spec.affinity === `host:${name}`);
    expect(own.map((b) => b.spec.cidr).sort()).toHaveLength(4);
    expect(own.every((b) => b.spec.cidr.startsWith(podCidr.split('.').slice(0, 3).join('.')))).toBe(true);
    expect(affinities.filter((a) => a.spec.node === name && a.spec.state === 'confirmed')).toHaveLength(4);
    const handle = handles.find((h) => h.spec.handleID === `vxlan-tunnel-addr-${name}`);
    expect(handle).toBeDefined();
    const annotations = node.metadata.annotations ?? {};
    expect(annotations['projectcalico.org/IPv4VXLANTunnelAddr']).toBe(firstIp(podCidr));
    const flannelData = JSON.parse(flannel.annotations[name][`${flannel.annotationPrefix}/backend-data`]);
    expect(annotations['projectcalico.org/VXLANTunnelMACAddr']).toBe(flannelData.VtepMAC);
    const first = own.find((b) => b.spec.cidr === podCidr.replace(/\/\d+$/, '/26'))!;
    const attribute = first.spec.attributes[first.spec.allocations[0]];
    expect(attribute.handle_id).toBe(`vxlan-tunnel-addr-${name}`);
  }
  const felix = kubectlJson<CalicoObject>(tb, [
    'get',
    'felixconfigurations.crd.projectcalico.org',
    'default',
    '-o',
    'json',
  ]);
  expect(felix.spec).toMatchObject({ vxlanVNI: 1, vxlanPort: 8472 });
}

async function allWorkloadsAvailable(tb: Testbed): Promise<void> {
  await waitFor(
    () => {
      const deployments = kubectlJson<
        Listed<{ metadata: { name: string }; spec: { replicas: number }; status: { availableReplicas?: number } }>
      >(tb, ['get', 'deployments', '-A', '-o', 'json']).items;
      const sets = kubectlJson<Listed<{ spec: { replicas: number }; status: { readyReplicas?: number } }>>(tb, [
        'get',
        'statefulsets',
        '-A',
        '-o',
        'json',
      ]).items;
      return (
        deployments.every((d) => (d.status.availableReplicas ?? 0) >= d.spec.replicas) &&
        sets.every((s) => (s.status.readyReplicas ?? 0) >= s.spec.replicas)
      );
    },
    90_000,
    'every Deployment and StatefulSet at full availability',
  );
}

/** The standard workloads, with the api Deployment scaled so that its PDB allows one disruption. */
async function installMigratableWorkloads(tb: Testbed): Promise<void> {
  await installWorkloads(tb);
  await scaleDeployment(tb, 'apps', 'api', 3);
  await waitForPdb(tb, 'apps', 'api');
}

const STEP_TITLES = [
  'cordon',
  'drain',
  'stop flannel (label network=none)',
  'remove flannel from the host',
  'start calico-node (label network=calico)',
  'prove pod connectivity',
  'uncordon',
];

/** A Migrated Event's message naming these steps, in order, each with its duration. */
function migratedMessage(titles: string[]): RegExp {
  const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(
    String.raw`^migrated to Calico in \d+\.\d s: ` +
      titles.map((t) => String.raw`${escape(t)} \d+\.\d s`).join(', ') +
      '$',
  );
}

/** The end state of a full migration (before finalize), checked against the cluster and the audit log. */
async function expectEveryNodeMigrated(tb: Testbed, flannel: FlannelInstall, log: string): Promise<void> {
  const nodes = getNodes(tb);
  expect(nodes.every((n) => n.metadata.labels?.[MIGRATION_LABEL] === 'calico')).toBe(true);
  expect(nodes.every((n) => !n.spec.unschedulable)).toBe(true);
  const calicoPods = kubectlJson<Listed<PodJson>>(tb, [
    'get',
    'pods',
    '-n',
    'kube-system',
    '-l',
    'k8s-app=calico-node',
    '-o',
    'json',
  ]).items;
  for (const n of nodes) {
    const pod = calicoPods.find((p) => p.spec.nodeName === n.metadata.name);
    expect(pod?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  }
  const flannelPods = kubectlJson<Listed<PodJson>>(tb, [
    'get',
    'pods',
    '-n',
    flannel.namespace,
    '-o',
    'json',
  ]).items.filter(
    (p) =>
      !p.metadata.deletionTimestamp &&
      p.metadata.ownerReferences?.some((o) => o.kind === 'DaemonSet' && o.name === flannel.daemonSet),
  );
  expect(flannelPods.map((p) => p.spec.nodeName)).toEqual([]);
  expectIpamLikeCalico(tb, flannel, nodes);
  await allWorkloadsAvailable(tb);

  const done = auditEvents(log)
    .filter((e) => e.event === 'node-done')
    .map((e) => e.node as string);
  expect(done.slice(-2).sort()).toEqual(['cp-0', 'cp-1']);
  const batches = auditEvents(log).filter((e) => e.event === 'batch-start');
  for (const b of batches.filter((x) => (x.nodes as string[]).some((n) => n.startsWith('cp-'))))
    expect(b.nodes).toHaveLength(1);
  // One Migrated Event per node naming every step its last run did, in order: all of them, or (for a node whose
  // earlier run failed) every step from the one its Warning Event names.
  const nodeEvents = kubectlJson<
    Listed<{ involvedObject: { name: string }; type: string; reason: string; message: string }>
  >(tb, ['get', 'events', '-n', 'default', '-o', 'json']).items;
  for (const n of nodes) {
    const own = nodeEvents.filter((e) => e.involvedObject.name === n.metadata.name);
    const migrated = own.filter((e) => e.reason === 'Migrated').map((e) => e.message);
    const failed = own.filter((e) => e.type === 'Warning' && e.reason === 'MigrationStepFailed').map((e) => e.message);
    const from = failed.length
      ? STEP_TITLES.findIndex((t) => failed[failed.length - 1].startsWith(`${t} failed: `))
      : 0;
    expect(from).toBeGreaterThanOrEqual(0);
    expect(migrated).toHaveLength(1);
    expect(migrated[0]).toMatch(migratedMessage(STEP_TITLES.slice(from)));
  }
}

describe('migrate: upstream flannel, 6 nodes (2 control-plane), workloads with PDBs', () => {
  let tb: Testbed;
  let flannel: FlannelInstall;

  beforeAll(async () => {
    tb = await startTestbed({ nodes: 6, controlPlane: 2 });
    flannel = await installFlannel(tb);
    await installMigratableWorkloads(tb);
  }, 300_000);

  afterAll(async () => {
    await tb?.down();
  });

  it('refuses without a terminal and without --yes, changing nothing', () => {
    const before = resourceVersions(tb);
    const r = tb.cli(['migrate', '--calico-manifest', calicoManifest]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
    expect(resourceVersions(tb)).toEqual(before);
  });

  it('rejects a missing manifest file with exit 2, changing nothing', () => {
    const before = resourceVersions(tb);
    const r = tb.cli(['migrate', '--yes', '--calico-manifest', '/nonexistent/calico.yaml']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot read the Calico manifest .*no such file/);
    expect(resourceVersions(tb)).toEqual(before);
  });

  it('--dry-run=client prints every step and changes nothing', () => {
    const before = resourceVersions(tb);
    const r = tb.cli([
      'migrate',
      '--dry-run=client',
      '--force',
      '--delete-emptydir-data',
      '--calico-manifest',
      calicoManifest,
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/batch 1\/\d+: worker-/);
    expect(r.stdout).toMatch(/cp-0/);
    expect(resourceVersions(tb)).toEqual(before);
  });

  it('--dry-run=server sends every write with dryRun=All and changes nothing', () => {
    const before = resourceVersions(tb);
    const log = logFile('server-dry-run');
    const r = tb.cli(
      [
        '--dry-run=server',
        'migrate',
        '--yes',
        '--no-finalize',
        '--force',
        '--delete-emptydir-data',
        '--calico-manifest',
        calicoManifest,
        '--log-file',
        log,
      ],
      { timeoutMs: 180_000 },
    );
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Server dry run: the API server accepted every write for 6 node\(s\)/);
    expect(resourceVersions(tb)).toEqual(before);
    const mutations = auditEvents(log).filter((e) => e.type === 'mutation');
    expect(mutations.some((m) => m.verb === 'evict')).toBe(true);
    expect(mutations.every((m) => m.dryRun === true)).toBe(true);
    expect(tb.kubectl(['get', 'daemonset', '-n', 'kube-system', 'calico-node']).status).not.toBe(0);
  }, 300_000);

  it('stops with exit 4 naming a PDB that allows no disruption, and resumes once it is relaxed', async () => {
    await scaleDeployment(tb, 'apps', 'api', 2);
    await waitFor(
      () =>
        kubectlJson<{ status: { disruptionsAllowed: number; observedGeneration?: number } }>(tb, [
          'get',
          'pdb',
          '-n',
          'apps',
          'api',
          '-o',
          'json',
        ]).status.disruptionsAllowed === 0,
      30_000,
      'api PDB at 0',
    );
    const canary = nodeOf(tb, 'apps', 'app=api');
    const log = logFile('pdb');
    const blocked = tb.cli(
      [
        'migrate',
        '--yes',
        '--no-finalize',
        '--nodes',
        canary,
        '--force',
        '--delete-emptydir-data',
        '--drain-timeout',
        '8s',
        '--calico-manifest',
        calicoManifest,
        '--log-file',
        log,
      ],
      { timeoutMs: 180_000 },
    );
    expect(blocked.status).toBe(4);
    expect(blocked.stderr).toMatch(/PodDisruptionBudget apps\/api/);
    expect(blocked.stderr).toMatch(/waiting on PDB apps\/api/);
    const cordoned = getNodes(tb).find((n) => n.metadata.name === canary)!;
    expect(cordoned.spec.unschedulable).toBe(true);
    expect(cordoned.metadata.labels?.[MIGRATION_LABEL]).toBe('flannel');

    await scaleDeployment(tb, 'apps', 'api', 3);
    await waitFor(
      () =>
        kubectlJson<{ status: { disruptionsAllowed: number } }>(tb, ['get', 'pdb', '-n', 'apps', 'api', '-o', 'json'])
          .status.disruptionsAllowed >= 1,
      60_000,
      'api PDB relaxed',
    );
    const resumed = tb.cli(
      ['migrate', '--yes', '--no-finalize', '--nodes', canary, '--force', '--delete-emptydir-data', '--log-file', log],
      { timeoutMs: 180_000 },
    );
    expect(resumed.stderr + resumed.stdout).toMatch(/Resuming/);
    expect(resumed.status).toBe(0);
    const migrated = getNodes(tb).find((n) => n.metadata.name === canary)!;
    expect(migrated.metadata.labels?.[MIGRATION_LABEL]).toBe('calico');
    expect(migrated.spec.unschedulable).toBeFalsy();
    const others = getNodes(tb).filter((n) => n.metadata.name !== canary);
    expect(
      others.map((n) => [n.metadata.name, n.metadata.labels?.[MIGRATION_LABEL], Boolean(n.spec.unschedulable)]),
    ).toEqual(others.map((n) => [n.metadata.name, 'flannel', false]));
    // Every node has its Calico identity before the first one moves, so migrated nodes can reach the others.
    const blocks = kubectlJson<Listed<CalicoObject>>(tb, [
      'get',
      'ipamblocks.crd.projectcalico.org',
      '-o',
      'json',
    ]).items;
    expect(new Set(blocks.map((b) => b.spec.affinity))).toEqual(
      new Set(getNodes(tb).map((n) => `host:${n.metadata.name}`)),
    );
    const flannelPods = kubectlJson<Listed<PodJson>>(tb, ['get', 'pods', '-n', flannel.namespace, '-o', 'json']).items;
    await waitFor(
      () => {
        const running = kubectlJson<Listed<PodJson>>(tb, [
          'get',
          'pods',
          '-n',
          flannel.namespace,
          '-o',
          'json',
        ]).items.filter((p) => !p.metadata.deletionTimestamp);
        return (
          others.every((n) => running.some((p) => p.spec.nodeName === n.metadata.name)) &&
          !running.some((p) => p.spec.nodeName === canary)
        );
      },
      60_000,
      `flannel pods on every node but ${canary} (${flannelPods.length} listed)`,
    );
    const events = auditEvents(log);
    expect(events.some((e) => e.type === 'mutation' && e.verb === 'evict')).toBe(true);
  }, 400_000);

  it('migrates every node, control-plane last, without violating a PDB; a concurrent run is refused', async () => {
    const log = logFile('full');
    const violations: string[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const pdbs = kubectlJson<
          Listed<{ metadata: { name: string }; status: { currentHealthy: number; desiredHealthy: number } }>
        >(tb, ['get', 'pdb', '-n', 'apps', '-o', 'json']).items;
        for (const p of pdbs)
          if (p.status.currentHealthy < p.status.desiredHealthy)
            violations.push(`${p.metadata.name}: ${p.status.currentHealthy} < ${p.status.desiredHealthy}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
    let sawBatch: () => void = () => undefined;
    const batchStarted = new Promise<void>((resolve) => {
      sawBatch = resolve;
    });
    const run = runAsync(
      tb,
      [
        'migrate',
        '--yes',
        '--no-finalize',
        '--force',
        '--delete-emptydir-data',
        '--calico-manifest',
        calicoManifest,
        '--log-file',
        log,
      ],
      (chunk) => {
        if (/batch \d+\/\d+/.test(chunk)) sawBatch();
      },
    );
    await batchStarted;
    const second = tb.cli(['migrate', '--yes', '--no-finalize', '--force', '--delete-emptydir-data']);
    expect(second.status).toBe(2);
    expect(second.stderr).toMatch(
      /another migration is running: the Lease kube-system\/flannel2calico is held by .*pid-/,
    );
    const result = await run.done;
    polling = false;
    await poller;
    expect(result.stderr).not.toMatch(/error:/);
    expect(result.status).toBe(0);
    expect(violations).toEqual([]);

    await expectEveryNodeMigrated(tb, flannel, log);
  }, 600_000);

  it('finalize removes flannel, the migration labels and the helper objects', () => {
    const r = tb.cli(['migrate', '--yes', '--finalize', '--force', '--delete-emptydir-data'], { timeoutMs: 180_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/finalized/);
    expect(tb.kubectl(['get', 'daemonset', '-n', flannel.namespace, flannel.daemonSet]).status).not.toBe(0);
    const nodes = getNodes(tb);
    expect(nodes.every((n) => n.metadata.labels?.[MIGRATION_LABEL] === undefined)).toBe(true);
    expect(nodes.every((n) => n.metadata.annotations?.['flannel2calico.io/state'] === undefined)).toBe(true);
    const ds = kubectlJson<{ spec: { template: { spec: { nodeSelector?: Record<string, string> } } } }>(tb, [
      'get',
      'daemonset',
      '-n',
      'kube-system',
      'calico-node',
      '-o',
      'json',
    ]);
    expect(ds.spec.template.spec.nodeSelector?.[MIGRATION_LABEL]).toBeUndefined();
    const helpers = kubectlJson<Listed<unknown>>(tb, [
      'get',
      'jobs,pods',
      '-n',
      'kube-system',
      '-l',
      'app.kubernetes.io/managed-by=flannel2calico',
      '-o',
      'json',
    ]).items;
    expect(helpers).toHaveLength(0);
    const again = tb.cli(['migrate', '--yes', '--finalize']);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/already finalized/);
  }, 300_000);
});

describe('migrate: Canal, 6 nodes (2 control-plane), workloads with PDBs', () => {
  let tb: Testbed;
  let flannel: FlannelInstall;

  beforeAll(async () => {
    tb = await startTestbed({ nodes: 6, controlPlane: 2 });
    flannel = await installFlannel(tb, { canal: true });
    // What Canal's calico-node creates at start-up: a default pool without VXLAN.
    kubectlOk(
      tb,
      ['apply', '-f', '-'],
      `apiVersion: crd.projectcalico.org/v1
kind: IPPool
metadata: {name: default-ipv4-ippool}
spec: {cidr: 10.244.0.0/16, blockSize: 26, ipipMode: Never, vxlanMode: Never, natOutgoing: true, nodeSelector: all()}
`,
    );
    await installMigratableWorkloads(tb);
  }, 300_000);

  afterAll(async () => {
    await tb?.down();
  });

  it('asks through a terminal before installing Calico and before the first batch; "no" stops cleanly', () => {
    const cli = [
      process.execPath,
      path.join(repoRoot, 'bin/flannel2calico.js'),
      '--kubeconfig',
      tb.kubeconfig,
      'migrate',
      '--no-finalize',
      '--force',
      '--delete-emptydir-data',
      '--calico-manifest',
      calicoManifest,
    ];
    const script = [
      { expect: 'Apply it now\\?', send: 'y\r' },
      { expect: 'Migrate the first batch', send: '\u001b[B\u001b[B\r' },
    ];
    const r = spawnPty(cli, script);
    expect(r.output).toMatch(/Install Calico in migration mode/);
    expect(r.output).toMatch(/veth_mtu/);
    expect(r.output).toMatch(/Stopped at your request/);
    expect(r.output).toMatch(/replacing Canal's default IPPool default-ipv4-ippool/);
    expect(r.status).toBe(0);
    const pool = kubectlJson<CalicoObject>(tb, [
      'get',
      'ippools.crd.projectcalico.org',
      'default-ipv4-ippool',
      '-o',
      'json',
    ]);
    expect(pool.spec).toMatchObject({ cidr: '10.244.0.0/16', vxlanMode: 'Always' });
    const nodes = getNodes(tb);
    expect(nodes.map((n) => [n.metadata.labels?.[MIGRATION_LABEL], Boolean(n.spec.unschedulable)])).toEqual(
      nodes.map(() => ['flannel', false]),
    );
    expect(tb.kubectl(['get', 'daemonset', '-n', 'kube-system', 'calico-node']).status).toBe(0);
  }, 300_000);

  it('with --yes migrates every node, control-plane last', async () => {
    const log = logFile('canal');
    const r = tb.cli(['migrate', '--yes', '--no-finalize', '--force', '--delete-emptydir-data', '--log-file', log], {
      timeoutMs: 300_000,
    });
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.status).toBe(0);
    await expectEveryNodeMigrated(tb, flannel, log);
  }, 400_000);

  it('"yes" at the terminal finalizes: the canal DaemonSet is gone', () => {
    const cli = [
      process.execPath,
      path.join(repoRoot, 'bin/flannel2calico.js'),
      '--kubeconfig',
      tb.kubeconfig,
      'migrate',
      '--force',
      '--delete-emptydir-data',
    ];
    const r = spawnPty(cli, [{ expect: 'Finalize now', send: 'y\r' }]);
    expect(r.output).toMatch(/finalized/);
    expect(r.status).toBe(0);
    expect(tb.kubectl(['get', 'daemonset', '-n', flannel.namespace, flannel.daemonSet]).status).not.toBe(0);
    expect(getNodes(tb).every((n) => n.metadata.labels?.[MIGRATION_LABEL] === undefined)).toBe(true);
  }, 300_000);
});

function spawnPty(cmd: string[], script: Array<{ expect: string; send: string }>): { status: number; output: string } {
  const r = spawnSync(
    'python3',
    [path.join(repoRoot, 'test/e2e/pty-run.py'), '300', JSON.stringify(script), '--', ...cmd],
    {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', TERM: 'xterm' },
      timeout: 320_000,
    },
  );
  return { status: r.status ?? 1, output: r.stdout + r.stderr };
}
