export * from './client.js';
export * from './errors.js';
export * from './kubeconfig.js';
export type {
  V1Node,
  V1Pod,
  V1DaemonSet,
  V1PodDisruptionBudget,
  V1ConfigMap,
  V1Lease,
  V1Job,
  V1Service,
} from '@kubernetes/client-node';
