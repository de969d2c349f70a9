/**
 * The parts of Pods and Nodes the planner, its preflight, the drain filters and the fingerprint read.
 * collectSnapshot keeps only these as each page of a list arrives, so a cluster of 30,000 pods is held
 * as a few kilobytes of plain data per node instead of every pod's full object. A field read from a
 * snapshot Pod or Node must be kept here, or it reads as absent.
 */
import type { V1Node, V1Pod } from '../cluster/index.js';
import { MIRROR_POD_ANNOTATION } from './drain-filters.js';

type V1Container = NonNullable<V1Pod['spec']>['containers'][number];

/** Pods whose container command lines the service network check reads (kube-apiserver's flags). */
const COMMAND_LINE_NAMESPACE = 'kube-system';

/** Drops undefined values, so a projected object serialises like the original. */
function defined<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as Array<keyof T>) if (obj[key] === undefined) delete obj[key];
  return obj;
}

function container(c: V1Container, commandLine: boolean): V1Container {
  return defined({
    name: c.name,
    resources: c.resources?.requests ? { requests: c.resources.requests } : undefined,
    restartPolicy: c.restartPolicy,
    command: commandLine ? c.command : undefined,
    args: commandLine ? c.args : undefined,
  });
}

/**
 * A Pod reduced to: namespace, name, labels (PDB selectors), the mirror annotation, the controller
 * reference, deletionTimestamp; nodeName, emptyDir volumes, hostNetwork, resource requests (and
 * kube-system command lines); phase and pod IPs.
 */
export function planPod(pod: V1Pod): V1Pod {
  const m = pod.metadata ?? {};
  const spec = pod.spec;
  const commandLine = m.namespace === COMMAND_LINE_NAMESPACE;
  const mirror = m.annotations?.[MIRROR_POD_ANNOTATION];
  const controller = m.ownerReferences?.find((ref) => ref.controller === true);
  const emptyDirs = spec?.volumes?.filter((v) => v.emptyDir !== undefined && v.emptyDir !== null);
  return defined({
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: defined({
      namespace: m.namespace,
      name: m.name,
      labels: m.labels,
      annotations: mirror !== undefined ? { [MIRROR_POD_ANNOTATION]: mirror } : undefined,
      ownerReferences: controller
        ? [
            {
              apiVersion: controller.apiVersion,
              kind: controller.kind,
              name: controller.name,
              uid: controller.uid,
              controller: true,
            },
          ]
        : undefined,
      deletionTimestamp: m.deletionTimestamp,
    }),
    spec: spec
      ? defined({
          nodeName: spec.nodeName,
          hostNetwork: spec.hostNetwork,
          containers: spec.containers.map((c) => container(c, commandLine)),
          initContainers: spec.initContainers?.map((c) => container(c, commandLine)),
          overhead: spec.overhead,
          volumes: emptyDirs?.length ? emptyDirs.map((v) => ({ name: v.name, emptyDir: v.emptyDir })) : undefined,
        })
      : undefined,
    status: pod.status
      ? defined({ phase: pod.status.phase, podIP: pod.status.podIP, podIPs: pod.status.podIPs })
      : undefined,
  });
}

/**
 * A Node reduced to: name, labels and annotations (roles, migration state, flannel's and Calico's
 * annotations, all fingerprinted); podCIDR(s), taints, unschedulable; conditions, allocatable
 * resources and addresses. Images, node info and heartbeat times are dropped.
 */
export function planNode(node: V1Node): V1Node {
  const m = node.metadata ?? {};
  const spec = node.spec;
  const status = node.status;
  return defined({
    apiVersion: node.apiVersion,
    kind: node.kind,
    metadata: defined({ name: m.name, labels: m.labels, annotations: m.annotations }),
    spec: spec
      ? defined({
          podCIDR: spec.podCIDR,
          podCIDRs: spec.podCIDRs,
          taints: spec.taints,
          unschedulable: spec.unschedulable,
        })
      : undefined,
    status: status
      ? defined({
          conditions: status.conditions?.map((c) =>
            defined({ type: c.type, status: c.status, reason: c.reason, message: c.message }),
          ),
          allocatable: status.allocatable,
          capacity: status.allocatable ? undefined : status.capacity,
          addresses: status.addresses,
        })
      : undefined,
  });
}
