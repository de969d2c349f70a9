/**
 * Names every layer shares: what the migration writes into the cluster (status and revert read the
 * same names) and the well-known names it looks for. The bottom of the import graph: imports nothing.
 */
export const CALICO_API_GROUP = 'crd.projectcalico.org';
export const CALICO_GROUP_VERSION = `${CALICO_API_GROUP}/v1`;
export const MIGRATION_LABEL = 'projectcalico.org/node-network-during-migration';
export type NetworkLabel = 'flannel' | 'none' | 'calico';
export const NODE_STATE_ANNOTATION = 'flannel2calico.io/state';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'flannel2calico';
/** Selects every object the migration created. */
export const MANAGED_BY_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
export const ROLE_LABEL = 'flannel2calico.io/role';
export const NODE_LABEL = 'flannel2calico.io/node';
export const STATE_NAMESPACE = 'kube-system';
export const STATE_CONFIGMAP = 'flannel2calico-state';
export const LEASE_NAME = 'flannel2calico';
export const EVENT_NAMESPACE = 'default';
/** Calico's DaemonSet in kube-system, unless the operator names another (CALICO_DAEMONSET_NAME). */
export const DEFAULT_CALICO_DAEMONSET = 'calico-node';
/** Labels that mark a control-plane node: kubeadm's, the older master, and Rancher RKE's controlplane. */
export const CONTROL_PLANE_LABELS = ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master', 'node-role.kubernetes.io/controlplane'];
/**
 * flannel's DaemonSet as today's kube-flannel.yml installs it (the defaults of --flannel-daemonset
 * and --flannel-namespace), then the names older manifests used: kube-system before flannel v0.20,
 * one DaemonSet per architecture before v0.12 (the default of Calico's flannel-migration controller).
 */
export const FLANNEL_DAEMONSETS: ReadonlyArray<{ namespace: string; name: string }> = [
  { namespace: 'kube-flannel', name: 'kube-flannel-ds' },
  { namespace: 'kube-system', name: 'kube-flannel-ds' },
  { namespace: 'kube-system', name: 'kube-flannel-ds-amd64' },
];
/** Searched one by one, in this order, when DaemonSets cannot be listed cluster-wide. */
export const FLANNEL_NAMESPACES = [...new Set(FLANNEL_DAEMONSETS.map((d) => d.namespace))];
