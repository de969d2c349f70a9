import type { Finding } from '../finding.js';
import type { MigrationSettings } from './settings.js';

/** A check of detect: a finding with a title that says what was checked. */
export interface Check extends Finding {
  title: string;
}

export interface FlannelNodeInfo {
  name: string;
  podCidrs: string[];
  backendType?: string;
  vtepMacV4?: string;
  vtepMacV6?: string;
  publicIpV4?: string;
  publicIpV6?: string;
  /** VNI from backend-data. */
  vni?: number;
  /** VNI from backend-v6-data. */
  vniV6?: number;
  /** The node carries `<prefix>/kube-subnet-manager: "true"`. */
  kubeSubnetManager?: boolean;
  problems: string[];
}

export type Flavour = 'flannel' | 'canal' | 'none' | 'embedded';

export interface DaemonSetCandidate {
  namespace: string;
  name: string;
  flavour: 'flannel' | 'canal';
  /** Why it was taken for flannel: labels, owner, content. */
  evidence: string[];
}

export interface DetectedDaemonSet {
  name: string;
  namespace: string;
  /** Image of the flanneld container. */
  image?: string;
  /** Version checked against the prerequisite: flannel's, or for Canal the calico/node image's. */
  version?: string;
  /** Name of the container that runs flanneld. */
  container: string;
  /** Canal: the calico/node image. */
  calicoImage?: string;
  /** Who manages it, when known: "addon-manager (Reconcile)", "Helm release rke2-canal", … */
  managedBy?: string;
  /** flanneld's --iface values (or FLANNELD_IFACE): the underlay interface(s) flannel was pinned to. */
  ifaces?: string[];
}

export interface SubnetEnvRead {
  /** "namespace/pod" the file was read from, or tried. */
  pod?: string;
  read: boolean;
  /** Why it could not be read. */
  reason?: string;
}

export interface Detection {
  flavour: Flavour;
  daemonSet?: DetectedDaemonSet;
  configMap?: { name: string; namespace: string };
  backend: { type: string; vni?: number; port?: number; directRouting?: boolean };
  /** Fully resolved, each with its source. */
  settings: MigrationSettings;
  conflicts: string[];
  checks: Check[];
  nodes: FlannelNodeInfo[];
  /** Every DaemonSet that looked like flannel or Canal. */
  candidates: DaemonSetCandidate[];
  subnetEnv: SubnetEnvRead;
  /** One sentence: what was found (or why nothing was). */
  summary: string;
}
