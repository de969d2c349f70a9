/**
 * The fault matrix of `migrate`, on the test bed: kill -9 at every step boundary, Ctrl-C in every kind
 * of wait, the API server restarted mid-run, nodes deleted and added mid-run, calico-node never Ready,
 * a host Job failing, an eviction blocked forever, two runs racing; plus the flags typed with a saved
 * plan and `--yes` never finalizing. Every fault ends with the documented exit code, the state recorded
 * in the cluster, and a rerun that finishes with every workload available.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  fixturesDir,
  getNodes,
  installFlannel,
  kubectlJson,
  kubectlOk,
  LABEL_NEVER_READY,
  nodeObject,
  repoRoot,
  restartApiServer,
  startTestbed,
  waitFor,
  waitForDeployment,
  type FlannelInstall,
  type NodeJson,
  type PodJson,
  type Testbed,
} from '../testbed/harness.js';
import { deployWebWorkload } from './migration-helpers.js';

const MIGRATION_LABEL = 'projectcalico.org/node-network-during-migration';
const STATE_ANNOTATION = 'flannel2calico.io/state';
const ALL_STEPS = ['cordon', 'drain', 'stop-flannel', 'host-cleanup', 'start-calico', 'probe', 'uncordon', 'done'];
const calicoManifest = path.join(fixturesDir, 'calico-v3.32.1/flannel-migration-calico.yaml');
/** kwok-stages.yaml fails host cleanup Job pods with this image. */
const FAILING_HELPER_IMAGE = 'testbed.flannel2calico.io/fail-host-cleanup';

interface Listed<T> {
  items: T[];
}
interface NodeState {
  step: string;
  completed: string[];
  error?: string;
}

/** A CLI run in the background: its output so far, a way to wait for a line, and its end. */
interface Run {
  child: ChildProcess;
  output: () => string;
  /** Resolves once `pattern` has matched `count` times in stdout+stderr. */
  waitFor: (pattern: RegExp, count?: number) => Promise<void>;
  done: Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

const stateHome = fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-faults-'));
afterAll(() => fs.rmSync(stateHome, { recursive: true, force: true }));

function startCli(tb: Testbed, args: string[]): Run {
  const child = spawn(
    process.execPath,
    [path.join(repoRoot, 'bin/flannel2calico.js'), '--kubeconfig', tb.kubeconfig, ...args],
    {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', XDG_STATE_HOME: stateHome },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  const onData = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout!.on('data', (d) => {
    stdout += d;
    onData();
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
    onData();
  });
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => {
      child.on('close', (status, signal) => {
        onData();
        resolve({ status, signal, stdout, stderr });
      });
    },
  );
  const output = () => stdout + stderr;
  const matches = (pattern: RegExp) =>
    (output().match(new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`)) ?? []).length;
  return {
    child,
    output,
    done,
    waitFor: (pattern, count = 1) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (matches(pattern) >= count) {
            waiters.splice(waiters.indexOf(check), 1);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            waiters.splice(waiters.indexOf(check), 1);
            reject(new Error(`the CLI ended before printing ${pattern} (${count}x):\n${output()}`));
          }
        };
        waiters.push(check);
        check();
      }),
  };
}

function node(tb: Testbed, name: string): NodeJson {
  return kubectlJson<NodeJson>(tb, ['get', 'node', name, '-o', 'json']);
}

function nodeState(tb: Testbed, name: string): NodeState | undefined {
  const raw = node(tb, name).metadata.annotations?.[STATE_ANNOTATION];
  return raw ? (JSON.parse(raw) as NodeState) : undefined;
}

function lastRun(tb: Testbed): Record<string, any> | undefined {
  const cm = kubectlJson<{ data: { record: string } }>(tb, [
    'get',
    'configmap',
    '-n',
    'kube-system',
    'flannel2calico-state',
    '-o',
    'json',
  ]);
  return JSON.parse(cm.data.record).lastRun;
}

function leaseHeld(tb: Testbed): boolean {
  return tb.kubectl(['get', 'lease', '-n', 'kube-system', 'flannel2calico']).status === 0;
}

/** Where a node stands after the migration: what an uninterrupted run leaves, for comparing runs. */
function migratedShape(tb: Testbed, name: string): Record<string, unknown> {
  const n = node(tb, name);
  const blocks = kubectlJson<Listed<{ spec: { affinity: string } }>>(tb, [
    'get',
    'ipamblocks.crd.projectcalico.org',
    '-o',
    'json',
  ]).items;
  const affinities = kubectlJson<Listed<{ spec: { node: string; state: string } }>>(tb, [
    'get',
    'blockaffinities.crd.projectcalico.org',
    '-o',
    'json',
  ]).items;
  const handles = kubectlJson<Listed<{ spec: { handleID: string } }>>(tb, [
    'get',
    'ipamhandles.crd.projectcalico.org',
    '-o',
    'json',
  ]).items;
  const annotations = n.metadata.annotations ?? {};
  const state = JSON.parse(annotations[STATE_ANNOTATION] ?? '{}') as NodeState;
  return {
    label: n.metadata.labels?.[MIGRATION_LABEL],
    unschedulable: Boolean(n.spec.unschedulable),
    completed: state.completed,
    error: state.error,
    blocks: blocks.filter((b) => b.spec.affinity === `host:${name}`).length,
    affinities: affinities.filter((a) => a.spec.node === name && a.spec.state === 'confirmed').length,
    tunnelHandle: handles.some((h) => h.spec.handleID === `vxlan-tunnel-addr-${name}`),
    calicoAnnotations: ['projectcalico.org/IPv4VXLANTunnelAddr', 'projectcalico.org/VXLANTunnelMACAddr'].every((k) =>
      Boolean(annotations[k]),
    ),
  };
}

const MIGRATED = {
  label: 'calico',
  unschedulable: false,
  completed: ALL_STEPS,
  error: undefined,
  blocks: 4,
  affinities: 4,
  tunnelHandle: true,
  calicoAnnotations: true,
};

async function everyWorkloadAvailable(tb: Testbed): Promise<void> {
  await waitFor(
    () => {
      const deployments = kubectlJson<
        Listed<{ spec: { replicas: number }; status: { availableReplicas?: number; replicas?: number } }>
      >(tb, ['get', 'deployments', '-A', '-o', 'json']).items;
      return deployments.every((d) => (d.status.availableReplicas ?? 0) === d.spec.replicas);
    },
    120_000,
    'every Deployment at full availability',
  );
}

/**
 * A ValidatingAdmissionPolicy that refuses to create pods with the given flannel2calico role, so the
 * wait for them lasts until released. Resolves once enforced, with the function that lifts it.
 */
async function holdPodsOfRole(tb: Testbed, role: string): Promise<() => Promise<void>> {
  const name = `testbed-hold-${role}`;
  kubectlOk(
    tb,
    ['apply', '-f', '-'],
    `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ${name}}
spec:
  failurePolicy: Fail
  matchConstraints:
    objectSelector: {matchLabels: {flannel2calico.io/role: ${role}}}
    resourceRules:
    - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}
  validations:
  - {expression: "false", message: "held by the fault test"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: ${name}}
spec: {policyName: ${name}, validationActions: [Deny]}
`,
  );
  const pod = `apiVersion: v1
kind: Pod
metadata: {name: hold-check, namespace: kube-system, labels: {flannel2calico.io/role: ${role}}}
spec: {containers: [{name: c, image: busybox}]}
`;
  const admitted = () => tb.kubectl(['create', '--dry-run=server', '-f', '-'], pod).status === 0;
  await waitFor(() => !admitted(), 30_000, `the hold on ${role} pods to be enforced`);
  return async () => {
    kubectlOk(tb, ['delete', 'validatingadmissionpolicybinding', name]);
    kubectlOk(tb, ['delete', 'validatingadmissionpolicy', name]);
    await waitFor(admitted, 30_000, `${role} pods to be admitted again`);
  };
}

describe('migrate: Ctrl-C in every wait, a saved plan with flags, --yes and finalize', () => {
  let tb: Testbed;
  let flannel: FlannelInstall;
  let planFile: string;

  beforeAll(async () => {
    tb = await startTestbed({ nodes: 6 });
    flannel = await installFlannel(tb);
    await deployWebWorkload(
      tb,
      4,
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: hold, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: hold}}
  template:
    metadata: {labels: {app: hold}}
    spec: {nodeSelector: {kubernetes.io/hostname: worker-0}, containers: [{name: hold, image: nginx}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: hold, namespace: default}
spec: {maxUnavailable: 0, selector: {matchLabels: {app: hold}}}
`,
    );
    await waitForDeployment(tb, 'default', 'hold');
    planFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-plan-')), 'plan.json');
    const planned = tb.cli(['plan', '--out', planFile]);
    expect(planned.status).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await tb?.down();
  });

  it(
    'a saved plan: --nodes narrows it; a node not in it, or a drain flag that differs, is ' +
      'refused with nothing changed',
    () => {
      const unknown = tb.cli([
        'migrate',
        '--yes',
        '--plan',
        planFile,
        '--nodes',
        'worker-9',
        '--calico-manifest',
        calicoManifest,
      ]);
      expect(unknown.status).toBe(2);
      expect(unknown.stderr).toMatch(/--nodes: worker-9 is not in .*plan\.json \(its nodes: worker-0, worker-1/);
      const forced = tb.cli(['migrate', '--yes', '--plan', planFile, '--force', '--calico-manifest', calicoManifest]);
      expect(forced.status).toBe(2);
      expect(forced.stderr).toMatch(/--force differs from .*plan\.json, which was made without it/);
      expect(getNodes(tb).map((n) => n.metadata.labels?.[MIGRATION_LABEL])).toEqual(Array(6).fill(undefined));
      expect(tb.kubectl(['get', 'daemonset', '-n', 'kube-system', 'calico-node']).status).not.toBe(0);

      const canary = tb.cli(
        ['migrate', '--yes', '--plan', planFile, '--nodes', 'worker-1', '--calico-manifest', calicoManifest],
        { timeoutMs: 300_000 },
      );
      expect(canary.stderr).toMatch(/narrowed by --nodes: 1 of the plan's 6 node\(s\): worker-1/);
      expect(canary.status).toBe(0);
      expect(
        Object.fromEntries(getNodes(tb).map((n) => [n.metadata.name, n.metadata.labels?.[MIGRATION_LABEL]])),
      ).toEqual({
        'worker-0': 'flannel',
        'worker-1': 'calico',
        'worker-2': 'flannel',
        'worker-3': 'flannel',
        'worker-4': 'flannel',
        'worker-5': 'flannel',
      });
      expect(migratedShape(tb, 'worker-1')).toEqual(MIGRATED);
      expect(canary.stdout).not.toMatch(/finalized/);
      expect(tb.kubectl(['get', 'daemonset', '-n', flannel.namespace, flannel.daemonSet]).status).toBe(0);
    },
    300_000,
  );

  it(
    'Ctrl-C while a PodDisruptionBudget blocks the drain: exit 4, "interrupted" (not "timed ' +
      'out"), no listener warning over many retries; state recorded',
    async () => {
      const run = startCli(tb, [
        'migrate',
        '--yes',
        '--nodes',
        'worker-0',
        '--drain-retry',
        '200ms',
        '--drain-timeout',
        '5m',
      ]);
      await run.waitFor(/waiting on PDB default\/hold/, 15);
      run.child.kill('SIGINT');
      const r = await run.done;
      expect(r.stderr).toMatch(/interrupted: stopping at the next safe point/);
      expect(r.stderr).toMatch(/interrupted: the migration stopped at worker-0 \(drain\)/);
      expect(r.stderr).not.toMatch(/timed out/);
      expect(r.stderr).not.toMatch(/MaxListenersExceededWarning|memory leak/);
      expect(r.status).toBe(4);
      const state = nodeState(tb, 'worker-0')!;
      expect(state.completed).toEqual(['cordon']);
      expect(state.step).toBe('drain');
      expect(state.error).toMatch(/interrupted/);
      expect(node(tb, 'worker-0').spec.unschedulable).toBe(true);
      expect(lastRun(tb)).toMatchObject({
        outcome: 'interrupted',
        failures: [{ node: 'worker-0', step: 'drain', error: 'interrupted' }],
      });
      expect(leaseHeld(tb)).toBe(false);
    },
    300_000,
  );

  it(
    'an eviction blocked forever: exit 4 naming the PodDisruptionBudget, the node kept ' +
      'cordoned; resumes once it is relaxed',
    async () => {
      const blocked = tb.cli(
        ['migrate', '--yes', '--nodes', 'worker-0', '--drain-retry', '200ms', '--drain-timeout', '4s'],
        { timeoutMs: 120_000 },
      );
      expect(blocked.status).toBe(4);
      expect(blocked.stderr).toMatch(
        /drain of worker-0 timed out: PodDisruptionBudget default\/hold allows 0 disruption/,
      );
      expect(blocked.stderr).toMatch(/worker-0 stays cordoned/);
      expect(blocked.stderr).not.toMatch(/MaxListenersExceededWarning|memory leak/);
      expect((blocked.stderr.match(/waiting on PDB default\/hold/g) ?? []).length).toBeGreaterThan(10);
      expect(node(tb, 'worker-0').spec.unschedulable).toBe(true);

      kubectlOk(tb, ['delete', 'pdb', '-n', 'default', 'hold']);
      const resumed = tb.cli(['migrate', '--yes', '--nodes', 'worker-0'], { timeoutMs: 300_000 });
      expect(resumed.stderr).not.toMatch(/error:/);
      expect(resumed.status).toBe(0);
      expect(migratedShape(tb, 'worker-0')).toEqual(MIGRATED);
    },
    300_000,
  );

  it(
    "Ctrl-C while waiting for flannel's pod to leave the node: exit 4, the step not marked " + 'done; a rerun finishes',
    async () => {
      const pods = kubectlJson<Listed<PodJson>>(tb, ['get', 'pods', '-n', flannel.namespace, '-o', 'json']).items;
      const pod = pods.find((p) => p.spec.nodeName === 'worker-2')!.metadata.name;
      kubectlOk(tb, [
        'patch',
        'pod',
        '-n',
        flannel.namespace,
        pod,
        '--type',
        'merge',
        '-p',
        '{"metadata":{"finalizers":["testbed.flannel2calico.io/hold"]}}',
      ]);
      try {
        const run = startCli(tb, ['migrate', '--yes', '--nodes', 'worker-2']);
        await run.waitFor(/worker-2: waiting for the .* pod to leave the node/);
        run.child.kill('SIGINT');
        const r = await run.done;
        expect(r.stderr).toMatch(/interrupted: the migration stopped at worker-2 \(stop flannel/);
        expect(r.status).toBe(4);
        expect(nodeState(tb, 'worker-2')).toMatchObject({ completed: ['cordon', 'drain'], step: 'stop-flannel' });
        expect(node(tb, 'worker-2').spec.unschedulable).toBe(true);
      } finally {
        kubectlOk(tb, [
          'patch',
          'pod',
          '-n',
          flannel.namespace,
          pod,
          '--type',
          'json',
          '-p',
          '[{"op":"remove","path":"/metadata/finalizers"}]',
        ]);
      }
      const resumed = tb.cli(['migrate', '--yes', '--nodes', 'worker-2'], { timeoutMs: 300_000 });
      expect(resumed.status).toBe(0);
      expect(migratedShape(tb, 'worker-2')).toEqual(MIGRATED);
    },
    300_000,
  );

  it('Ctrl-C while waiting for the host cleanup Job: exit 4, the step not marked done; a rerun finishes', async () => {
    const release = await holdPodsOfRole(tb, 'host-cleanup');
    try {
      const run = startCli(tb, ['migrate', '--yes', '--nodes', 'worker-3']);
      await run.waitFor(/worker-3: waiting for host cleanup Job/);
      run.child.kill('SIGINT');
      const r = await run.done;
      expect(r.stderr).toMatch(/interrupted: the migration stopped at worker-3 \(remove flannel from the host\)/);
      expect(r.status).toBe(4);
      expect(nodeState(tb, 'worker-3')).toMatchObject({
        completed: ['cordon', 'drain', 'stop-flannel'],
        step: 'host-cleanup',
      });
      expect(node(tb, 'worker-3').spec.unschedulable).toBe(true);
    } finally {
      await release();
    }
    const resumed = tb.cli(['migrate', '--yes', '--nodes', 'worker-3'], { timeoutMs: 300_000 });
    expect(resumed.status).toBe(0);
    expect(migratedShape(tb, 'worker-3')).toEqual(MIGRATED);
  }, 400_000);

  it('Ctrl-C while waiting for the connectivity probe: exit 4, probe objects removed; a rerun finishes', async () => {
    const release = await holdPodsOfRole(tb, 'probe-peer');
    try {
      const run = startCli(tb, ['migrate', '--yes', '--nodes', 'worker-4']);
      await run.waitFor(/worker-4: waiting for probes/);
      run.child.kill('SIGINT');
      const r = await run.done;
      expect(r.stderr).toMatch(/interrupted: the migration stopped at worker-4 \(prove pod connectivity\)/);
      expect(r.status).toBe(4);
      expect(nodeState(tb, 'worker-4')).toMatchObject({
        completed: ['cordon', 'drain', 'stop-flannel', 'host-cleanup', 'start-calico'],
        step: 'probe',
      });
      expect(node(tb, 'worker-4').spec.unschedulable).toBe(true);
      await waitFor(
        () =>
          kubectlJson<Listed<PodJson>>(tb, [
            'get',
            'pods',
            '-n',
            'kube-system',
            '-l',
            'flannel2calico.io/role=probe-server',
            '-o',
            'json',
          ]).items.length === 0,
        30_000,
        'the probe server pod removed',
      );
    } finally {
      await release();
    }
    const resumed = tb.cli(['migrate', '--yes', '--nodes', 'worker-4'], { timeoutMs: 300_000 });
    expect(resumed.status).toBe(0);
    expect(migratedShape(tb, 'worker-4')).toEqual(MIGRATED);
  }, 400_000);

  it(
    'calico-node never Ready: a bounded wait, exit 1 naming the node and what to do, the node ' +
      'kept cordoned; Ctrl-C in that wait; a rerun finishes once fixed',
    async () => {
      kubectlOk(tb, [
        'patch',
        'daemonset',
        '-n',
        'kube-system',
        'calico-node',
        '--type',
        'merge',
        '-p',
        `{"spec":{"template":{"metadata":{"labels":{"${LABEL_NEVER_READY}":"true"}}}}}`,
      ]);
      const failed = tb.cli(['migrate', '--yes', '--nodes', 'worker-5', '--step-timeout', '4s'], {
        timeoutMs: 300_000,
      });
      expect(failed.status).toBe(1);
      expect(failed.stderr).toMatch(
        /migration stopped at worker-5 \(start calico-node .*\): timed out after 4 s waiting for calico-node on worker-5 to be Ready/,
      );
      expect(failed.stderr).toMatch(
        /hint: worker-5 stays cordoned .*kubectl -n kube-system get pods -o wide --field-selector spec\.nodeName=worker-5/,
      );
      expect(node(tb, 'worker-5').spec.unschedulable).toBe(true);
      expect(nodeState(tb, 'worker-5')).toMatchObject({
        step: 'start-calico',
        error: expect.stringMatching(/timed out/),
      });
      expect(lastRun(tb)).toMatchObject({ outcome: 'failed', failures: [{ node: 'worker-5', step: 'start-calico' }] });

      const run = startCli(tb, ['migrate', '--yes', '--nodes', 'worker-5']);
      await run.waitFor(/worker-5: waiting for calico-node on worker-5 to be Ready/);
      run.child.kill('SIGINT');
      const r = await run.done;
      expect(r.stderr).toMatch(/interrupted: the migration stopped at worker-5 \(start calico-node/);
      expect(r.stderr).not.toMatch(/timed out/);
      expect(r.status).toBe(4);

      kubectlOk(tb, [
        'patch',
        'daemonset',
        '-n',
        'kube-system',
        'calico-node',
        '--type',
        'json',
        '-p',
        `[{"op":"remove","path":"/spec/template/metadata/labels/${LABEL_NEVER_READY.replace('/', '~1')}"}]`,
      ]);
      const resumed = tb.cli(['migrate', '--yes', '--nodes', 'worker-5'], { timeoutMs: 300_000 });
      expect(resumed.status).toBe(0);
      expect(migratedShape(tb, 'worker-5')).toEqual(MIGRATED);
    },
    400_000,
  );

  it(
    '--yes answers the batch questions but never finalizes: flannel stays until --finalize; ' + 'no workload lost',
    async () => {
      const r = tb.cli(['migrate', '--yes'], { timeoutMs: 300_000 });
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/every node runs Calico; run `flannel2calico migrate --finalize` to remove flannel/);
      expect(r.stdout).not.toMatch(/finalized/);
      expect(tb.kubectl(['get', 'daemonset', '-n', flannel.namespace, flannel.daemonSet]).status).toBe(0);
      for (const n of tb.nodeNames) expect({ n, shape: migratedShape(tb, n) }).toEqual({ n, shape: MIGRATED });
      await everyWorkloadAvailable(tb);
    },
    300_000,
  );
});

describe(
  'migrate: kill -9 at every step boundary, API server restart, host Job failing, runs ' +
    'racing, nodes deleted and added',
  () => {
    let tb: Testbed;
    let extraApiServer: number | undefined;

    beforeAll(async () => {
      tb = await startTestbed({ nodes: 7 });
      await installFlannel(tb);
      await deployWebWorkload(tb, 6);
    }, 300_000);

    afterAll(async () => {
      if (extraApiServer) {
        try {
          process.kill(extraApiServer, 'SIGKILL');
        } catch {
          /* already stopped by down() */
        }
      }
      await tb?.down();
    });

    it('kill -9 at every step boundary, then rerun: the same end state as an uninterrupted run', async () => {
      const args = ['migrate', '--yes', '--nodes', 'worker-0', '--calico-manifest', calicoManifest];
      const titles = [
        'cordon',
        'drain',
        'stop flannel (label network=none)',
        'remove flannel from the host',
        'start calico-node (label network=calico)',
        'prove pod connectivity',
        'uncordon',
      ];
      const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const boundaries = [
        /» applying \d+ objects of the Calico manifest/,
        /» writing Calico IP pools/,
        /batch 1\/1: worker-0/,
        ...titles.map((t) => new RegExp(`worker-0: ${escape(t)} done`)),
      ];
      for (const boundary of boundaries) {
        const run = startCli(tb, args);
        await run.waitFor(boundary);
        run.child.kill('SIGKILL');
        const r = await run.done;
        expect({ boundary: boundary.source, signal: r.signal }).toEqual({
          boundary: boundary.source,
          signal: 'SIGKILL',
        });
      }
      const final = tb.cli(args, { timeoutMs: 300_000 });
      expect(final.stderr).not.toMatch(/error:/);
      expect(final.status).toBe(0);
      const uninterrupted = tb.cli(['migrate', '--yes', '--nodes', 'worker-1'], { timeoutMs: 300_000 });
      expect(uninterrupted.status).toBe(0);
      expect(migratedShape(tb, 'worker-0')).toEqual(migratedShape(tb, 'worker-1'));
      expect(migratedShape(tb, 'worker-0')).toEqual(MIGRATED);
      expect(leaseHeld(tb)).toBe(false);
    }, 600_000);

    it('the API server restarted mid-run: the run waits and continues', async () => {
      const run = startCli(tb, ['migrate', '--yes', '--nodes', 'worker-2']);
      await run.waitFor(/worker-2: drain \.\.\./);
      extraApiServer = await restartApiServer(tb, 1000);
      const r = await run.done;
      expect(r.stderr).toMatch(/waiting up to \d+ s for the API server/);
      expect(r.stderr).toMatch(/the API server answers again; continuing/);
      expect(r.status).toBe(0);
      expect(migratedShape(tb, 'worker-2')).toEqual(MIGRATED);
    }, 300_000);

    it(
      'a host Job failing on both nodes of a parallel batch: each failed node named, the run ' +
        'stops after the batch; a rerun replaces the failed Jobs',
      () => {
        const failed = tb.cli(
          [
            'migrate',
            '--yes',
            '--nodes',
            'worker-3,worker-4',
            '--max-parallel',
            '2',
            '--helper-image',
            FAILING_HELPER_IMAGE,
          ],
          { timeoutMs: 300_000 },
        );
        expect(failed.status).toBe(1);
        expect(failed.stderr).toMatch(/migration stopped after the batch: 2 nodes failed/);
        expect(failed.stderr).toMatch(
          /- worker-3 \(remove flannel from the host\): host cleanup Job kube-system\/\S+ failed/,
        );
        expect(failed.stderr).toMatch(
          /- worker-4 \(remove flannel from the host\): host cleanup Job kube-system\/\S+ failed/,
        );
        const record = lastRun(tb)!;
        expect(record.outcome).toBe('failed');
        expect(record.failures.map((f: { node: string; step: string }) => `${f.node}/${f.step}`).sort()).toEqual([
          'worker-3/host-cleanup',
          'worker-4/host-cleanup',
        ]);
        for (const n of ['worker-3', 'worker-4']) {
          expect(node(tb, n).spec.unschedulable).toBe(true);
          expect(nodeState(tb, n)).toMatchObject({
            completed: ['cordon', 'drain', 'stop-flannel'],
            step: 'host-cleanup',
          });
        }

        const resumed = tb.cli(['migrate', '--yes', '--nodes', 'worker-3,worker-4', '--max-parallel', '2'], {
          timeoutMs: 300_000,
        });
        expect(resumed.status).toBe(0);
        for (const n of ['worker-3', 'worker-4'])
          expect({ n, shape: migratedShape(tb, n) }).toEqual({ n, shape: MIGRATED });
      },
      400_000,
    );

    it('two runs racing: one is refused (exit 2), the other finishes', async () => {
      const runs = [
        startCli(tb, ['migrate', '--yes', '--nodes', 'worker-5']),
        startCli(tb, ['migrate', '--yes', '--nodes', 'worker-5']),
      ];
      const results = await Promise.all(runs.map((r) => r.done));
      expect(results.map((r) => r.status).sort()).toEqual([0, 2]);
      const refused = results.find((r) => r.status === 2)!;
      expect(refused.stderr).toMatch(/another migration is running: the Lease kube-system\/flannel2calico is held by/);
      expect(migratedShape(tb, 'worker-5')).toEqual(MIGRATED);
    }, 300_000);

    it(
      'a node deleted and a node added mid-run: the deleted one is skipped and reported, the ' +
        'new one reported and left on flannel',
      async () => {
        const run = startCli(tb, ['migrate', '--yes']);
        await run.waitFor(/» writing Calico IP pools/);
        kubectlOk(tb, ['delete', 'node', 'worker-6', '--wait=false']);
        kubectlOk(tb, ['create', '-f', '-'], JSON.stringify(nodeObject('worker-new', false)));
        const r = await run.done;
        expect(r.status).toBe(0);
        expect(r.stderr).toMatch(/skipped, not migrated \(deleted from the cluster\): worker-6/);
        expect(r.stderr).toMatch(/not part of the plan, left on flannel \(labelled network=flannel\): worker-new/);
        expect(r.stdout).toMatch(/6 node\(s\) run Calico/);
        expect(lastRun(tb)).toMatchObject({ outcome: 'completed', skipped: ['worker-6'], notInPlan: ['worker-new'] });
        expect(node(tb, 'worker-new').metadata.labels?.[MIGRATION_LABEL]).toBe('flannel');
        await waitFor(
          () =>
            kubectlJson<Listed<PodJson>>(tb, ['get', 'pods', '-n', 'kube-flannel', '-o', 'json']).items.some(
              (p) => p.spec.nodeName === 'worker-new',
            ),
          60_000,
          'flannel running on worker-new',
        );
        expect(tb.kubectl(['get', 'daemonset', '-n', 'kube-flannel', 'kube-flannel-ds']).status).toBe(0);
        await everyWorkloadAvailable(tb);
      },
      300_000,
    );
  },
);
