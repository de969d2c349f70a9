import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  fixturesDir,
  getNodes,
  installFlannel,
  kubectlJson,
  kubectlOk,
  startTestbed,
  waitForDeployment,
  type Testbed,
} from '../testbed/harness.js';
import { deployWebWorkload, runCliInBackground } from './migration-helpers.js';

const MIGRATION_LABEL = 'projectcalico.org/node-network-during-migration';
const calicoManifest = path.join(fixturesDir, 'calico-v3.32.1/flannel-migration-calico.yaml');

describe('migrate and revert: kill -9 at every step, then rerun', () => {
  let tb: Testbed;

  beforeAll(async () => {
    tb = await startTestbed({ nodes: 3, controlPlane: 1 });
    await installFlannel(tb);
    await deployWebWorkload(tb, 2);
  }, 300_000);

  afterAll(async () => {
    await tb?.down();
  });

  it('converges to the same end state as an uninterrupted run', async () => {
    const args = ['migrate', '--yes', '--no-finalize', '--calico-manifest', calicoManifest];
    const killPoints = [
      /applying \d+ objects of the Calico manifest/,
      /writing Calico IP pools/,
      /worker-0: cordon \.\.\./,
      /worker-0: drain \.\.\./,
      /worker-0: stop flannel .*\.\.\./,
      /worker-0: remove flannel from the host \.\.\./,
      /worker-0: start calico-node .*\.\.\./,
      /worker-0: prove pod connectivity \.\.\./,
      /worker-0: uncordon \.\.\./,
      /worker-1: drain \.\.\./,
      /cp-0: start calico-node .*\.\.\./,
    ];
    for (const point of killPoints) {
      const r = await runCliInBackground(tb, args, { killAt: point });
      // Every run resumes past the previous kill point and reaches the next one.
      expect({ point: point.source, killed: r.killed }).toEqual({ point: point.source, killed: true });
    }
    const final = await runCliInBackground(tb, args);
    expect(final.output).not.toMatch(/error:/);
    expect(final.status).toBe(0);

    const nodes = getNodes(tb);
    expect(nodes.map((n) => n.metadata.labels?.[MIGRATION_LABEL])).toEqual(['calico', 'calico', 'calico']);
    expect(nodes.every((n) => !n.spec.unschedulable)).toBe(true);
    for (const n of nodes) {
      const state = JSON.parse(n.metadata.annotations?.['flannel2calico.io/state'] ?? '{}');
      expect(state.completed).toEqual(['cordon', 'drain', 'stop-flannel', 'host-cleanup', 'start-calico', 'probe', 'uncordon', 'done']);
    }
    const blocks = kubectlJson<{ items: Array<{ spec: { affinity: string } }> }>(tb, ['get', 'ipamblocks.crd.projectcalico.org', '-o', 'json']).items;
    for (const n of nodes) expect(blocks.filter((b) => b.spec.affinity === `host:${n.metadata.name}`)).toHaveLength(4);
    const handles = kubectlJson<{ items: unknown[] }>(tb, ['get', 'ipamhandles.crd.projectcalico.org', '-o', 'json']).items;
    expect(handles).toHaveLength(3);
    const probes = kubectlJson<{ items: unknown[] }>(tb, ['get', 'pods', '-n', 'kube-system', '-l', 'flannel2calico.io/role=probe-server', '-o', 'json']).items;
    expect(probes).toHaveLength(0);
    await waitForDeployment(tb, 'default', 'web');
    const lease = tb.kubectl(['get', 'lease', '-n', 'kube-system', 'flannel2calico']);
    expect(lease.status).not.toBe(0);
  }, 900_000);

  it('refuses while another holder renews the lock, and takes over a lock left stale', () => {
    const lease = (renewTime: string) => `apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: flannel2calico, namespace: kube-system}
spec: {holderIdentity: ops@bastion/pid-4242, leaseDurationSeconds: 30, renewTime: "${renewTime}"}
`;
    const microTime = (d: Date) => d.toISOString().replace('Z', '000Z');
    kubectlOk(tb, ['apply', '-f', '-'], lease(microTime(new Date())));
    const refused = tb.cli(['migrate', '--yes', '--no-finalize', '--calico-manifest', calicoManifest]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/another migration is running: .* held by ops@bastion\/pid-4242/);
    expect(kubectlJson<{ spec: { holderIdentity: string } }>(tb, ['get', 'lease', '-n', 'kube-system', 'flannel2calico', '-o', 'json']).spec.holderIdentity).toBe('ops@bastion/pid-4242');

    kubectlOk(tb, ['apply', '-f', '-'], lease(microTime(new Date(Date.now() - 10 * 60_000))));
    const took = tb.cli(['migrate', '--yes', '--no-finalize']);
    expect(took.stderr).toMatch(/took over the migration lock from ops@bastion\/pid-4242/);
    expect(took.status).toBe(0);
    expect(tb.kubectl(['get', 'lease', '-n', 'kube-system', 'flannel2calico']).status).not.toBe(0);
  }, 300_000);

  it('revert --all killed with SIGKILL at every step boundary, then rerun, converges to flannel only', async () => {
    const args = ['revert', '--all', '--yes'];
    const killPoints = [
      /: cordon \.\.\./,
      /: drain \.\.\./,
      /: stop calico-node .*\.\.\./,
      /: remove Calico from the host \.\.\./,
      /: start flannel .*\.\.\./,
      /: release the node's Calico IPAM \.\.\./,
      /: prove pod connectivity \.\.\./,
      /: uncordon \.\.\./,
      /removing the migration nodeSelector|deleting the \d+ objects of Calico's install/,
      /restoring IP pools and FelixConfiguration/,
    ];
    for (const point of killPoints) {
      const r = await runCliInBackground(tb, args, { killAt: point });
      expect({ point: point.source, killed: r.killed }).toEqual({ point: point.source, killed: true });
    }
    const final = await runCliInBackground(tb, args);
    expect(final.output).not.toMatch(/error:/);
    expect(final.status).toBe(0);

    const nodes = getNodes(tb);
    expect(nodes.map((n) => n.metadata.labels?.[MIGRATION_LABEL])).toEqual([undefined, undefined, undefined]);
    expect(nodes.map((n) => n.metadata.annotations?.['flannel2calico.io/state'])).toEqual([undefined, undefined, undefined]);
    expect(nodes.every((n) => !n.spec.unschedulable)).toBe(true);
    expect(tb.kubectl(['get', 'daemonset', '-n', 'kube-system', 'calico-node']).status).not.toBe(0);
    const flannel = kubectlJson<{ spec: { template: { spec: { nodeSelector?: Record<string, string> } } } }>(tb, ['get', 'daemonset', '-n', 'kube-flannel', 'kube-flannel-ds', '-o', 'json']);
    expect(flannel.spec.template.spec.nodeSelector?.[MIGRATION_LABEL]).toBeUndefined();
    expect(tb.kubectl(['get', 'ipamblocks.crd.projectcalico.org']).stdout.trim()).toBe('');
    expect(tb.kubectl(['get', 'jobs', '-n', 'kube-system', '-l', 'app.kubernetes.io/managed-by=flannel2calico', '-o', 'name']).stdout.trim()).toBe('');
    await waitForDeployment(tb, 'default', 'web');
    expect(tb.kubectl(['get', 'lease', '-n', 'kube-system', 'flannel2calico']).status).not.toBe(0);
  }, 900_000);
});
