import type { KubeObject } from '../cluster/index.js';
import { boundedName, labelSelector, labelValue } from '../k8s.js';
import { MANAGED_BY, MANAGED_BY_LABEL, NODE_LABEL, ROLE_LABEL } from '../names.js';

export const PROBE_NAMESPACE = 'kube-system';
export const PROBE_PORT = 8080;

const tolerateAll = [{ operator: 'Exists' }];

function labels(role: string, node: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, [ROLE_LABEL]: role, [NODE_LABEL]: labelValue(node) };
}

/** Selects the probe server pod of `node`. */
export function probeServerSelector(node: string): string {
  return labelSelector(labels('probe-server', node));
}

/** A tiny HTTP server on the migrated node, for peers to reach over the pod network. */
export function probeServerPod(node: string, image: string): KubeObject {
  const name = boundedName('f2c-probe-server', node, node);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: PROBE_NAMESPACE, labels: labels('probe-server', node) },
    spec: {
      nodeName: node,
      tolerations: tolerateAll,
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: 'server',
          image,
          command: ['sh', '-c', `echo ok > /tmp/index.html && exec httpd -f -p ${PROBE_PORT} -h /tmp`],
          ports: [{ containerPort: PROBE_PORT }],
          readinessProbe: { tcpSocket: { port: PROBE_PORT }, periodSeconds: 1 },
        },
      ],
    },
  };
}

/**
 * A Job on `runOn` that must reach every target: pod IPs over HTTP, and names through cluster DNS.
 * It fails (non-zero exit) on the first unreachable target. It is owned by the probe's server pod
 * (`owner`), so that deleting the pod is the one request that removes the probe: the garbage
 * collector deletes the Jobs, and their pods, after it.
 */
export function probeClientJob(opts: {
  runOn: string;
  migratedNode: string;
  image: string;
  httpTargets: string[];
  dnsNames: string[];
  suffix: string;
  owner: { name: string; uid: string };
}): KubeObject {
  const name = boundedName(`f2c-probe-${opts.suffix}`, opts.migratedNode, opts.migratedNode);
  const checks = [
    ...opts.httpTargets.map(
      (t) =>
        `wget -q -T 5 -O /dev/null ` +
        `http://${t.includes(':') && !t.startsWith('[') ? `[${t}]` : t}:${PROBE_PORT}/ || { echo ` +
        `"cannot reach ${t}:${PROBE_PORT}"; exit 1; }`,
    ),
    ...opts.dnsNames.map((n) => `nslookup ${n} >/dev/null || { echo "cannot resolve ${n}"; exit 1; }`),
    'echo all probes passed',
  ];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: PROBE_NAMESPACE,
      labels: labels(`probe-${opts.suffix}`, opts.migratedNode),
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Pod',
          name: opts.owner.name,
          uid: opts.owner.uid,
          controller: false,
          blockOwnerDeletion: false,
        },
      ],
    },
    spec: {
      backoffLimit: 2,
      activeDeadlineSeconds: 120,
      ttlSecondsAfterFinished: 600,
      template: {
        metadata: { labels: labels(`probe-${opts.suffix}`, opts.migratedNode) },
        spec: {
          nodeName: opts.runOn,
          tolerations: tolerateAll,
          restartPolicy: 'Never',
          containers: [{ name: 'probe', image: opts.image, command: ['sh', '-c', checks.join('\n')] }],
        },
      },
    },
  };
}

/**
 * Why a probe object found in the cluster cannot be reused for this probe (undefined: it can): a
 * Job that failed, belongs to another server pod (an earlier probe's, gone or going) or checks
 * other targets; a server pod that has ended.
 */
export function staleProbeReason(existing: KubeObject, wanted: KubeObject): string | undefined {
  if (existing.kind === 'Pod') {
    const phase = existing.status?.phase;
    return phase === 'Succeeded' || phase === 'Failed' ? `it has ended (${phase})` : undefined;
  }
  const conditions: Array<{ type?: string; status?: string }> = existing.status?.conditions ?? [];
  if (conditions.some((c) => c.type === 'Failed' && c.status === 'True')) return 'it failed';
  const owner = (o: KubeObject) => (o.metadata?.ownerReferences ?? []).map((r: { uid?: string }) => r.uid).join(',');
  if (owner(existing) !== owner(wanted)) return "it belongs to an earlier probe's server pod";
  const spec = (o: KubeObject) => {
    const pod = o.spec?.template?.spec;
    return JSON.stringify([pod?.nodeName, pod?.containers?.[0]?.image, pod?.containers?.[0]?.command]);
  };
  if (spec(existing) !== spec(wanted)) return 'it probes other targets';
  return undefined;
}
