import { createHash } from 'node:crypto';
import type { KubeObject, V1Job } from '../cluster/index.js';
import { MANAGED_BY, MANAGED_BY_LABEL, NODE_LABEL, ROLE_LABEL } from '../engine/constants.js';

export { hostScriptPath, loadHostScript } from './load.js';

export type HostScript = 'cleanup' | 'revert';
export type HostFlavour = 'flannel' | 'canal';

export const HOST_SCRIPT_ROLES: Record<HostScript, string> = { cleanup: 'host-cleanup', revert: 'host-revert' };
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
  /** Calico's CNI config file name (install-cni's CNI_CONF_NAME). */
  calicoCniConf?: string;
  /** revert only: the IP pools' CIDRs, to find Felix's routes. */
  podNetworks?: string[];
}

const MAX_NAME = 63;
const MAX_VNI = 16777215;

function shortHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 8);
}

/** `value` if it is a valid label value, else a valid one made from it (truncated, with a hash). */
export function labelValue(value: string): string {
  if (/^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/.test(value)) return value;
  const cleaned = value.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, MAX_NAME - 9).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return cleaned ? `${cleaned}-${shortHash(value)}` : shortHash(value);
}

/** `f2c-<script>-<node>-<hash>`, at most 63 characters, the same for the same script, node and run. */
export function hostScriptJobName(script: HostScript, node: string, runId: string): string {
  const hash = shortHash(script, node, runId);
  const prefix = `f2c-${script}-`;
  const room = MAX_NAME - prefix.length - hash.length - 1;
  const nodePart = node.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, room).replace(/^-+|-+$/g, '');
  return `${prefix}${nodePart ? `${nodePart}-` : ''}${hash}`;
}

function validate(o: HostScriptJobOptions): void {
  const problems: string[] = [];
  if (o.script !== 'cleanup' && o.script !== 'revert') problems.push(`script must be cleanup or revert, not ${JSON.stringify(o.script)}`);
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
 * Pure: the script text comes in as an argument (see loadHostScript).
 */
export function hostScriptJob(o: HostScriptJobOptions): KubeObject {
  validate(o);
  const role = HOST_SCRIPT_ROLES[o.script];
  const name = hostScriptJobName(o.script, o.node, o.runId);
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
  ];
  const job: V1Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: o.namespace, labels, annotations: { [NODE_ANNOTATION]: o.node } },
    spec: {
      backoffLimit: 2,
      activeDeadlineSeconds: 300,
      ttlSecondsAfterFinished: 600,
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
            terminationMessagePolicy: 'FallbackToLogsOnError',
            volumeMounts: [
              { name: 'host-root', mountPath: HOST_ROOT_MOUNT },
              // iptables-legacy serialises on this file; share the host's with kube-proxy and Felix.
              { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
            ],
          }],
          volumes: [
            { name: 'host-root', hostPath: { path: '/', type: 'Directory' } },
            { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
          ],
        },
      },
    },
  };
  return job as KubeObject;
}
