import { describe, it, expect } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import {
  DEFAULT_HELPER_IMAGE,
  HOST_CHECK_ROLE,
  HOST_SCRIPT_ROLES,
  hostPodOutcome,
  staleHostJobReason,
  NODE_ANNOTATION,
  RUN_LABEL,
  hostScriptJob,
  hostScriptJobName,
  hostScriptPath,
  loadHostScript,
  type HostScriptJobOptions,
} from '../../src/host/pods.js';
import { labelValue } from '../../src/k8s.js';

const base: HostScriptJobOptions = {
  script: 'cleanup',
  scriptText: 'echo cleanup',
  node: 'worker-1',
  namespace: 'kube-system',
  vni: 1,
  cniConfigDir: '/etc/cni/net.d',
  flavour: 'flannel',
  image: 'quay.io/calico/node:v3.32.1',
  runId: 'abc123',
};

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/;

const envOf = (job: ReturnType<typeof hostScriptJob>): Record<string, string> =>
  Object.fromEntries(
    (job.spec.template.spec.containers[0].env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]),
  );

describe('hostScriptJob', () => {
  const job = hostScriptJob(base);
  const pod = job.spec.template.spec;
  const container = pod.containers[0];

  it('is a batch/v1 Job that runs once, bounded in time, and is cleaned up after', () => {
    expect(job.apiVersion).toBe('batch/v1');
    expect(job.kind).toBe('Job');
    expect(job.metadata?.namespace).toBe('kube-system');
    expect(job.spec.backoffLimit).toBe(2);
    expect(job.spec.activeDeadlineSeconds).toBe(300);
    expect(job.spec.ttlSecondsAfterFinished).toBe(600);
    expect(pod.restartPolicy).toBe('Never');
  });

  it('fails the Job at once when the script exits 2 (bad input or a missing command): a retry cannot help', () => {
    expect(job.spec.podFailurePolicy).toEqual({
      rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [2] } }],
    });
  });

  it('pins the pod to the node, in the host network namespace, past any taint, at node-critical priority', () => {
    expect(pod.nodeName).toBe('worker-1');
    expect(pod.hostNetwork).toBe(true);
    expect(pod.hostPID).toBe(false);
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it("runs the script text with sh -c in a privileged container with the host's / at /host", () => {
    expect(container.command).toEqual(['/bin/sh', '-c', 'echo cleanup', 'flannel2calico-cleanup']);
    expect(pod.dnsPolicy).toBe('Default');
    expect(container.image).toBe('quay.io/calico/node:v3.32.1');
    expect(container.securityContext).toEqual({ privileged: true });
    expect(container.volumeMounts).toContainEqual({ name: 'host-root', mountPath: '/host' });
    expect(pod.volumes).toContainEqual({ name: 'host-root', hostPath: { path: '/', type: 'Directory' } });
    expect(container.volumeMounts).toContainEqual({ name: 'xtables-lock', mountPath: '/run/xtables.lock' });
    expect(pod.volumes).toContainEqual({
      name: 'xtables-lock',
      hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' },
    });
    expect(container.terminationMessagePolicy).toBe('FallbackToLogsOnError');
  });

  it('passes the settings as the environment the script reads', () => {
    expect(envOf(job)).toEqual({
      HOST_ROOT: '/host',
      NODE_NAME: 'worker-1',
      VNI: '1',
      FLAVOUR: 'flannel',
      CNI_CONFIG_DIR: '/etc/cni/net.d',
      CALICO_CNI_CONF: '10-calico.conflist',
    });
    const canal = hostScriptJob({
      ...base,
      flavour: 'canal',
      vni: 4096,
      cniConfigDir: '/var/lib/rancher/cni/net.d',
      calicoCniConf: '05-calico.conflist',
    });
    expect(envOf(canal)).toMatchObject({
      FLAVOUR: 'canal',
      VNI: '4096',
      CNI_CONFIG_DIR: '/var/lib/rancher/cni/net.d',
      CALICO_CNI_CONF: '05-calico.conflist',
    });
  });

  it('labels Job and pod with the managed-by, role, node and run labels', () => {
    const labels = {
      'app.kubernetes.io/managed-by': 'flannel2calico',
      'flannel2calico.io/role': 'host-cleanup',
      'flannel2calico.io/node': 'worker-1',
      [RUN_LABEL]: 'abc123',
    };
    expect(job.metadata?.labels).toEqual(labels);
    expect(job.spec.template.metadata.labels).toEqual(labels);
    expect(job.metadata?.annotations).toEqual({ [NODE_ANNOTATION]: 'worker-1' });
    expect(container.name).toBe('host-cleanup');
  });

  it('builds the revert Job with its role, and POD_NETWORKS only there', () => {
    const revert = hostScriptJob({
      ...base,
      script: 'revert',
      scriptText: 'echo revert',
      podNetworks: ['10.244.0.0/16', 'fd00:10:244::/56'],
    });
    expect(revert.metadata?.labels?.['flannel2calico.io/role']).toBe(HOST_SCRIPT_ROLES.revert);
    expect(revert.metadata?.name).toMatch(/^f2c-revert-worker-1-[0-9a-f]{8}$/);
    expect(envOf(revert).POD_NETWORKS).toBe('10.244.0.0/16 fd00:10:244::/56');
    expect(envOf(hostScriptJob({ ...base, podNetworks: ['10.244.0.0/16'] })).POD_NETWORKS).toBeUndefined();
  });

  it('is pure: the same input gives the same Job, and the input is not changed', () => {
    const input = { ...base, podNetworks: ['10.244.0.0/16'] };
    const copy = JSON.parse(JSON.stringify(input));
    expect(hostScriptJob(input)).toEqual(hostScriptJob(input));
    expect(input).toEqual(copy);
  });

  it('refuses bad input with one message naming every problem', () => {
    expect(() => hostScriptJob({ ...base, vni: 16777216 })).toThrow(
      'vni must be an integer from 0 to 16777215, not 16777216',
    );
    expect(() => hostScriptJob({ ...base, vni: 1.5 })).toThrow('vni must be an integer');
    expect(() => hostScriptJob({ ...base, flavour: 'weave' as 'flannel' })).toThrow('flavour must be flannel or canal');
    expect(() => hostScriptJob({ ...base, script: 'reboot' as 'cleanup' })).toThrow('script must be cleanup or revert');
    expect(() => hostScriptJob({ ...base, cniConfigDir: 'etc/cni/net.d' })).toThrow(
      'cniConfigDir must be an absolute path',
    );
    expect(() => hostScriptJob({ ...base, cniConfigDir: '/etc/../root' })).toThrow(
      'cniConfigDir must be an absolute path',
    );
    expect(() => hostScriptJob({ ...base, cniConfigDir: '/etc/cni; rm -rf /' })).toThrow(
      'cniConfigDir must be an absolute path',
    );
    expect(() => hostScriptJob({ ...base, calicoCniConf: '../10-calico.conflist' })).toThrow(
      'calicoCniConf must be a file name',
    );
    expect(() => hostScriptJob({ ...base, namespace: 'Kube_System' })).toThrow('is not a valid namespace name');
    expect(() => hostScriptJob({ ...base, podNetworks: ['10.244.0.0'] })).toThrow(
      'podNetworks entry "10.244.0.0" is not a CIDR',
    );
    expect(() => hostScriptJob({ ...base, scriptText: '  ', node: '', image: '', runId: '' })).toThrow(
      'invalid host script Job: scriptText is empty; node is empty; image is empty; runId is empty',
    );
  });
});

describe('hostScriptJobName', () => {
  it('is f2c-<script>-<node>-<hash>, the same for the same script, node and run', () => {
    expect(hostScriptJobName('cleanup', 'worker-1', 'r1')).toMatch(/^f2c-cleanup-worker-1-[0-9a-f]{8}$/);
    expect(hostScriptJobName('cleanup', 'worker-1', 'r1')).toBe(hostScriptJobName('cleanup', 'worker-1', 'r1'));
    expect(hostScriptJobName('cleanup', 'worker-1', 'r2')).not.toBe(hostScriptJobName('cleanup', 'worker-1', 'r1'));
    expect(hostScriptJobName('revert', 'worker-1', 'r1')).not.toBe(
      hostScriptJobName('cleanup', 'worker-1', 'r1').replace('cleanup', 'revert'),
    );
  });

  it('fits 63 characters and DNS label syntax for any node name, keeping different long names apart', () => {
    const long = `ip-10-0-1-5.${'very-long-zone-name.'.repeat(8)}compute.internal`;
    const a = hostScriptJobName('cleanup', long, 'r1');
    const b = hostScriptJobName('cleanup', `${long}x`, 'r1');
    for (const name of [
      a,
      b,
      hostScriptJobName('revert', 'Node_With.Dots', 'r1'),
      hostScriptJobName('cleanup', '...', 'r1'),
    ]) {
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(DNS_LABEL);
    }
    expect(a).not.toBe(b);
    expect(hostScriptJobName('revert', 'Node_With.Dots', 'r1')).toMatch(/^f2c-revert-node-with-dots-[0-9a-f]{8}$/);
  });
});

describe('labelValue', () => {
  it('keeps valid values and turns others into valid, distinct ones', () => {
    expect(labelValue('worker-1.example.com')).toBe('worker-1.example.com');
    const long = 'n'.repeat(70);
    expect(labelValue(long)).toMatch(LABEL_VALUE);
    expect(labelValue(long).length).toBeLessThanOrEqual(63);
    expect(labelValue(long)).not.toBe(labelValue(`${long}x`));
    expect(labelValue('run 2026/11/26')).toMatch(LABEL_VALUE);
  });

  it('puts the full node name in an annotation when the label cannot hold it', () => {
    const node = `node-${'a'.repeat(80)}`;
    const job = hostScriptJob({ ...base, node });
    expect(job.metadata?.labels?.['flannel2calico.io/node']).toMatch(LABEL_VALUE);
    expect(job.metadata?.annotations?.[NODE_ANNOTATION]).toBe(node);
    expect(job.spec.template.spec.nodeName).toBe(node);
  });
});

describe('loadHostScript', () => {
  it('finds the script files in src/host', () => {
    for (const name of ['cleanup', 'revert', 'lib'] as const) expect(fs.existsSync(hostScriptPath(name))).toBe(true);
  });

  it('returns lib.sh followed by the script, as valid bash that does not source lib.sh again', () => {
    for (const name of ['cleanup', 'revert'] as const) {
      const text = loadHostScript(name);
      expect(text.startsWith(fs.readFileSync(hostScriptPath('lib'), 'utf8'))).toBe(true);
      expect(text.endsWith(fs.readFileSync(hostScriptPath(name), 'utf8'))).toBe(true);
      expect(text.indexOf('F2C_LIB_LOADED=1')).toBeLessThan(text.indexOf('if [ -z "${F2C_LIB_LOADED:-}" ]'));
      const syntax = spawnSync('bash', ['-n', '-c', text], { encoding: 'utf8' });
      expect(syntax.stderr).toBe('');
      expect(syntax.status).toBe(0);
    }
  });
});

describe('hostScriptJob in check mode', () => {
  const check = hostScriptJob({ ...base, mode: 'check' });
  const pod = check.spec.template.spec;
  const container = pod.containers[0];

  it('is the same pod shape with MODE=check, the host-check role and its own name', () => {
    expect(check.metadata?.name).toMatch(/^f2c-check-worker-1-[0-9a-f]{8}$/);
    expect(check.metadata?.name).not.toBe(hostScriptJob(base).metadata?.name);
    expect(check.metadata?.name).not.toBe(hostScriptJob({ ...base, script: 'revert', mode: 'check' }).metadata?.name);
    const labels = {
      'app.kubernetes.io/managed-by': 'flannel2calico',
      'flannel2calico.io/role': HOST_CHECK_ROLE,
      'flannel2calico.io/node': 'worker-1',
      [RUN_LABEL]: 'abc123',
    };
    expect(HOST_CHECK_ROLE).toBe('host-check');
    expect(check.metadata?.labels).toEqual(labels);
    expect(check.spec.template.metadata.labels).toEqual(labels);
    expect(container.name).toBe('host-check');
    expect(envOf(check)).toMatchObject({ MODE: 'check', HOST_ROOT: '/host', FLAVOUR: 'flannel' });
    expect(envOf(hostScriptJob(base)).MODE).toBeUndefined();
    expect(container.command).toEqual(['/bin/sh', '-c', 'echo cleanup', 'flannel2calico-cleanup']);
    expect(container.image).toBe('quay.io/calico/node:v3.32.1');
    expect(container.terminationMessagePolicy).toBe('FallbackToLogsOnError');
    expect(pod.nodeName).toBe('worker-1');
    expect(pod.hostNetwork).toBe(true);
    expect(container.securityContext).toEqual({ privileged: true });
  });

  it("sees the host's / read-only and gets no xtables lock, since it writes nothing; no retry", () => {
    expect(container.volumeMounts).toEqual([{ name: 'host-root', mountPath: '/host', readOnly: true }]);
    expect(pod.volumes).toEqual([{ name: 'host-root', hostPath: { path: '/', type: 'Directory' } }]);
    expect(check.spec.backoffLimit).toBe(0);
    expect(check.spec.activeDeadlineSeconds).toBe(120);
  });

  it('refuses an unknown mode', () => {
    expect(() => hostScriptJob({ ...base, mode: 'dry' as 'run' })).toThrow('mode must be run or check, not "dry"');
  });

  it('names calico/node v3.32.1 as the default helper image', () => {
    expect(DEFAULT_HELPER_IMAGE).toBe('quay.io/calico/node:v3.32.1');
  });
});

describe('staleHostJobReason', () => {
  const wanted = hostScriptJob({ ...base, scriptText: 'echo v2' });

  it('reuses a Job made from the same image, script and settings that has not failed', () => {
    expect(staleHostJobReason({ ...wanted, status: { active: 1 } }, wanted)).toBeUndefined();
    expect(
      staleHostJobReason(
        { ...wanted, status: { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] } },
        wanted,
      ),
    ).toBeUndefined();
  });

  it('replaces a failed Job, or one with another image, script text or settings', () => {
    expect(
      staleHostJobReason({ ...wanted, status: { conditions: [{ type: 'Failed', status: 'True' }] } }, wanted),
    ).toBe('it failed');
    expect(staleHostJobReason(hostScriptJob({ ...base, scriptText: 'echo v2', image: 'busybox:1.36' }), wanted)).toBe(
      'it runs image busybox:1.36, not quay.io/calico/node:v3.32.1',
    );
    expect(staleHostJobReason(hostScriptJob({ ...base, scriptText: 'echo v1' }), wanted)).toBe(
      'it runs another version of the script',
    );
    expect(staleHostJobReason(hostScriptJob({ ...base, scriptText: 'echo v2', vni: 4096 }), wanted)).toBe(
      'it has other settings',
    );
  });
});

describe('hostPodOutcome', () => {
  const terminated = (message: string, exitCode: number) => ({
    status: { containerStatuses: [{ state: { terminated: { exitCode, reason: 'Error', message } } }] },
  });

  it("reads the missing commands and the script's error line from the terminated message", () => {
    const line =
      'error: missing commands: nft, iptables-nft-save; cleanup.sh needs them and changed ' +
      'nothing. Pass --helper-image with an image that has them, e.g. ' +
      'quay.io/calico/node:v3.32.1 (the calico/node image of the Calico manifest)';
    expect(hostPodOutcome(terminated(`${line}\n`, 2))).toEqual({
      lines: [line],
      exitCode: 2,
      reason: undefined,
      missingCommands: ['nft', 'iptables-nft-save'],
    });
  });

  it('keeps only the error lines of a run that failed, or the last lines when there are none', () => {
    const out =
      'removed link flannel.1\nerror: could not list nftables tables (nft list tables), so ' +
      'table(s) ip flannel-ipv4 were not checked: exit 1\nerror: 1 item(s) could not be removed ' +
      'from node w1; see the lines above\n';
    expect(hostPodOutcome(terminated(out, 1)).lines).toEqual([
      'error: could not list nftables tables (nft list tables), so table(s) ip flannel-ipv4 were not checked: exit 1',
      'error: 1 item(s) could not be removed from node w1; see the lines above',
    ]);
    expect(hostPodOutcome(terminated('a\nb\nc\nd\ne\nf\n', 1)).lines).toEqual(['b', 'c', 'd', 'e', 'f']);
    expect(hostPodOutcome(terminated('', 137)).missingCommands).toEqual([]);
  });

  it('gives the waiting reason of a container that never started, e.g. an image that cannot be pulled', () => {
    const pod = {
      status: {
        phase: 'Pending',
        containerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image' } } }],
      },
    };
    expect(hostPodOutcome(pod)).toEqual({
      lines: [],
      exitCode: undefined,
      reason: 'ImagePullBackOff',
      missingCommands: [],
    });
    expect(hostPodOutcome(undefined)).toEqual({
      lines: [],
      exitCode: undefined,
      reason: undefined,
      missingCommands: [],
    });
  });
});
