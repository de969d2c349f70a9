/**
 * Migrations whose nodes are real where it matters: three nodes of each cluster are network
 * namespaces (test/testbed/netns-nodes.ts) where the real flanneld v0.28.10 runs against the test bed
 * and the product's host Jobs run for real, in the calico/node image's command set, through the node
 * agent. The other nodes and every other pod stay with kwok. Needs root, VXLAN, iptables (nft and
 * legacy), nft and the flanneld build (test/testbed/build-flanneld.sh, run by prepare.sh).
 */
import path from 'node:path';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  fixturesDir,
  getNodes,
  installFlannel,
  kubectlJson,
  runCommand,
  startTestbed,
  type FlannelInstall,
  type NodeJson,
  type Testbed,
} from '../testbed/harness.js';
import { calicoNodeCommandDir } from '../testbed/image-commands.js';
import { FELIX_RULES } from '../testbed/iptables.js';
import { startNetnsNodes, type Flavour, type NetnsNodes } from '../testbed/netns-nodes.js';

const MIGRATION_LABEL = 'projectcalico.org/node-network-during-migration';
const STATE_ANNOTATION = 'flannel2calico.io/state';
const calicoManifest = path.join(fixturesDir, 'calico-v3.32.1/flannel-migration-calico.yaml');
const NAMESPACE_NODES = ['worker-0', 'worker-1', 'worker-2'];
const GOOD_IMAGE = 'quay.io/calico/node:v3.32.1';
const IMAGE_WITHOUT_TOOLS = 'registry.test/calico-node-without-nft-and-iptables:v3.32.1';
const IMAGE_FAILING_RESTORE = 'registry.test/calico-node-broken-iptables-nft-restore:v3.32.1';
const IMAGE_NOT_PULLABLE = 'registry.test/no-such-image:v1';
const VNI = 1;

/** What the suite counts, printed at the end for the report. */
const summary = {
  namespaceNodesMigrated: [] as string[],
  leftovers: [] as string[],
  reverted: [] as string[],
  failuresInjected: [] as Array<{ flavour: Flavour; failure: string; ended: string }>,
  hostPodsRun: [] as Array<{
    flavour: Flavour;
    node: string;
    role: string;
    image: string;
    outcome: string;
    exitCode?: number;
  }>,
};

const migrateArgs = (extra: string[]) => [
  'migrate',
  '--yes',
  '--no-finalize',
  '--force',
  '--delete-emptydir-data',
  '--calico-manifest',
  calicoManifest,
  ...extra,
];

function nodeNamed(tb: Testbed, name: string): NodeJson {
  const node = getNodes(tb).find((n) => n.metadata.name === name);
  if (!node) throw new Error(`no node ${name}`);
  return node;
}

/** flanneld's chains, copied into iptables-legacy: a node whose flanneld once ran with the legacy backend. */
function seedLegacyChains(nn: NetnsNodes, node: string): void {
  const dump = nn.exec(node, 'iptables-nft-save', []).stdout;
  let table = '';
  const byTable = new Map<string, string[]>();
  for (const line of dump.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.includes('FLANNEL'))
      byTable.set(table, [...(byTable.get(table) ?? []), line.replace(/ \[\d+:\d+\]$/, ' [0:0]')]);
  }
  const rules = [...byTable]
    .map(
      ([t, lines]) =>
        `*${t}\n${lines.filter((l) => l.startsWith(':')).join('\n')}\n${lines.filter((l) => l.startsWith('-A')).join('\n')}\nCOMMIT\n`,
    )
    .join('');
  if (!rules.includes('FLANNEL-')) throw new Error(`flanneld made no FLANNEL chains on ${node}:\n${dump}`);
  const r = nn.exec(node, 'iptables-legacy-restore', ['--noflush'], rules);
  if (r.status !== 0) throw new Error(`seeding legacy chains on ${node}: ${r.stderr}`);
}

/** Everything of flannel's still on a moved node, as "node: what" (empty when clean). */
function flannelLeftovers(nn: NetnsNodes, node: string, flavour: Flavour): string[] {
  const found: string[] = [];
  const links = nn.links(node).map((l) => l.ifname);
  for (const dev of [`flannel.${VNI}`, `flannel-v6.${VNI}`, ...(flavour === 'flannel' ? ['cni0'] : [])])
    if (links.includes(dev)) found.push(`link ${dev}`);
  for (const tool of ['iptables-nft-save', 'iptables-legacy-save', 'ip6tables-nft-save', 'ip6tables-legacy-save']) {
    for (const chain of nn.chains(node, tool).filter((c) => c.startsWith('FLANNEL')))
      found.push(`${tool} chain ${chain}`);
  }
  for (const table of nn.nftTables(node).filter((t) => /flannel/.test(t))) found.push(table);
  for (const file of [
    'etc/cni/net.d/10-flannel.conflist',
    'etc/cni/net.d/10-canal.conflist',
    'run/flannel/subnet.env',
  ]) {
    if (fs.existsSync(nn.hostPath(node, file))) found.push(`file /${file}`);
  }
  for (const route of nn.routes(node).filter((r) => r.includes(`flannel.${VNI}`) || r.includes('cni0')))
    found.push(`route ${route}`);
  return found.map((f) => `${node}: ${f}`);
}

/** flanneld on `peer` (not moved yet) still has its route, neighbour and FDB entry towards `moved`. */
function expectOverlayTowards(nn: NetnsNodes, tb: Testbed, peer: string, moved: string, movedMac: string): void {
  const podCidr = nodeNamed(tb, moved).spec.podCIDR!;
  const vtepIp = podCidr.split('/')[0];
  expect(nn.flanneldRunning(peer)).toBe(true);
  expect(nn.routes(peer)).toContain(`${podCidr} via ${vtepIp} dev flannel.${VNI} onlink`);
  expect(nn.neighbours(peer, `flannel.${VNI}`)).toContain(`${vtepIp} lladdr ${movedMac} PERMANENT`);
  expect(nn.fdb(peer, `flannel.${VNI}`)).toContain(`${movedMac} dst ${nn.node(moved).ip} self permanent`);
}

function stateOf(
  tb: Testbed,
  node: string,
): { operation?: string; step?: string; completed?: string[]; error?: string } | undefined {
  const raw = nodeNamed(tb, node).metadata.annotations?.[STATE_ANNOTATION];
  return raw ? JSON.parse(raw) : undefined;
}

/** The node's first Calico IPAM block (written by the migration) and another node's, for Felix's routes. */
function calicoBlocks(tb: Testbed, node: string): { own: string; other: string } {
  const blocks = kubectlJson<{ items: Array<{ spec: { affinity?: string; cidr: string } }> }>(tb, [
    'get',
    'ipamblocks.crd.projectcalico.org',
  ]).items.filter((b) => !b.spec.cidr.includes(':'));
  const own = blocks.find((b) => b.spec.affinity === `host:${node}`)?.spec.cidr;
  const other = blocks.find((b) => b.spec.affinity && b.spec.affinity !== `host:${node}`)?.spec.cidr;
  if (!own || !other) throw new Error(`no IPAM blocks for ${node} and another node: ${JSON.stringify(blocks)}`);
  return { own, other };
}

/** What calico-node leaves on a node: vxlan.calico, Felix's routes (proto 80), its chains, Calico's CNI config. */
function seedCalico(tb: Testbed, nn: NetnsNodes, node: string): { own: string; other: string } {
  const blocks = calicoBlocks(tb, node);
  const must = (r: { status: number | null; stderr: string }, what: string): void => {
    if (r.status !== 0) throw new Error(`seeding Calico on ${node}: ${what}: ${r.stderr}`);
  };
  must(
    nn.exec(node, 'ip', [
      'link',
      'add',
      'vxlan.calico',
      'type',
      'vxlan',
      'id',
      '4096',
      'local',
      nn.node(node).ip,
      'dev',
      'eth0',
      'dstport',
      '4789',
      'nolearning',
    ]),
    'vxlan.calico',
  );
  must(nn.exec(node, 'ip', ['link', 'set', 'vxlan.calico', 'up']), 'vxlan.calico up');
  must(nn.exec(node, 'ip', ['route', 'add', 'blackhole', blocks.own, 'proto', '80']), 'blackhole route');
  must(
    nn.exec(node, 'ip', [
      'route',
      'add',
      blocks.other,
      'via',
      blocks.other.split('/')[0],
      'dev',
      'vxlan.calico',
      'onlink',
      'proto',
      '80',
    ]),
    'route via vxlan.calico',
  );
  must(nn.exec(node, 'iptables-nft-restore', ['--noflush'], FELIX_RULES), 'cali- chains');
  const cniDir = nn.hostPath(node, 'etc/cni/net.d');
  fs.writeFileSync(
    path.join(cniDir, '10-calico.conflist'),
    JSON.stringify(
      {
        name: 'k8s-pod-network',
        cniVersion: '0.3.1',
        plugins: [
          {
            type: 'calico',
            log_level: 'info',
            datastore_type: 'kubernetes',
            nodename: node,
            mtu: 1450,
            ipam: { type: 'calico-ipam' },
            policy: { type: 'k8s' },
            kubernetes: { kubeconfig: '/etc/cni/net.d/calico-kubeconfig' },
          },
          { type: 'portmap', snat: true, capabilities: { portMappings: true } },
        ],
      },
      null,
      2,
    ),
  );
  fs.writeFileSync(path.join(cniDir, 'calico-kubeconfig'), 'apiVersion: v1\nkind: Config\n');
  return blocks;
}

/** Everything of Calico's on a node, as "node: what" (empty when clean). */
function calicoLeftovers(nn: NetnsNodes, node: string): string[] {
  const found: string[] = [];
  for (const dev of ['vxlan.calico', 'vxlan-v6.calico'])
    if (nn.links(node).some((l) => l.ifname === dev)) found.push(`link ${dev}`);
  for (const route of nn.routes(node).filter((r) => r.includes('proto 80') || r.includes('vxlan.calico')))
    found.push(`route ${route}`);
  for (const tool of ['iptables-nft-save', 'iptables-legacy-save']) {
    for (const chain of nn.chains(node, tool).filter((c) => c.startsWith('cali-')))
      found.push(`${tool} chain ${chain}`);
  }
  for (const file of ['etc/cni/net.d/10-calico.conflist', 'etc/cni/net.d/calico-kubeconfig']) {
    if (fs.existsSync(nn.hostPath(node, file))) found.push(`file /${file}`);
  }
  return found.map((f) => `${node}: ${f}`);
}

describe.each<Flavour>(['flannel', 'canal'])(
  '%s: migration where three nodes are network namespaces running flanneld',
  (flavour) => {
    let tb: Testbed;
    let nn: NetnsNodes;
    let flannel: FlannelInstall;
    /** flannel.<VNI>'s MAC on each namespace node, read from the device before the migration. */
    const macs: Record<string, string> = {};
    const simulated = ['cp-0', 'worker-3'];

    beforeAll(async () => {
      tb = await startTestbed({ nodes: 5, controlPlane: 1, agentNodes: NAMESPACE_NODES });
      nn = await startNetnsNodes(tb, { nodes: NAMESPACE_NODES, flavour });
      nn.registerImage(
        IMAGE_WITHOUT_TOOLS,
        calicoNodeCommandDir({
          without: [
            'nft',
            'iptables',
            'iptables-nft',
            'iptables-legacy',
            'iptables-nft-restore',
            'iptables-legacy-restore',
            'iptables-nft-save',
            'iptables-legacy-save',
            'iptables-restore',
            'iptables-save',
          ],
        }),
      );
      nn.registerImage(
        IMAGE_FAILING_RESTORE,
        calicoNodeCommandDir({
          replace: { 'iptables-nft-restore': 'echo "iptables-nft-restore: line 3 failed (simulated)" >&2; exit 1' },
        }),
      );
      flannel = await installFlannel(tb, { canal: flavour === 'canal', skipNodes: NAMESPACE_NODES });
      await nn.waitForFlanneld(VNI);
      for (const node of NAMESPACE_NODES) {
        macs[node] = nn.links(node).find((l) => l.ifname === `flannel.${VNI}`)!.address!;
        seedLegacyChains(nn, node);
      }
    }, 240_000);

    afterAll(async () => {
      for (const run of nn?.runs ?? [])
        summary.hostPodsRun.push({
          flavour,
          node: run.node,
          role: run.role,
          image: run.image,
          outcome: run.outcome,
          exitCode: run.exitCode,
        });
      await nn?.down();
      if (nn) {
        const left = runCommand('ip', ['netns', 'list']).stdout;
        for (const ns of nn.resources.namespaces) expect(left).not.toContain(ns);
        expect(runCommand('ip', ['link', 'show', nn.resources.hostVeth]).status).not.toBe(0);
      }
      await tb?.down();
    }, 120_000);

    it(
      "flanneld wrote the annotations that detection reads: VtepMAC is flannel.1's MAC in each " + "node's namespace",
      () => {
        const r = tb.cli(['detect', '-o', 'json']);
        expect(r.status).toBe(0);
        // Progress only: connecting, reading.
        expect(r.stderr).not.toMatch(/error|warning/i);
        const doc = JSON.parse(r.stdout) as {
          flavour?: string;
          nodes: Array<{
            name: string;
            vtepMacV4?: string;
            publicIpV4?: string;
            vni?: number;
            kubeSubnetManager?: boolean;
          }>;
        };
        for (const name of NAMESPACE_NODES) {
          const node = doc.nodes.find((n) => n.name === name)!;
          expect(macs[name]).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
          expect(node).toMatchObject({
            vtepMacV4: macs[name],
            publicIpV4: nn.node(name).ip,
            vni: VNI,
            kubeSubnetManager: true,
          });
        }
        // flanneld's routes towards every other node, from the annotations flanneld and the harness wrote.
        for (const name of NAMESPACE_NODES) {
          for (const peer of tb.nodeNames.filter((n) => n !== name)) {
            expect(nn.routes(name)).toContain(
              `${nodeNamed(tb, peer).spec.podCIDR} via ${nodeNamed(tb, peer).spec.podCIDR!.split('/')[0]} ` +
                `dev flannel.${VNI} onlink`,
            );
          }
        }
        expect(nn.chains('worker-0', 'iptables-legacy-save').filter((c) => c.startsWith('FLANNEL'))).toEqual(
          expect.arrayContaining(['FLANNEL-POSTRTG', 'FLANNEL-FWD']),
        );
      },
    );

    // Failures are injected into the flannel cluster only, to keep the suite short.
    const injectFailures = flavour === 'flannel';

    if (injectFailures)
      it(
        'a helper image without nft and iptables stops the run before the first drain, naming the ' +
          'missing commands',
        async () => {
          // --nodes: the image check runs on the first node to move, here a namespace node.
          const r = await tb.cliAsync(
            migrateArgs(['--nodes', NAMESPACE_NODES[0], '--helper-image', IMAGE_WITHOUT_TOOLS]),
            { timeoutMs: 300_000 },
          );
          expect(r.status).toBe(1);
          const said = r.stdout + r.stderr;
          expect(said).toMatch(/nft/);
          expect(said).toMatch(/iptables/);
          expect(said).toContain(IMAGE_WITHOUT_TOOLS);
          const nodes = getNodes(tb);
          expect(nodes.filter((n) => n.spec.unschedulable).map((n) => n.metadata.name)).toEqual([]);
          expect(nodes.filter((n) => stateOf(tb, n.metadata.name)).map((n) => n.metadata.name)).toEqual([]);
          // The image check really ran on a namespace node and failed there, naming what it lacks.
          const check = nn.runs.find((run) => run.role === 'host-check' && run.image === IMAGE_WITHOUT_TOOLS);
          expect(check?.outcome).toBe('Failed');
          expect(check?.output).toMatch(/nft/);
          for (const node of NAMESPACE_NODES) expect(nn.flanneldRunning(node)).toBe(true);
          summary.failuresInjected.push({
            flavour,
            failure: `--helper-image ${IMAGE_WITHOUT_TOOLS}`,
            ended: `exit ${r.status} before the first drain, no node cordoned`,
          });
        },
        320_000,
      );

    if (injectFailures)
      it('a helper image that cannot be pulled stops the run before the first drain', async () => {
        const r = await tb.cliAsync(
          migrateArgs(['--nodes', NAMESPACE_NODES[0], '--helper-image', IMAGE_NOT_PULLABLE]),
          { timeoutMs: 300_000 },
        );
        expect(r.status).toBe(1);
        expect(r.stdout + r.stderr).toMatch(/its pod did not run the check \(ImagePullBackOff\)/);
        expect(r.stdout + r.stderr).toContain(IMAGE_NOT_PULLABLE);
        expect(
          getNodes(tb)
            .filter((n) => n.spec.unschedulable)
            .map((n) => n.metadata.name),
        ).toEqual([]);
        const check = nn.runs.find((run) => run.role === 'host-check' && run.image === IMAGE_NOT_PULLABLE);
        expect(check?.outcome).toBe('ErrImagePull');
        expect(check?.output).toBe('');
        summary.failuresInjected.push({
          flavour,
          failure: `--helper-image ${IMAGE_NOT_PULLABLE} (not pullable)`,
          ended: `exit ${r.status} before the first drain, no node cordoned`,
        });
      }, 320_000);

    /** flannel's leftovers on a moved namespace node, Calico's placeholder, the agent's one successful cleanup. */
    function expectMovedCleanly(node: string): void {
      const moved = nodeNamed(tb, node);
      expect(moved.metadata.labels?.[MIGRATION_LABEL]).toBe('calico');
      expect(moved.spec.unschedulable).toBeFalsy();
      expect(nn.flanneldRunning(node)).toBe(false);
      const left = flannelLeftovers(nn, node, flavour);
      summary.leftovers.push(...left);
      expect(left).toEqual([]);
      const placeholder = JSON.parse(
        fs.readFileSync(nn.hostPath(node, 'etc/cni/net.d/10-calico.conflist'), 'utf8'),
      ) as { plugins: Array<{ type: string }> };
      expect(placeholder.plugins).toEqual([{ type: 'flannel2calico-migration-in-progress' }]);
      expect(moved.metadata.annotations?.['projectcalico.org/VXLANTunnelMACAddr']).toBe(macs[node]);
      const success = nn.runs.filter(
        (run) => run.node === node && run.role === 'host-cleanup' && run.outcome === 'Succeeded',
      );
      expect(success).toHaveLength(1);
      summary.namespaceNodesMigrated.push(`${flavour}/${node}`);
    }

    it(
      "moves the namespace nodes one by one, leaving none of flannel's state and the overlay of " + 'the others whole',
      async () => {
        // The last one moves with the rest in the next test: no namespace node is left to check the overlay from.
        for (const [i, node] of NAMESPACE_NODES.slice(0, -1).entries()) {
          const failing = injectFailures && node === 'worker-1';
          if (failing) {
            // A script failure mid-run: the node stays cordoned with the error recorded, and a rerun resumes.
            const r = await tb.cliAsync(migrateArgs(['--nodes', node, '--helper-image', IMAGE_FAILING_RESTORE]), {
              timeoutMs: 300_000,
            });
            expect(r.status).toBe(1);
            const state = stateOf(tb, node);
            expect(nodeNamed(tb, node).spec.unschedulable).toBe(true);
            expect(state?.step).toBe('host-cleanup');
            expect(state?.error).toMatch(/iptables-nft-restore: line 3 failed \(simulated\)/);
            const cleanup = nn.runs.filter((run) => run.node === node && run.role === 'host-cleanup');
            expect(cleanup.length).toBeGreaterThan(0);
            expect(cleanup.every((run) => run.outcome === 'Failed')).toBe(true);
            summary.failuresInjected.push({
              flavour,
              failure: `--helper-image ${IMAGE_FAILING_RESTORE} on ${node}`,
              ended: `exit ${r.status}, ${node} cordoned, error recorded at step ${state?.step}`,
            });
          }
          const r = await tb.cliAsync(migrateArgs(['--nodes', node, '--helper-image', GOOD_IMAGE]), {
            timeoutMs: 300_000,
          });
          expect(r.stderr).not.toMatch(/error:/);
          expect(r.status).toBe(0);
          if (failing) {
            expect(r.stdout + r.stderr).toMatch(/Resuming/);
            summary.failuresInjected[summary.failuresInjected.length - 1].ended +=
              '; a rerun with the calico/node image resumed and finished it';
          }

          expectMovedCleanly(node);
          for (const peer of NAMESPACE_NODES.slice(i + 1)) expectOverlayTowards(nn, tb, peer, node, macs[node]);
        }
      },
      900_000,
    );

    it('moves the last namespace node and the simulated nodes, the control plane last', async () => {
      const r = await tb.cliAsync(migrateArgs([]), { timeoutMs: 300_000 });
      expect(r.stderr).not.toMatch(/error:/);
      expect(r.status).toBe(0);
      expectMovedCleanly(NAMESPACE_NODES[NAMESPACE_NODES.length - 1]);
      const nodes = getNodes(tb);
      expect(nodes.map((n) => [n.metadata.name, n.metadata.labels?.[MIGRATION_LABEL]])).toEqual(
        nodes.map((n) => [n.metadata.name, 'calico']),
      );
      // Host Jobs on simulated nodes were completed by kwok, never by the agent.
      expect(nn.runs.filter((run) => simulated.includes(run.node))).toEqual([]);
      const jobs = kubectlJson<{
        items: Array<{
          metadata: { labels?: Record<string, string> };
          spec: { template: { spec: { nodeName?: string } } };
          status: { succeeded?: number };
        }>;
      }>(tb, ['get', 'jobs', '-n', 'kube-system', '-l', 'flannel2calico.io/role=host-cleanup']).items;
      expect(new Set(jobs.filter((j) => j.status.succeeded === 1).map((j) => j.spec.template.spec.nodeName))).toEqual(
        new Set(tb.nodeNames),
      );
      // On namespace nodes every host pod was finished by the agent (its container IDs), none by kwok.
      const pods = kubectlJson<{
        items: Array<{ spec: { nodeName?: string }; status?: { containerStatuses?: Array<{ containerID?: string }> } }>;
      }>(tb, ['get', 'pods', '-n', 'kube-system', '-l', 'flannel2calico.io/role in (host-cleanup,host-check)']).items;
      const onNamespaceNodes = pods.filter((p) => NAMESPACE_NODES.includes(p.spec.nodeName ?? ''));
      expect(onNamespaceNodes.length).toBeGreaterThan(0);
      expect(
        onNamespaceNodes.map((p) => p.status?.containerStatuses?.[0]?.containerID?.startsWith('netns://') ?? false),
      ).not.toContain(false);
      expect(flannel.daemonSet).toBeTruthy();
    }, 320_000);

    const revertArgs = (extra: string[]) => ['revert', '--yes', '--force', '--delete-emptydir-data', ...extra];

    // Revert is proven on the flannel cluster only, to keep the suite short.
    if (injectFailures)
      it(
        "revert moves two namespace nodes back: Calico's side removed by the real revert.sh, " +
          'flanneld back with its overlay',
        async () => {
          const reverted = NAMESPACE_NODES.slice(0, 2);
          const blocks: Record<string, { own: string; other: string }> = {};
          for (const node of reverted) {
            blocks[node] = seedCalico(tb, nn, node);
            expect(calicoLeftovers(nn, node)).toHaveLength(10);
          }
          const r = await tb.cliAsync(revertArgs(reverted.flatMap((n) => ['--node', n])), { timeoutMs: 600_000 });
          expect(r.stderr).not.toMatch(/error:/);
          expect(r.status).toBe(0);
          expect(r.stdout).toMatch(/2 node\(s\) moved back to flannel/);

          for (const node of reverted) {
            // The host revert Job really ran: through the agent, once, in the node's namespace.
            const runs = nn.runs.filter((run) => run.node === node && run.role === 'host-revert');
            expect(runs.map((run) => [run.image, run.outcome, run.exitCode])).toEqual([[GOOD_IMAGE, 'Succeeded', 0]]);
            const said = runs[0].output.split('\n').map((l) => l.trim());
            expect(said).toEqual(
              expect.arrayContaining([
                'removed file /etc/cni/net.d/10-calico.conflist',
                'removed file /etc/cni/net.d/calico-kubeconfig',
                'removed link vxlan.calico',
                `removed route blackhole ${blocks[node].own} proto 80`,
                'removed rule iptables-nft filter FORWARD -> cali-FORWARD',
                'removed chain iptables-nft filter cali-from-hep-forward',
                'removed chain iptables-nft nat cali-nat-outgoing',
              ]),
            );
            expect(said.some((l) => l.includes(`done: ${node} is clean of Calico's networking`))).toBe(true);
            expect(calicoLeftovers(nn, node)).toEqual([]);

            // flannel is back: its pod and flanneld, which recreated flannel.<VNI>, subnet.env and its CNI config.
            const back = nodeNamed(tb, node);
            expect(back.metadata.labels?.[MIGRATION_LABEL]).toBe('flannel');
            expect(back.spec.unschedulable).toBeFalsy();
            expect(stateOf(tb, node)).toMatchObject({ operation: 'revert' });
            expect(stateOf(tb, node)?.error).toBeUndefined();
            const flannelPods = kubectlJson<{
              items: Array<{
                metadata: { ownerReferences?: Array<{ kind: string; name: string }> };
                spec: { nodeName?: string };
                status?: { phase?: string };
              }>;
            }>(tb, ['get', 'pods', '-n', flannel.namespace]).items.filter(
              (p) =>
                p.spec.nodeName === node &&
                p.metadata.ownerReferences?.some((o) => o.kind === 'DaemonSet' && o.name === flannel.daemonSet),
            );
            expect(flannelPods.map((p) => p.status?.phase)).toEqual(['Running']);
            expect(nn.flanneldRunning(node)).toBe(true);
            expect(nn.flanneldEvents.filter((e) => e.endsWith(` ${node}`)).slice(-2)).toEqual([
              `stop ${node}`,
              `start ${node}`,
            ]);
            expect(nn.links(node).map((l) => l.ifname)).toContain(`flannel.${VNI}`);
            expect(fs.readFileSync(nn.hostPath(node, 'run/flannel/subnet.env'), 'utf8')).toContain(
              `FLANNEL_SUBNET=${back.spec.podCIDR!.replace(/0\/24$/, '1/24')}`,
            );
            expect(
              JSON.parse(fs.readFileSync(nn.hostPath(node, 'etc/cni/net.d/10-flannel.conflist'), 'utf8')),
            ).toMatchObject({ plugins: expect.arrayContaining([expect.objectContaining({ type: 'flannel' })]) });
          }
          // Each reverted node's flanneld reaches the other again: route, neighbour and FDB entry.
          const mac = (node: string) => nn.links(node).find((l) => l.ifname === `flannel.${VNI}`)!.address!;
          expectOverlayTowards(nn, tb, reverted[1], reverted[0], mac(reverted[0]));
          expectOverlayTowards(nn, tb, reverted[0], reverted[1], mac(reverted[1]));
          summary.reverted.push(...reverted.map((n) => `${flavour}/${n}`));
        },
        620_000,
      );

    if (injectFailures)
      it(
        'revert with a helper image without nft and iptables stops before the first drain, naming ' +
          'the missing commands; a rerun with a good image finishes',
        async () => {
          const node = NAMESPACE_NODES[2];
          seedCalico(tb, nn, node);
          const seeded = calicoLeftovers(nn, node);
          expect(seeded).toHaveLength(10);
          const r = await tb.cliAsync(revertArgs(['--node', node, '--helper-image', IMAGE_WITHOUT_TOOLS]), {
            timeoutMs: 300_000,
          });
          expect(r.status).toBe(1);
          const said = r.stdout + r.stderr;
          expect(said).toContain(IMAGE_WITHOUT_TOOLS);
          expect(said).toMatch(/lacks the commands .*nft/);
          expect(said).toMatch(/iptables/);
          expect(said).toMatch(/No node was drained/);
          // The revert script's command check ran in the namespace node with that image's commands and changed nothing.
          const checks = nn.runs.filter(
            (run) => run.node === node && run.role === 'host-check' && run.image === IMAGE_WITHOUT_TOOLS,
          );
          expect(checks.length).toBeGreaterThan(0);
          for (const run of checks) {
            expect(run.outcome).toBe('Failed');
            expect(run.exitCode).toBe(2);
            expect(run.output).toMatch(/nft/);
            expect(run.output).not.toMatch(/^removed /m);
          }
          expect(nn.runs.filter((run) => run.node === node && run.role === 'host-revert')).toEqual([]);
          expect(calicoLeftovers(nn, node)).toEqual(seeded);
          expect(nodeNamed(tb, node).spec.unschedulable).toBeFalsy();
          expect(stateOf(tb, node)?.operation).not.toBe('revert');
          summary.failuresInjected.push({
            flavour,
            failure: `revert --helper-image ${IMAGE_WITHOUT_TOOLS} on ${node}`,
            ended: `exit ${r.status} before the first drain, ${node} not cordoned, Calico's side untouched`,
          });

          const rerun = await tb.cliAsync(revertArgs(['--node', node]), { timeoutMs: 300_000 });
          expect({ status: rerun.status, stderr: rerun.status === 0 ? '' : rerun.stderr }).toEqual({
            status: 0,
            stderr: '',
          });
          const reverts = nn.runs.filter((run) => run.node === node && run.role === 'host-revert');
          expect(reverts.map((run) => [run.outcome, run.exitCode])).toEqual([['Succeeded', 0]]);
          expect(calicoLeftovers(nn, node)).toEqual([]);
          expect(nodeNamed(tb, node).spec.unschedulable).toBeFalsy();
          expect(stateOf(tb, node)?.error).toBeUndefined();
          summary.reverted.push(`${flavour}/${node}`);
        },
        620_000,
      );
  },
);

afterAll(() => {
  // The figures of the suite, for the record of a run.
  console.log(
    `netns-node e2e: ${JSON.stringify(
      {
        namespaceNodesMigrated: summary.namespaceNodesMigrated.length,
        migrated: summary.namespaceNodesMigrated,
        leftoversFound: summary.leftovers.length,
        leftovers: summary.leftovers,
        reverted: summary.reverted,
        failuresInjected: summary.failuresInjected,
        hostPodsRunByAgent: summary.hostPodsRun.length,
      },
      null,
      2,
    )}`,
  );
});
