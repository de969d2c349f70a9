// The status and revert scenario, run once for flannel and once for Canal (two test files, so each
// stays a few minutes): migrate 3 of 5 nodes and stop one half-way; `status -o json` against the
// cluster; a read-only user; `revert --node` of a migrated and a half-way node; kill -9 in a revert;
// migrate the rest under `status --watch`; `revert --all`, killed twice, back to flannel only.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import {
  fixturesDir,
  getNodes,
  installFlannel,
  kubectlJson,
  kubectlOk,
  startTestbed,
  waitFor,
  type FlannelInstall,
  type NodeJson,
  type PodJson,
  type Testbed,
} from '../testbed/harness.js';
import { deployWebWorkload, runCliInBackground } from './migration-helpers.js';

const MIGRATION_LABEL = 'projectcalico.org/node-network-during-migration';
const STATE = 'flannel2calico.io/state';
const calicoManifestFile = path.join(fixturesDir, 'calico-v3.32.1/flannel-migration-calico.yaml');
const CALICO_KINDS = ['ippools', 'ipamblocks', 'blockaffinities', 'ipamhandles', 'felixconfigurations'];

interface Listed<T> {
  items: T[];
}

function podReadiness(pods: PodJson[], node: string): string {
  const here = pods.filter((p) => p.spec.nodeName === node && !p.metadata.deletionTimestamp);
  if (!here.length) return 'absent';
  return here.some(
    (p) =>
      p.status?.phase === 'Running' &&
      (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  )
    ? 'ready'
    : 'not-ready';
}

function calicoObjects(tb: Testbed): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const kind of CALICO_KINDS) {
    const r = tb.kubectl(['get', `${kind}.crd.projectcalico.org`, '-o', 'json']);
    out[kind] =
      r.status === 0
        ? (JSON.parse(r.stdout) as Listed<{ metadata: { name: string }; spec: unknown }>).items.map((i) => ({
            name: i.metadata.name,
            spec: i.spec,
          }))
        : [];
  }
  return out;
}

/** Which objects of Calico's manifest exist (kind/namespace/name). */
function manifestObjectsPresent(tb: Testbed): string[] {
  const objects = parseAllDocuments(fs.readFileSync(calicoManifestFile, 'utf8'))
    .map((d) => d.toJS())
    .filter(Boolean) as Array<{ kind: string; metadata: { name: string; namespace?: string } }>;
  return objects
    .filter((o) => {
      const args = [
        'get',
        o.kind,
        o.metadata.name,
        ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []),
        '-o',
        'name',
      ];
      return tb.kubectl(args).status === 0;
    })
    .map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
}

/** A kubeconfig for a ServiceAccount bound to a ClusterRole with get/list/watch only. */
function readOnlyKubeconfig(tb: Testbed): string {
  kubectlOk(
    tb,
    ['apply', '-f', '-'],
    `
apiVersion: v1
kind: ServiceAccount
metadata: {name: status-viewer, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: flannel2calico-status-viewer}
rules:
- apiGroups: [""]
  resources: [nodes, pods, configmaps, events]
  verbs: [get, list, watch]
- apiGroups: [apps]
  resources: [daemonsets]
  verbs: [get, list, watch]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: flannel2calico-status-viewer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: flannel2calico-status-viewer}
subjects: [{kind: ServiceAccount, name: status-viewer, namespace: default}]
`,
  );
  const token = kubectlOk(tb, ['create', 'token', 'status-viewer', '-n', 'default']).trim();
  const admin = kubectlJson<{ clusters: Array<{ cluster: Record<string, string> }> }>(tb, [
    'config',
    'view',
    '--raw',
    '--minify',
    '-o',
    'json',
  ]);
  const file = path.join(path.dirname(tb.kubeconfig), 'status-viewer.kubeconfig');
  fs.writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'viewer',
      clusters: [{ name: 'c', cluster: admin.clusters[0].cluster }],
      users: [{ name: 'viewer', user: { token } }],
      contexts: [{ name: 'viewer', context: { cluster: 'c', user: 'viewer' } }],
    }),
  );
  return file;
}

async function everyWorkloadAvailable(tb: Testbed): Promise<void> {
  await waitFor(
    () => {
      const deployments = kubectlJson<Listed<{ spec: { replicas: number }; status: { availableReplicas?: number } }>>(
        tb,
        ['get', 'deployments', '-A', '-o', 'json'],
      ).items;
      return deployments.every((d) => (d.status.availableReplicas ?? 0) >= d.spec.replicas);
    },
    90_000,
    'every Deployment at full availability',
  );
}

export function statusRevertScenario(flavour: 'flannel' | 'canal'): void {
  describe(`status and revert: ${flavour}, 5 nodes`, () => {
    let tb: Testbed;
    let flannel: FlannelInstall;
    let flannelSelector: string;
    let calicoBefore: Record<string, unknown[]>;
    let manifestBefore: string[];
    // The probes are proven by the migrate suite; here they would only add time.
    const migrateArgs = ['migrate', '--yes', '--no-finalize', '--skip-probe', '--calico-manifest', calicoManifestFile];

    const flannelPods = () =>
      kubectlJson<Listed<PodJson>>(tb, ['get', 'pods', '-n', flannel.namespace, '-l', flannelSelector, '-o', 'json'])
        .items;
    const calicoPods = () =>
      kubectlJson<Listed<PodJson>>(tb, ['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=calico-node', '-o', 'json'])
        .items;
    const stateOf = (n: NodeJson) =>
      n.metadata.annotations?.[STATE] ? JSON.parse(n.metadata.annotations[STATE]) : undefined;
    const statusJson = (kubeconfig?: string) => {
      const r = kubeconfig ? runCliSync(tb, ['status', '-o', 'json'], kubeconfig) : tb.cli(['status', '-o', 'json']);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      return JSON.parse(r.stdout);
    };

    beforeAll(async () => {
      tb = await startTestbed({ nodes: 5, controlPlane: 1 });
      flannel = await installFlannel(tb, { canal: flavour === 'canal' });
      if (flavour === 'canal') {
        // What Canal's calico-node creates at start-up: a default pool without VXLAN (the migration replaces it).
        kubectlOk(
          tb,
          ['apply', '-f', '-'],
          `apiVersion: crd.projectcalico.org/v1
kind: IPPool
metadata: {name: default-ipv4-ippool}
spec: {cidr: 10.244.0.0/16, blockSize: 26, ipipMode: Never, vxlanMode: Never, natOutgoing: true, nodeSelector: all()}
`,
        );
      }
      const ds = kubectlJson<{ spec: { selector: { matchLabels: Record<string, string> } } }>(tb, [
        'get',
        'ds',
        '-n',
        flannel.namespace,
        flannel.daemonSet,
        '-o',
        'json',
      ]);
      flannelSelector = Object.entries(ds.spec.selector.matchLabels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      await deployWebWorkload(tb, 2);
      calicoBefore = calicoObjects(tb);
      manifestBefore = manifestObjectsPresent(tb);
    }, 300_000);

    afterAll(async () => {
      await tb?.down();
    });

    it(
      'migrate 3 of 5 nodes and stop one half-way: status -o json matches every node, also for ' + 'a read-only user',
      async () => {
        const first = tb.cli([...migrateArgs, '--nodes', 'worker-0,worker-1,worker-2']);
        expect({ status: first.status, stderr: first.stderr.match(/error:.*/g) }).toEqual({ status: 0, stderr: null });
        const halfWay = await runCliInBackground(tb, [...migrateArgs, '--nodes', 'worker-3'], {
          killAt: /worker-3: remove flannel from the host \.\.\./,
        });
        expect(halfWay.killed).toBe(true);

        const doc = statusJson();
        expect(doc).toMatchObject({
          apiVersion: 'flannel2calico/v1',
          kind: 'Status',
          schemaVersion: 1,
          phase: 'stopped',
          flavour,
        });
        const nodes = getNodes(tb);
        expect(doc.stoppedAt).toEqual({
          node: 'worker-3',
          step: stateOf(nodes.find((n) => n.metadata.name === 'worker-3')!).step,
          error: null,
        });
        // the Lease of the killed run is still there, but its holder is gone
        expect(doc.lock).toMatchObject({ active: false });
        const fPods = flannelPods();
        const cPods = calicoPods();
        const expectedCondition: Record<string, string> = {
          'cp-0': 'pending',
          'worker-0': 'migrated',
          'worker-1': 'migrated',
          'worker-2': 'migrated',
          'worker-3': 'stopped',
        };
        expect(doc.nodes.map((n: { name: string }) => n.name)).toEqual([
          'worker-3',
          'cp-0',
          'worker-0',
          'worker-1',
          'worker-2',
        ]);
        for (const node of nodes) {
          const name = node.metadata.name;
          const state = stateOf(node);
          const done = state?.completed.includes('done');
          const reported = doc.nodes.find((n: { name: string }) => n.name === name);
          expect(reported).toEqual({
            name,
            controlPlane: name === 'cp-0',
            network: node.metadata.labels?.[MIGRATION_LABEL],
            condition: expectedCondition[name],
            operation: state ? 'migrate' : null,
            step: state ? (done ? 'done' : state.step) : null,
            completedSteps: state?.completed ?? [],
            since: state?.updatedAt ?? null,
            startedAt: state?.startedAt ?? null,
            cordoned: node.spec.unschedulable === true,
            flannelPod: podReadiness(fPods, name),
            calicoPod: podReadiness(cPods, name),
            lastError: state?.error ?? null,
            next: expectedCondition[name] === 'migrated' ? null : `flannel2calico migrate --nodes ${name}`,
          });
        }
        // the half-way node: off flannel, not yet on Calico, cordoned
        expect(doc.nodes[0]).toMatchObject({
          network: 'none',
          cordoned: true,
          flannelPod: 'absent',
          calicoPod: 'absent',
        });
        expect(
          doc.nodes.filter((n: { calicoPod: string }) => n.calicoPod === 'ready').map((n: { name: string }) => n.name),
        ).toEqual(['worker-0', 'worker-1', 'worker-2']);
        expect(doc.counts).toEqual({
          total: 5,
          flannel: 1,
          none: 1,
          calico: 3,
          failed: 0,
          'in-progress': 0,
          stopped: 1,
          pending: 1,
          reverted: 0,
          migrated: 3,
        });
        expect(doc.eta).toMatchObject({ remainingNodes: 2, measuredNodes: 3 });

        const viewer = readOnlyKubeconfig(tb);
        const asViewer = statusJson(viewer);
        expect(asViewer.nodes.map((n: { name: string; step: string }) => [n.name, n.step])).toEqual(
          doc.nodes.map((n: { name: string; step: string }) => [n.name, n.step]),
        );
        const one = runCliSync(tb, ['status', '--node', 'worker-0'], viewer);
        expect(one.status).toBe(0);
        // its history: the one Event of its migration, naming every step with its duration
        expect(one.stdout).toMatch(
          new RegExp(
            String.raw`^  \S+  Migrated  migrated to Calico in \d+\.\d s: cordon \d+\.\d s, drain \d+\.\d s, .*` +
              String.raw`start calico-node \(label network=calico\) \d+\.\d s, .*uncordon \d+\.\d s$`,
            'm',
          ),
        );
        // the same user cannot revert: the API refuses the first write, nothing changes
        const denied = runCliSync(tb, ['revert', '--node', 'worker-0', '--yes'], viewer);
        expect(denied.status).toBe(1);
        expect(denied.stderr).toMatch(/forbidden|not allowed|403/i);
        expect(getNodes(tb).find((n) => n.metadata.name === 'worker-0')!.metadata.labels?.[MIGRATION_LABEL]).toBe(
          'calico',
        );
      },
      600_000,
    );

    it(
      'revert --node moves a migrated and a half-way node back to flannel; refused while ' +
        'another run holds the lock',
      () => {
        const microTime = (d: Date) => d.toISOString().replace('Z', '000Z');
        kubectlOk(
          tb,
          ['apply', '-f', '-'],
          `apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: flannel2calico, namespace: kube-system}
spec: {holderIdentity: ops@bastion/pid-4242, leaseDurationSeconds: 30, renewTime: "${microTime(new Date())}"}
`,
        );
        const refused = tb.cli(['revert', '--node', 'worker-0', '--yes']);
        expect(refused.status).toBe(2);
        expect(refused.stderr).toMatch(/another migration is running: .* held by ops@bastion\/pid-4242/);
        kubectlOk(tb, ['delete', 'lease', '-n', 'kube-system', 'flannel2calico']);

        const noTerminal = tb.cli(['revert', '--node', 'worker-0']);
        expect(noTerminal.status).toBe(2);
        const dry = tb.cli(['revert', '--node', 'worker-0', '--node', 'worker-3', '--dry-run=client']);
        expect(dry.status).toBe(0);
        expect(dry.stdout).toMatch(/worker-0: cordon → drain → stop calico-node/);

        const r = tb.cli(['revert', '--node', 'worker-0', '--node', 'worker-3', '--yes']);
        expect({ status: r.status, errors: r.stderr.match(/error:.*/g) }).toEqual({ status: 0, errors: null });
        const nodes = getNodes(tb);
        const fPods = flannelPods();
        const cPods = calicoPods();
        for (const name of ['worker-0', 'worker-3']) {
          const node = nodes.find((n) => n.metadata.name === name)!;
          expect(node.metadata.labels?.[MIGRATION_LABEL]).toBe('flannel');
          expect(node.spec.unschedulable).toBeFalsy();
          expect(stateOf(node)).toMatchObject({
            operation: 'revert',
            completed: expect.arrayContaining(['host-revert', 'start-flannel', 'uncordon', 'done']),
          });
          expect(podReadiness(fPods, name)).toBe('ready');
          expect(podReadiness(cPods, name)).toBe('absent');
        }
        // other Calico nodes still route to them: their IPAM blocks are kept
        const blocks = kubectlJson<Listed<{ spec: { affinity: string } }>>(tb, [
          'get',
          'ipamblocks.crd.projectcalico.org',
          '-o',
          'json',
        ]).items;
        expect(blocks.some((b) => b.spec.affinity === 'host:worker-0')).toBe(true);
        const doc = statusJson();
        expect(
          doc.nodes
            .filter((n: { condition: string }) => n.condition === 'reverted')
            .map((n: { name: string }) => n.name),
        ).toEqual(['worker-0', 'worker-3']);
        expect(r.stdout).toMatch(/2 node\(s\) moved back to flannel/);
      },
      300_000,
    );

    it('kill -9 during a revert, then the rerun converges', async () => {
      const killed = await runCliInBackground(tb, ['revert', '--node', 'worker-1', '--yes'], {
        killAt: /worker-1: remove Calico from the host \.\.\./,
      });
      expect(killed.killed).toBe(true);
      const midway = statusJson();
      expect(midway.nodes[0]).toMatchObject({
        name: 'worker-1',
        operation: 'revert',
        step: 'host-revert',
        condition: 'stopped',
        network: 'none',
        next: 'flannel2calico revert --node worker-1',
      });
      const rerun = tb.cli(['revert', '--node', 'worker-1', '--yes']);
      expect({ status: rerun.status, errors: rerun.stderr.match(/error:.*/g) }).toEqual({ status: 0, errors: null });
      expect(rerun.stderr).not.toMatch(/worker-1: cordon \.\.\./);
      const node = getNodes(tb).find((n) => n.metadata.name === 'worker-1')!;
      expect(node.metadata.labels?.[MIGRATION_LABEL]).toBe('flannel');
      expect(stateOf(node).completed).toEqual([
        'cordon',
        'drain',
        'stop-calico',
        'host-revert',
        'start-flannel',
        'release-ipam',
        'probe',
        'uncordon',
        'done',
      ]);
      expect(tb.cli(['revert', '--node', 'worker-1', '--yes']).stdout).toMatch(
        /Nothing to revert: worker-1 already run/,
      );
    }, 300_000);

    it('migrate the rest while status --watch follows the run to its end', async () => {
      const migrate = runCliInBackground(tb, migrateArgs);
      await waitFor(
        () => tb.kubectl(['get', 'lease', '-n', 'kube-system', 'flannel2calico']).status === 0,
        60_000,
        'the run to take its lock',
      );
      const watch = runCliInBackground(tb, ['status', '--watch', '-o', 'json']);
      const [m, w] = await Promise.all([migrate, watch]);
      expect(m.status).toBe(0);
      expect(w.status).toBe(0);
      const frames = w.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(frames.length).toBeGreaterThan(1);
      expect(frames.some((f) => f.lock?.active === true)).toBe(true);
      expect(frames[frames.length - 1]).toMatchObject({
        phase: 'all-calico',
        lock: null,
        next: 'flannel2calico migrate --finalize',
      });
      expect(getNodes(tb).every((n) => n.metadata.labels?.[MIGRATION_LABEL] === 'calico')).toBe(true);
    }, 600_000);

    it(
      'revert --all, killed twice, returns the cluster to flannel only: no Calico object, no ' + 'migration trace',
      async () => {
        const kills = [/remove Calico from the host \.\.\./, /removing the migration label/];
        for (const killAt of kills) {
          const r = await runCliInBackground(tb, ['revert', '--all', '--yes', '--max-parallel', '2'], { killAt });
          expect({ at: killAt.source, killed: r.killed }).toEqual({ at: killAt.source, killed: true });
        }
        expect(statusJson().phase).toBe('reverting');
        const final = tb.cli(['revert', '--all', '--yes', '--max-parallel', '2']);
        expect({ status: final.status, errors: final.stderr.match(/error:.*/g) }).toEqual({ status: 0, errors: null });

        const nodes = getNodes(tb);
        for (const n of nodes) {
          expect(n.metadata.labels?.[MIGRATION_LABEL]).toBeUndefined();
          expect(
            Object.keys(n.metadata.annotations ?? {}).filter(
              (a) => a.startsWith('flannel2calico.io/') || a.startsWith('projectcalico.org/'),
            ),
          ).toEqual([]);
          expect(n.spec.unschedulable).toBeFalsy();
        }
        const ds = kubectlJson<{ spec: { template: { spec: { nodeSelector?: Record<string, string> } } } }>(tb, [
          'get',
          'ds',
          '-n',
          flannel.namespace,
          flannel.daemonSet,
          '-o',
          'json',
        ]);
        expect(ds.spec.template.spec.nodeSelector?.[MIGRATION_LABEL]).toBeUndefined();
        await waitFor(
          () => {
            const pods = flannelPods();
            return nodes.every((n) => podReadiness(pods, n.metadata.name) === 'ready');
          },
          90_000,
          'a Ready flannel pod on every node',
        );
        await waitFor(() => calicoPods().length === 0, 60_000, 'no calico-node pod');
        // Calico objects: exactly those that existed before the migration (Canal's pool, as it was)
        expect(calicoObjects(tb)).toEqual(calicoBefore);
        expect(manifestObjectsPresent(tb)).toEqual(manifestBefore);
        // migration traces
        await waitFor(
          () =>
            ['jobs', 'pods', 'configmaps', 'leases'].every(
              (kind) =>
                kubectlJson<Listed<unknown>>(tb, [
                  'get',
                  kind,
                  '-A',
                  '-l',
                  'app.kubernetes.io/managed-by=flannel2calico',
                  '-o',
                  'json',
                ]).items.length === 0,
            ),
          60_000,
          'no helper Job, pod, ConfigMap or Lease of the tool',
        );
        expect(tb.kubectl(['get', 'configmap', '-n', 'kube-system', 'flannel2calico-state']).status).not.toBe(0);
        expect(tb.kubectl(['get', 'lease', '-n', 'kube-system', 'flannel2calico']).status).not.toBe(0);
        expect(
          kubectlJson<Listed<unknown>>(tb, [
            'get',
            'events',
            '-n',
            'default',
            '-l',
            'app.kubernetes.io/managed-by=flannel2calico',
            '-o',
            'json',
          ]).items,
        ).toEqual([]);
        await everyWorkloadAvailable(tb);
        expect(statusJson()).toMatchObject({ phase: 'not-started', lock: null });
        expect(tb.cli(['revert', '--all', '--yes']).stdout).toMatch(/Nothing to revert/);
      },
      600_000,
    );
  });
}

function runCliSync(
  tb: Testbed,
  args: string[],
  kubeconfig: string,
): { status: number; stdout: string; stderr: string } {
  const r = tb.cli(['--kubeconfig', kubeconfig, ...args]);
  return r;
}
