import { CALICO_API_GROUP, EVENT_NAMESPACE, STATE_NAMESPACE } from '../names.js';
import type { DistributionMarkers, NodeFinding } from './annotations.js';
import {
  ADDON_MANAGER_LABEL,
  compareVersions,
  formatVersion,
  imageTag,
  parseVersion,
  type FlanneldConfig,
} from './discovery.js';
import type { NetConf } from './netconf.js';
import type { MigrationSettings } from './settings.js';
import type { Check, DaemonSetCandidate, FlannelNodeInfo } from './types.js';

const MIN_FLANNEL_VERSION = { major: 0, minor: 9, patch: 1 };
const MIN_CANAL_VERSION = { major: 3, minor: 7, patch: 0 };

function list(items: string[], max = 8): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

// ---------------------------------------------------------------------------------------------
// Installation

export type InstallationOutcome =
  | { kind: 'found'; candidate: DaemonSetCandidate }
  | { kind: 'absent'; annotatedNodes: string[]; markers: DistributionMarkers; unreadable?: string }
  | { kind: 'ambiguous'; candidates: DaemonSetCandidate[] }
  | { kind: 'not-found'; message: string }
  | { kind: 'not-flannel'; message: string };

export interface InstallationVerdict {
  flavour: 'flannel' | 'canal' | 'none' | 'embedded';
  check: Check;
  summary: string;
}

const INSTALLATION_TITLE = 'flannel runs as a DaemonSet';

/** Which installation was found, or why none can be migrated. */
export function installationCheck(outcome: InstallationOutcome): InstallationVerdict {
  const id = 'installation';
  const title = INSTALLATION_TITLE;
  switch (outcome.kind) {
    case 'found': {
      const c = outcome.candidate;
      const what = c.flavour === 'canal' ? 'Canal' : 'flannel';
      const summary = `${what} DaemonSet ${c.namespace}/${c.name}`;
      return {
        flavour: c.flavour,
        summary,
        check: { id, title, level: 'pass', message: `found ${summary} (${c.evidence.join('; ')})` },
      };
    }
    case 'ambiguous': {
      const names = outcome.candidates.map((c) => `${c.namespace}/${c.name} (${c.flavour})`);
      return {
        flavour: 'none',
        summary: `${outcome.candidates.length} flannel DaemonSets found`,
        check: {
          id,
          title,
          level: 'fail',
          message:
            `${outcome.candidates.length} DaemonSets look like flannel: ${names.join(', ')}; it is ` +
            `not safe to guess which one networks the pods`,
          fix:
            `Name the one to migrate: --flannel-daemonset ${outcome.candidates[0].namespace}/${outcome.candidates[0].name} ` +
            `(or FLANNEL_DAEMONSET_NAME=NAMESPACE/NAME).`,
        },
      };
    }
    case 'not-found':
      return {
        flavour: 'none',
        summary: 'the named flannel DaemonSet does not exist',
        check: {
          id,
          title,
          level: 'fail',
          message: outcome.message,
          fix:
            'Check the name with `kubectl get daemonsets -A`, then pass --flannel-daemonset ' +
            'NAMESPACE/NAME; leave it out to let detect find flannel by itself.',
        },
      };
    case 'not-flannel':
      return {
        flavour: 'none',
        summary: 'the named DaemonSet is not flannel',
        check: {
          id,
          title,
          level: 'fail',
          message: outcome.message,
          fix:
            'Name the DaemonSet whose pods run flanneld (kubectl get daemonsets -A -o wide), or leave ' +
            '--flannel-daemonset out to let detect find it.',
        },
      };
    case 'absent':
      return absentVerdict(outcome);
  }
}

function absentVerdict(o: Extract<InstallationOutcome, { kind: 'absent' }>): InstallationVerdict {
  const id = 'installation';
  const title = INSTALLATION_TITLE;
  const annotated = o.annotatedNodes.length;
  const distro = o.markers.rke2 ? 'RKE2' : o.markers.k3s ? 'k3s' : undefined;
  if (o.unreadable) {
    return {
      flavour: 'none',
      summary: 'DaemonSets could not be read',
      check: {
        id,
        title,
        level: 'fail',
        message: `cannot look for flannel: ${o.unreadable}`,
        fix:
          'Run detect with a kubeconfig that may list DaemonSets in all namespaces (or at least ' +
          'kube-flannel and kube-system); the rbac check lists everything the migration needs.',
      },
    };
  }
  if (annotated > 0 && o.markers.flannelBackendNone) {
    return {
      flavour: 'none',
      summary: `no flannel: ${distro ?? 'k3s'} runs with --flannel-backend=none`,
      check: {
        id,
        title,
        level: 'fail',
        message:
          `no flannel DaemonSet exists and ${distro ?? 'k3s'} was started with ` +
          `--flannel-backend=none; the flannel annotations on ${list(o.annotatedNodes)} are ` +
          `leftovers of an earlier flannel (k3s-io/k3s#3932), not a running flannel`,
        fix:
          'There is no flannel to migrate. Remove the stale annotations (kubectl annotate node NAME ' +
          'flannel.alpha.coreos.com/backend-data- …) so other tools are not misled.',
      },
    };
  }
  if (distro) {
    const config = distro === 'k3s' ? '/etc/rancher/k3s/config.yaml' : '/etc/rancher/rke2/config.yaml';
    return {
      flavour: 'embedded',
      summary: `flannel embedded in ${distro} (no DaemonSet)`,
      check: {
        id,
        title,
        level: 'fail',
        message:
          `flannel is embedded in ${distro}: the nodes carry ${distro === 'k3s' ? 'k3s.io/*' : 'rke2.io/*'} ` +
          `labels or ` +
          `annotations${annotated ? ` and ${annotated} of them flannel annotations` : ''}, but no ` +
          `flannel DaemonSet exists. Embedded flannel runs inside the ${distro} agent process, so ` +
          `it cannot be stopped node by node through the Kubernetes API, which a live migration ` +
          `needs; this is not supported`,
        fix:
          `Migrate ${distro} by configuration instead: set \`flannel-backend: none\` and ` +
          `\`disable-network-policy: true\` in ${config} on every server, restart ${distro} on ` +
          `every node, then install Calico (plan it as a maintenance window).`,
      },
    };
  }
  if (annotated > 0) {
    return {
      flavour: 'embedded',
      summary: 'flannel without a DaemonSet',
      check: {
        id,
        title,
        level: 'fail',
        message:
          `${annotated} node(s) carry flannel annotations (${list(o.annotatedNodes)}) but no ` +
          `DaemonSet runs flanneld: flannel runs outside Kubernetes (a host service, or embedded in ` +
          `the distribution), so it cannot be stopped node by node through the Kubernetes API; this ` +
          `is not supported`,
        fix:
          'If flannel does run as a DaemonSet that detect did not recognise, name it with ' +
          '--flannel-daemonset NAMESPACE/NAME. Otherwise stop flannel on the hosts and install ' +
          'Calico in a maintenance window.',
      },
    };
  }
  return {
    flavour: 'none',
    summary: 'no flannel or Canal found',
    check: {
      id,
      title,
      level: 'fail',
      message:
        'no flannel or Canal found: no DaemonSet in the cluster runs flanneld, and no node carries flannel annotations',
      fix:
        'Check that --kubeconfig/--context point at the flannel cluster. If flannel runs under an ' +
        'image or command detect does not recognise, name its DaemonSet with --flannel-daemonset ' +
        'NAMESPACE/NAME.',
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Configuration

export function netConfCheck(o: { configMapRef?: string; error?: string }): Check {
  const base = { id: 'net-conf', title: "flannel's net-conf.json is readable" };
  if (o.error) {
    return {
      ...base,
      level: 'fail',
      message: o.error,
      fix:
        "Make net-conf.json in flannel's ConfigMap valid JSON with Network and Backend (see the " +
        'flannel manifest), or pass every setting as a flag.',
    };
  }
  return { ...base, level: 'pass', message: `read ${o.configMapRef}` };
}

const BACKEND_REASONS: Record<string, string> = {
  'host-gw':
    'host-gw routes pod traffic over the underlay without any encapsulation, so nodes already ' +
    'on Calico VXLAN and nodes still on flannel could not reach each other during the ' +
    'migration',
  udp:
    "the udp backend encapsulates in flanneld's own user-space format, which Calico cannot " +
    'speak, so migrated and unmigrated nodes could not reach each other',
  wireguard:
    "the wireguard backend tunnels (and encrypts) pod traffic in WireGuard, which Calico's " +
    'VXLAN cannot join; migrating would also silently drop the encryption',
  ipsec:
    "the ipsec backend tunnels (and encrypts) pod traffic in IPsec, which Calico's VXLAN " +
    'cannot join; migrating would also silently drop the encryption',
  ipip: "the ipip backend uses IP-in-IP tunnels that Calico's VXLAN datapath cannot share with flannel",
  alloc:
    'the alloc backend only hands out subnets and leaves the pod network to something else, ' +
    'so there is no flannel datapath for Calico to take over',
  extension: 'the extension backend runs custom commands, so the datapath is unknown',
  'aws-vpc':
    "the aws-vpc backend programs VPC route tables rather than an overlay, which Calico's " +
    'VXLAN cannot share with flannel',
  gce: "the gce backend programs cloud routes rather than an overlay, which Calico's VXLAN cannot share with flannel",
  'ali-vpc':
    "the ali-vpc backend programs VPC routes rather than an overlay, which Calico's VXLAN cannot share with flannel",
  alivpc:
    "the ali-vpc backend programs VPC routes rather than an overlay, which Calico's VXLAN cannot share with flannel",
  'tencent-vpc':
    "the tencent-vpc backend programs VPC routes rather than an overlay, which Calico's VXLAN " +
    'cannot share with flannel',
};

/** The backend must be VXLAN, in net-conf.json and on every node. */
export function vxlanCheck(netConf: NetConf | undefined, nodeFindings: NodeFinding[], nodeTypes: string[]): Check {
  const base = { id: 'vxlan-backend', title: 'flannel uses the VXLAN backend' };
  const type = netConf?.backend.type ?? (nodeTypes.length ? nodeTypes[0] : undefined);
  const fix =
    'Switch flannel to the VXLAN backend first (net-conf.json "Backend": {"Type": "vxlan"}, ' +
    'then restart flannel on every node), or install Calico fresh instead of migrating live.';
  if (type === undefined)
    return {
      ...base,
      level: 'fail',
      message:
        'the backend type is unknown: net-conf.json could not be read and no node carries a backend-type annotation',
      fix: 'Fix the net-conf check first.',
    };
  if (type !== 'vxlan') {
    const defaulted = netConf?.backend.typeDefaulted
      ? " (net-conf.json sets no Backend.Type, and flannel's default is udp)"
      : '';
    const reason =
      BACKEND_REASONS[type] ??
      `the ${type} backend is not VXLAN, and only a VXLAN flannel can share its overlay with ` +
        `Calico while nodes move one by one`;
    return { ...base, level: 'fail', message: `backend is ${type}${defaulted}: ${reason}`, fix };
  }
  const offNodes = nodeFindings.filter((f) => f.code === 'backend-type');
  if (offNodes.length > 0) {
    return {
      ...base,
      level: 'fail',
      message: `net-conf.json says vxlan, but ${offNodes.map((f) => f.message).join('; ')}`,
      fix: 'Restart flannel on those nodes so they run the configured VXLAN backend, then run detect again.',
    };
  }
  return { ...base, level: 'pass', message: 'backend is vxlan' };
}

export function directRoutingCheck(netConf: NetConf | undefined): Check {
  const base = { id: 'direct-routing', title: 'VXLAN DirectRouting is off' };
  if (netConf?.backend.directRouting) {
    return {
      ...base,
      level: 'fail',
      message:
        'Backend.DirectRouting is true: flannel sends traffic between nodes on the same subnet ' +
        'unencapsulated, as host-gw does, but Calico sends it in VXLAN, so migrated and ' +
        'unmigrated neighbours would not understand each other',
      fix: 'Set "DirectRouting": false in net-conf.json, restart flannel on every node, then run detect again.',
    };
  }
  return {
    ...base,
    level: 'pass',
    message:
      netConf?.backend.directRouting === false ? 'DirectRouting is false' : 'DirectRouting is not set (off by default)',
  };
}

/** flannel must keep its subnets in the Kubernetes API (--kube-subnet-mgr), not in etcd. */
export function subnetManagerCheck(flanneld: FlanneldConfig | undefined, nodes: FlannelNodeInfo[]): Check {
  const base = { id: 'kube-subnet-manager', title: 'flannel uses the Kubernetes subnet manager' };
  const annotated = nodes.filter((n) => n.kubeSubnetManager).length;
  const fix =
    'Reinstall flannel with --kube-subnet-mgr (the upstream kube-flannel.yml does this); a ' +
    'flannel that keeps its subnets in etcd cannot be migrated by this tool.';
  if (flanneld?.kubeSubnetMgr?.value)
    return {
      ...base,
      level: 'pass',
      message: `${flanneld.kubeSubnetMgr.from}${annotated ? `; ${annotated} node(s) carry kube-subnet-manager: "true"` : ''}`,
    };
  if (flanneld?.kubeSubnetMgr?.value === false || flanneld?.etcdEndpoints) {
    const why = flanneld.etcdEndpoints
      ? `flanneld is configured with --etcd-endpoints ${flanneld.etcdEndpoints.value}`
      : `${flanneld.kubeSubnetMgr!.from} turns it off`;
    return {
      ...base,
      level: 'fail',
      message: `${why}: flannel keeps its subnets in etcd, not in the nodes' podCIDRs`,
      fix,
    };
  }
  if (nodes.length > 0 && annotated === nodes.length) {
    return {
      ...base,
      level: 'pass',
      message:
        `every node carries kube-subnet-manager: "true" (the DaemonSet's command line does not ` +
        `show --kube-subnet-mgr)`,
    };
  }
  return {
    ...base,
    level: 'fail',
    message:
      'flanneld runs without --kube-subnet-mgr and the nodes do not carry kube-subnet-manager ' +
      'annotations: flannel keeps its subnets in etcd',
    fix,
  };
}

/** The migration patches the DaemonSet and finally deletes it, so nothing may re-create it. */
export function managedDaemonSetCheck(
  labels: Record<string, string>,
  managedBy: string | undefined,
  ref: string,
): Check {
  const base = { id: 'daemonset-managed', title: 'the flannel DaemonSet may be changed and deleted' };
  const mode = labels[ADDON_MANAGER_LABEL];
  if (mode) {
    return {
      ...base,
      level: 'fail',
      message:
        `DaemonSet ${ref} carries ${ADDON_MANAGER_LABEL}=${mode}: the addon manager would undo ` +
        `the nodeSelector the migration sets and re-create flannel after it is deleted`,
      fix:
        `Take flannel out of the addon manager (remove its manifest from the addons directory, ` +
        `usually /etc/kubernetes/addons, and \`kubectl label ds -n ${ref.split('/')[0]} ${ref.split('/')[1]} ` +
        `${ADDON_MANAGER_LABEL}-\`), then run detect again.`,
    };
  }
  if (managedBy && /helm/i.test(managedBy)) {
    return {
      ...base,
      level: 'warn',
      message:
        `DaemonSet ${ref} is managed by ${managedBy}: the migration patches and finally deletes ` +
        `it, which the release will not know about; an upgrade of the release would bring flannel ` +
        `back`,
      fix:
        'After the migration, uninstall the release (helm uninstall; on RKE2 set `cni` in ' +
        '/etc/rancher/rke2/config.yaml away from canal) and do not upgrade it during the ' +
        'migration.',
    };
  }
  return {
    ...base,
    level: 'pass',
    message: managedBy
      ? `managed by ${managedBy}, which does not re-create it`
      : 'no addon manager or Helm release manages it',
  };
}

/** flannel ≥ v0.9.1, or Canal ≥ v3.7.0 (the calico/node image), read from the image tag. */
export function versionCheck(
  flavour: 'flannel' | 'canal',
  image: string | undefined,
): { check: Check; version?: string } {
  const minimum = flavour === 'canal' ? MIN_CANAL_VERSION : MIN_FLANNEL_VERSION;
  const what = flavour === 'canal' ? 'Canal (calico/node)' : 'flannel';
  const base = { id: 'version', title: `${what} is ${formatVersion(minimum)} or newer` };
  const tag = image ? imageTag(image) : undefined;
  const version = parseVersion(tag);
  if (!version) {
    return {
      check: {
        ...base,
        level: 'warn',
        message: image
          ? `cannot tell the version from image ${image}${tag ? ` (tag "${tag}")` : ' (no tag)'}`
          : `no ${what} image found`,
        fix:
          `Make sure ${what} is ${formatVersion(minimum)} or newer; run detect again after pinning ` +
          `the image to a version tag to have it checked.`,
      },
    };
  }
  const shown = formatVersion(version);
  if (compareVersions(version, minimum) < 0) {
    return {
      version: shown,
      check: {
        ...base,
        level: 'fail',
        message: `${what} ${shown} (${image}) is older than ${formatVersion(minimum)}`,
        fix: `Upgrade ${what} to ${formatVersion(minimum)} or newer first.`,
      },
    };
  }
  return { version: shown, check: { ...base, level: 'pass', message: `${what} ${shown} (${image})` } };
}

// ---------------------------------------------------------------------------------------------
// Nodes

export function nodeChecks(o: {
  nodes: FlannelNodeInfo[];
  findings: NodeFinding[];
  podCidrsOutsideNetwork: string[];
  unreadable?: string;
  namespace?: string;
}): Check[] {
  if (o.unreadable) {
    const fix = 'Run detect with a kubeconfig that may get and list nodes.';
    return [
      {
        id: 'node-podcidrs',
        title: 'every node has a podCIDR',
        level: 'fail',
        message: `cannot read the nodes: ${o.unreadable}`,
        fix,
      },
      {
        id: 'node-annotations',
        title: "every node carries flannel's annotations",
        level: 'fail',
        message: `cannot read the nodes: ${o.unreadable}`,
        fix,
      },
    ];
  }
  const out: Check[] = [];
  const of = (...codes: string[]) => o.findings.filter((f) => codes.includes(f.code));
  const noCidr = of('podcidr-missing');
  out.push(
    noCidr.length
      ? {
          id: 'node-podcidrs',
          title: 'every node has a podCIDR',
          level: 'fail',
          message: noCidr.map((f) => f.message).join('; '),
          fix:
            'Give every node a podCIDR: kube-controller-manager with --allocate-node-cidrs and ' +
            "--cluster-cidr inside flannel's Network (flannel's kube subnet manager needs them as " +
            'well).',
        }
      : {
          id: 'node-podcidrs',
          title: 'every node has a podCIDR',
          level: 'pass',
          message: o.nodes.length ? `${o.nodes.length} node(s), each with a podCIDR` : 'the cluster has no nodes',
        },
  );

  const unannotated = of('annotations-missing', 'backend-data-invalid', 'ipv6-annotations-missing');
  const pods = o.namespace ? `kubectl -n ${o.namespace} get pods -o wide` : 'kubectl get pods -A -o wide';
  out.push(
    unannotated.length
      ? {
          id: 'node-annotations',
          title: "every node carries flannel's annotations",
          level: 'fail',
          message: unannotated.map((f) => f.message).join('; '),
          fix:
            `Make sure flannel's pod runs and is Ready on these nodes (${pods}); flanneld writes the ` +
            `annotations when it starts. The migration needs each node's VtepMAC and public IP from ` +
            `them.`,
        }
      : {
          id: 'node-annotations',
          title: "every node carries flannel's annotations",
          level: 'pass',
          message: 'backend-type, backend-data (VtepMAC) and public-ip present on every node',
        },
  );

  out.push(
    o.podCidrsOutsideNetwork.length
      ? {
          id: 'podcidrs-in-network',
          title: "node podCIDRs lie inside flannel's network",
          level: 'fail',
          message: o.podCidrsOutsideNetwork.join('; '),
          fix:
            "Make flannel's Network contain every podCIDR (fix net-conf.json or pass " +
            "--flannel-network); kube-controller-manager's --cluster-cidr must lie inside it. " +
            "Calico's IP pool is built from the Network.",
        }
      : {
          id: 'podcidrs-in-network',
          title: "node podCIDRs lie inside flannel's network",
          level: 'pass',
          message: 'every podCIDR lies inside the network',
        },
  );

  const stale = of('public-ip-stale', 'ipv6-annotations-stale');
  out.push(
    stale.length
      ? {
          id: 'annotations-consistent',
          title: "flannel's annotations match the nodes",
          level: 'warn',
          message: stale.map((f) => f.message).join('; '),
          fix:
            'If an annotation is stale, delete the flannel pod on that node so flanneld rewrites it; ' +
            'if flannel deliberately uses another interface (--iface, public-ip-overwrite), this is ' +
            'expected and the migration keeps using that address.',
        }
      : {
          id: 'annotations-consistent',
          title: "flannel's annotations match the nodes",
          level: 'pass',
          message: "every public-ip is one of its node's addresses",
        },
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// MTU, conflicts

export function mtuCheck(settings: MigrationSettings, assumed: boolean): Check {
  const base = { id: 'mtu', title: 'the VXLAN MTU is known' };
  const mtu = settings.flannelMtu;
  if (assumed) {
    return {
      ...base,
      level: 'warn',
      message: `MTU ${mtu.value} is assumed, not read: ${(mtu.from ?? '').replace(/^assumed: /, '')}`.trim(),
      fix:
        `Check flannel's MTU on a node (\`ip link show flannel.${settings.flannelVni.value}\` or ` +
        `/run/flannel/subnet.env) and pass it with --flannel-mtu or FLANNEL_MTU; a wrong MTU ` +
        `drops large packets between migrated and unmigrated nodes.`,
    };
  }
  return { ...base, level: 'pass', message: `MTU ${mtu.value} (${mtu.source}${mtu.from ? `: ${mtu.from}` : ''})` };
}

export function conflictsCheck(conflicts: string[]): Check {
  const base = { id: 'conflicts', title: 'the sources agree' };
  if (conflicts.length === 0)
    return { ...base, level: 'pass', message: 'net-conf.json, subnet.env, the DaemonSet and the nodes agree' };
  return {
    ...base,
    level: 'warn',
    message: `${conflicts.length} disagreement(s) between sources: ${conflicts.join('; ')}`,
    fix:
      'Decide which value is right and pass it explicitly (each setting has a flag and an ' +
      'environment variable, e.g. --flannel-vni / FLANNEL_VNI).',
  };
}

// ---------------------------------------------------------------------------------------------
// RBAC

export interface AccessRequirement {
  verb: string;
  resource: string;
  /** API group; '' for the core group. */
  group: string;
  /** Undefined: cluster-scoped, or every namespace. */
  namespace?: string;
  subresource?: string;
}

export interface AccessResult extends AccessRequirement {
  allowed: boolean;
}

const CALICO_RESOURCES = [
  'ippools',
  'ipamblocks',
  'blockaffinities',
  'ipamhandles',
  'felixconfigurations',
  'clusterinformations',
];

/** Every verb the migration (detect, plan, migrate, revert) uses, on every resource and namespace. */
export function rbacRequirements(o: { flannelNamespace: string; calicoCrdsPresent: boolean }): AccessRequirement[] {
  const out: AccessRequirement[] = [];
  const add = (resource: string, group: string, verbs: string[], namespace?: string, subresource?: string) => {
    for (const verb of verbs) {
      if (
        !out.some(
          (r) =>
            r.verb === verb &&
            r.resource === resource &&
            r.group === group &&
            r.namespace === namespace &&
            r.subresource === subresource,
        )
      ) {
        out.push({
          verb,
          resource,
          group,
          ...(namespace ? { namespace } : {}),
          ...(subresource ? { subresource } : {}),
        });
      }
    }
  };
  add('nodes', '', ['get', 'list', 'patch']);
  for (const ns of [o.flannelNamespace, STATE_NAMESPACE]) {
    add('daemonsets', 'apps', ['get', 'list', 'patch', 'delete'], ns);
    add('configmaps', '', ['get'], ns);
  }
  add('pods', '', ['get', 'list', 'delete']);
  add('pods', '', ['create'], undefined, 'eviction');
  add('jobs', 'batch', ['get', 'create', 'delete', 'deletecollection'], STATE_NAMESPACE);
  add('pods', '', ['deletecollection'], STATE_NAMESPACE);
  for (const resource of CALICO_RESOURCES)
    add(resource, CALICO_API_GROUP, ['get', 'list', 'create', 'patch', 'delete']);
  add('leases', 'coordination.k8s.io', ['get', 'create', 'update'], STATE_NAMESPACE);
  add('configmaps', '', ['create', 'patch'], STATE_NAMESPACE);
  add('events', '', ['create'], EVENT_NAMESPACE);
  add('poddisruptionbudgets', 'policy', ['list']);
  if (!o.calicoCrdsPresent) add('customresourcedefinitions', 'apiextensions.k8s.io', ['create']);
  return out;
}

function describeResource(r: AccessRequirement): string {
  const resource = `${r.resource}${r.subresource ? `/${r.subresource}` : ''}${r.group ? `.${r.group}` : ''}`;
  return `${resource} ${r.namespace ? `in namespace ${r.namespace}` : 'cluster-wide'}`;
}

/** Missing permissions grouped per resource: "patch, delete daemonsets.apps in namespace kube-flannel". */
export function missingPermissions(results: AccessResult[]): string[] {
  const groups = new Map<string, string[]>();
  for (const r of results) {
    if (r.allowed) continue;
    const key = describeResource(r);
    groups.set(key, [...(groups.get(key) ?? []), r.verb]);
  }
  return [...groups.entries()].map(([resource, verbs]) => `${verbs.join(', ')} ${resource}`);
}

export function rbacCheck(results: AccessResult[] | { error: string }): Check {
  const base = { id: 'rbac', title: 'your permissions cover the migration' };
  if ('error' in results) {
    return {
      ...base,
      level: 'warn',
      message: `could not check permissions: ${results.error}`,
      fix:
        'Make sure you may create selfsubjectaccessreviews (every authenticated user normally ' +
        'may), then run detect again.',
    };
  }
  const missing = missingPermissions(results);
  if (missing.length === 0) return { ...base, level: 'pass', message: `all ${results.length} permissions granted` };
  return {
    ...base,
    level: 'fail',
    message: `missing ${results.filter((r) => !r.allowed).length} of ${results.length} permissions: ${missing.join('; ')}`,
    fix:
      'Bind a ClusterRole with these verbs to your user (docs/detect.md lists them as a ' +
      'ready-made ClusterRole), or run with a cluster-admin kubeconfig.',
  };
}
