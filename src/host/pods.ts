import type { KubeObject, V1Job } from '../cluster/index.js';
import { boundedName, labelValue } from '../k8s.js';
import { MANAGED_BY, MANAGED_BY_LABEL, NODE_LABEL, ROLE_LABEL } from '../names.js';
import { DEFAULT_HELPER_IMAGE } from '../plan/types.js';

export { DEFAULT_HELPER_IMAGE };

import type { HostScript } from './load.js';

export { hostScriptPath, loadHostScript, type HostScript } from './load.js';
export type HostFlavour = 'flannel' | 'canal';
/** run: the script does its work; check: it checks its inputs and the image's commands, and changes nothing. */
export type HostScriptMode = 'run' | 'check';

export const HOST_SCRIPT_ROLES: Record<HostScript, string> = { cleanup: 'host-cleanup', revert: 'host-revert' };
/** The role of a Job in check mode, whichever script it checks. */
export const HOST_CHECK_ROLE = 'host-check';
/** The script's exit status for bad input or a missing command: nothing was changed, and a retry cannot help. */
export const HOST_SCRIPT_REFUSED_EXIT = 2;
export const RUN_LABEL = 'flannel2calico.io/run';
/** The full node name, for nodes whose name does not fit a label value. */
export const NODE_ANNOTATION = 'flannel2calico.io/node';
export const DEFAULT_CALICO_CNI_CONF = '10-calico.conflist';
/** Where the host's / is mounted in the container; the scripts read it as HOST_ROOT. */
export const HOST_ROOT_MOUNT = '/host';

export interface HostScriptJobOptions {
  script: HostScript;
  /** The script as loadHostScript(script) returns it. */
  scriptText: string;
  node: string;
  namespace: string;
  vni: number;
  cniConfigDir: string;
  flavour: HostFlavour;
  /** An image with sh, iproute2, iptables (nft and legacy) and nft: calico/node, as the Calico manifest pins it. */
  image: string;
  /** Distinguishes runs; part of the Job's name and its run label. */
  runId: string;
  /** run (default) or check; a check Job has its own name, role and a read-only view of the host. */
  mode?: HostScriptMode;
  /** Calico's CNI config file name (install-cni's CNI_CONF_NAME). */
  calicoCniConf?: string;
  /** revert only: the IP pools' CIDRs, to find Felix's routes. */
  podNetworks?: string[];
}

const MAX_VNI = 16777215;


/**
 * `f2c-<script>-<node>-<hash>` (check mode: `f2c-check-<node>-<hash>`), at most 63 characters, the
 * same for the same script, node, run and mode.
 */
export function hostScriptJobName(script: HostScript, node: string, runId: string, mode: HostScriptMode = 'run'): string {
  const hashed = mode === 'check' ? [script, node, runId, mode] : [script, node, runId];
  return boundedName(`f2c-${mode === 'check' ? 'check' : script}`, node, ...hashed);
}

function validate(o: HostScriptJobOptions): void {
  const problems: string[] = [];
  if (o.script !== 'cleanup' && o.script !== 'revert') problems.push(`script must be cleanup or revert, not ${JSON.stringify(o.script)}`);
  if (o.mode !== undefined && o.mode !== 'run' && o.mode !== 'check') problems.push(`mode must be run or check, not ${JSON.stringify(o.mode)}`);
  if (!o.scriptText || !o.scriptText.trim()) problems.push('scriptText is empty');
  if (!o.node) problems.push('node is empty');
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(o.namespace ?? '')) problems.push(`namespace ${JSON.stringify(o.namespace)} is not a valid namespace name`);
  if (!Number.isInteger(o.vni) || o.vni < 0 || o.vni > MAX_VNI) problems.push(`vni must be an integer from 0 to ${MAX_VNI}, not ${o.vni}`);
  if (!/^\/[A-Za-z0-9._/-]*$/.test(o.cniConfigDir ?? '') || o.cniConfigDir.split('/').includes('..')) {
    problems.push(`cniConfigDir must be an absolute path, not ${JSON.stringify(o.cniConfigDir)}`);
  }
  if (o.flavour !== 'flannel' && o.flavour !== 'canal') problems.push(`flavour must be flannel or canal, not ${JSON.stringify(o.flavour)}`);
  if (!o.image) problems.push('image is empty');
  if (!o.runId) problems.push('runId is empty');
  const conf = o.calicoCniConf ?? DEFAULT_CALICO_CNI_CONF;
  if (!/^[A-Za-z0-9._-]+$/.test(conf) || conf === '.' || conf === '..') problems.push(`calicoCniConf must be a file name, not ${JSON.stringify(conf)}`);
  for (const cidr of o.podNetworks ?? []) {
    if (!/^[0-9A-Fa-f.:]+\/\d{1,3}$/.test(cidr)) problems.push(`podNetworks entry ${JSON.stringify(cidr)} is not a CIDR`);
  }
  if (problems.length) throw new Error(`invalid host script Job: ${problems.join('; ')}`);
}

/**
 * The Job that runs a host script once on one node: pinned there with nodeName (no scheduler,
 * no taint in the way), in the host's network namespace, privileged, with the host's / at /host.
 * In check mode (MODE=check) the script only checks its inputs and the image's commands: the
 * pod has the same shape (so admission, scheduling and the image pull are proven too), but sees
 * the host's / read-only and gets no xtables lock, since it writes nothing.
 * Pure: the script text comes in as an argument (see loadHostScript).
 */
export function hostScriptJob(o: HostScriptJobOptions): KubeObject {
  validate(o);
  const mode = o.mode ?? 'run';
  const check = mode === 'check';
  const role = check ? HOST_CHECK_ROLE : HOST_SCRIPT_ROLES[o.script];
  const name = hostScriptJobName(o.script, o.node, o.runId, mode);
  const labels = {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [ROLE_LABEL]: role,
    [NODE_LABEL]: labelValue(o.node),
    [RUN_LABEL]: labelValue(o.runId),
  };
  const env = [
    { name: 'HOST_ROOT', value: HOST_ROOT_MOUNT },
    { name: 'NODE_NAME', value: o.node },
    { name: 'VNI', value: String(o.vni) },
    { name: 'FLAVOUR', value: o.flavour },
    { name: 'CNI_CONFIG_DIR', value: o.cniConfigDir },
    { name: 'CALICO_CNI_CONF', value: o.calicoCniConf ?? DEFAULT_CALICO_CNI_CONF },
    ...(o.script === 'revert' && o.podNetworks?.length ? [{ name: 'POD_NETWORKS', value: o.podNetworks.join(' ') }] : []),
    ...(check ? [{ name: 'MODE', value: 'check' }] : []),
  ];
  const volumeMounts = check
    ? [{ name: 'host-root', mountPath: HOST_ROOT_MOUNT, readOnly: true }]
    : [
      { name: 'host-root', mountPath: HOST_ROOT_MOUNT },
      // iptables-legacy serialises on this file; share the host's with kube-proxy and Felix.
      { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
    ];
  const volumes = check
    ? [{ name: 'host-root', hostPath: { path: '/', type: 'Directory' } }]
    : [
      { name: 'host-root', hostPath: { path: '/', type: 'Directory' } },
      { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
    ];
  const job: V1Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: o.namespace, labels, annotations: { [NODE_ANNOTATION]: o.node } },
    spec: {
      // A check either finds the commands or not: no retry.
      backoffLimit: check ? 0 : 2,
      activeDeadlineSeconds: check ? 120 : 300,
      ttlSecondsAfterFinished: 600,
      // Exit 2 (bad input, missing command) changed nothing and would fail again: fail the Job at once.
      podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { operator: 'In', values: [HOST_SCRIPT_REFUSED_EXIT] } }] },
      template: {
        metadata: { labels, annotations: { [NODE_ANNOTATION]: o.node } },
        spec: {
          nodeName: o.node,
          hostNetwork: true,
          hostPID: false,
          // The scripts need no name resolution, and cluster DNS may be mid-migration.
          dnsPolicy: 'Default',
          restartPolicy: 'Never',
          priorityClassName: 'system-node-critical',
          tolerations: [{ operator: 'Exists' }],
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 5,
          containers: [{
            name: role,
            image: o.image,
            imagePullPolicy: 'IfNotPresent',
            // $0 names the script in the shell's own messages.
            command: ['/bin/sh', '-c', o.scriptText, `flannel2calico-${o.script}`],
            env,
            securityContext: { privileged: true },
            resources: { requests: { cpu: '10m', memory: '32Mi' } },
            // On failure the kubelet puts the output's last lines in the terminated state's message.
            terminationMessagePolicy: 'FallbackToLogsOnError',
            volumeMounts,
          }],
          volumes,
        },
      },
    },
  };
  return job as KubeObject;
}

/**
 * Why an existing host Job cannot be waited on again: it failed, or it runs another image or
 * script text than `wanted`. Undefined when it can be reused.
 */
export function staleHostJobReason(existing: KubeObject, wanted: KubeObject): string | undefined {
  const conditions: Array<{ type?: string; status?: string }> = existing.status?.conditions ?? [];
  if (conditions.some((c) => c.type === 'Failed' && c.status === 'True')) return 'it failed';
  const have = existing.spec?.template?.spec?.containers?.[0];
  const want = wanted.spec?.template?.spec?.containers?.[0];
  if (have?.image !== want?.image) return `it runs image ${have?.image ?? '(none)'}, not ${want?.image}`;
  if (JSON.stringify(have?.command) !== JSON.stringify(want?.command)) return 'it runs another version of the script';
  if (JSON.stringify(have?.env) !== JSON.stringify(want?.env)) return 'it has other settings';
  return undefined;
}

/** What a host script's pod said when it ended (or why it never ran), for error messages. */
export interface HostPodOutcome {
  /** The script's own error lines (from the terminated message), or the pod's last output lines. */
  lines: string[];
  exitCode?: number;
  /** Why the container did not run, e.g. ErrImagePull, ImagePullBackOff. */
  reason?: string;
  /** Commands the script found missing in the image. */
  missingCommands: string[];
}

const MISSING_COMMANDS = /missing commands: ([^;]+);/;

/**
 * Reads a host script pod's status: containerStatuses[0].state.terminated.message (the output's
 * tail, through FallbackToLogsOnError) and exitCode, or the waiting reason of a container that
 * never started. Pure.
 */
export function hostPodOutcome(pod: KubeObject | undefined): HostPodOutcome {
  const status = pod?.status?.containerStatuses?.[0];
  const terminated = status?.state?.terminated ?? status?.lastState?.terminated;
  const waiting = status?.state?.waiting;
  const text: string = terminated?.message ?? '';
  const all = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const errors = all.filter((l) => l.startsWith('error:'));
  const missing = MISSING_COMMANDS.exec(text)?.[1].split(',').map((c) => c.trim()).filter(Boolean) ?? [];
  return {
    lines: errors.length ? errors : all.slice(-5),
    exitCode: terminated?.exitCode,
    reason: terminated ? (terminated.reason && terminated.reason !== 'Error' ? terminated.reason : undefined) : (waiting?.reason ?? pod?.status?.reason),
    missingCommands: missing,
  };
}
