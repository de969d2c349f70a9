import type { V1DaemonSet } from '../cluster/index.js';
import type { DaemonSetCandidate } from './types.js';

type PodSpec = NonNullable<NonNullable<V1DaemonSet['spec']>['template']['spec']>;
export type Container = PodSpec['containers'][number];

export const ADDON_MANAGER_LABEL = 'addonmanager.kubernetes.io/mode';
const FLANNEL_LABELS: Array<[string, string]> = [
  ['app', 'flannel'],
  ['k8s-app', 'flannel'],
  ['app.kubernetes.io/name', 'flannel'],
];
const CANAL_LABELS: Array<[string, string]> = [
  ['k8s-app', 'canal'],
  ['app', 'canal'],
  ['app.kubernetes.io/name', 'canal'],
  ['app.kubernetes.io/name', 'rke2-canal'],
];

export function dsRef(ds: V1DaemonSet): string {
  return `${ds.metadata?.namespace ?? ''}/${ds.metadata?.name ?? ''}`;
}

function allContainers(ds: V1DaemonSet): Container[] {
  const spec = ds.spec?.template?.spec;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

/** Last path segment of an image reference without tag or digest: "ghcr.io/flannel-io/flannel:v0.28.9" -> "flannel". */
function imageRepository(image: string): string {
  const withoutDigest = image.split('@')[0];
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  const repo = colon > lastSlash ? withoutDigest.slice(0, colon) : withoutDigest;
  return repo;
}

/** The tag of an image reference, or undefined for "repo" and "repo@sha256:…". */
export function imageTag(image: string): string | undefined {
  const withoutDigest = image.split('@')[0];
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > lastSlash ? withoutDigest.slice(colon + 1) : undefined;
}

function runsFlanneld(c: Container): boolean {
  return [...(c.command ?? []), ...(c.args ?? [])].some((t) => /(^|[/\s])flanneld(\s|$)/.test(t));
}

function isFlannelImage(image: string | undefined): boolean {
  if (!image) return false;
  const last = imageRepository(image).split('/').pop() ?? '';
  return /flannel/.test(last) && !/cni-plugin|migration/.test(last) && !/flannelcni-plugin/.test(last);
}

function isCalicoNodeImage(image: string | undefined): boolean {
  if (!image) return false;
  const repo = imageRepository(image);
  const last = repo.split('/').pop() ?? '';
  return (repo.includes('calico') && last === 'node') || last === 'hardened-calico' || last === 'calico-node';
}

/** The container that runs flanneld: by command, then by image. Init containers are not it. */
export function flannelContainer(ds: V1DaemonSet): Container | undefined {
  const containers = ds.spec?.template?.spec?.containers ?? [];
  return containers.find(runsFlanneld) ?? containers.find((c) => isFlannelImage(c.image));
}

export function calicoNodeContainer(ds: V1DaemonSet): Container | undefined {
  const containers = ds.spec?.template?.spec?.containers ?? [];
  return (
    containers.find((c) => c.name === 'calico-node' && isCalicoNodeImage(c.image)) ??
    containers.find((c) => isCalicoNodeImage(c.image))
  );
}

/** Who manages the DaemonSet, when the labels, annotations or owner say so. */
export function managedBy(ds: V1DaemonSet): string | undefined {
  const labels = ds.metadata?.labels ?? {};
  const annotations = ds.metadata?.annotations ?? {};
  if (labels[ADDON_MANAGER_LABEL]) return `addon-manager (${labels[ADDON_MANAGER_LABEL]})`;
  const release = annotations['meta.helm.sh/release-name'];
  if (release)
    return `Helm release ${annotations['meta.helm.sh/release-namespace'] ?? ds.metadata?.namespace}/${release}`;
  if (labels['app.kubernetes.io/managed-by']) return labels['app.kubernetes.io/managed-by'];
  const owner = ds.metadata?.ownerReferences?.[0];
  if (owner) return `${owner.kind} ${owner.name}`;
  return undefined;
}

/**
 * Decides whether a DaemonSet is a flannel or Canal installation, by content (a container running
 * flanneld or a flannel image), then labels, owner and name for the flavour and the evidence.
 */
export function identifyDaemonSet(ds: V1DaemonSet): DaemonSetCandidate | undefined {
  const flannel = flannelContainer(ds);
  if (!flannel) return undefined;
  const labels = ds.metadata?.labels ?? {};
  const name = ds.metadata?.name ?? '';
  const evidence: string[] = [];
  evidence.push(
    runsFlanneld(flannel)
      ? `container ${flannel.name} runs flanneld`
      : `container ${flannel.name} runs image ${flannel.image}`,
  );
  const calico = calicoNodeContainer(ds);
  const canalLabel = CANAL_LABELS.find(([k, v]) => labels[k] === v);
  const flannelLabel = FLANNEL_LABELS.find(([k, v]) => labels[k] === v);
  if (calico) evidence.push(`container ${calico.name} runs calico/node (${calico.image})`);
  if (canalLabel) evidence.push(`label ${canalLabel[0]}=${canalLabel[1]}`);
  if (flannelLabel) evidence.push(`label ${flannelLabel[0]}=${flannelLabel[1]}`);
  const owner = managedBy(ds);
  if (owner) evidence.push(`managed by ${owner}`);
  const canal = Boolean(calico) || Boolean(canalLabel) || /(^|-)canal$/.test(name);
  return { namespace: ds.metadata?.namespace ?? '', name, flavour: canal ? 'canal' : 'flannel', evidence };
}

/** Every DaemonSet that is flannel or Canal, ordered by namespace and name. */
export function findCandidates(daemonSets: V1DaemonSet[]): DaemonSetCandidate[] {
  return daemonSets
    .map(identifyDaemonSet)
    .filter((c): c is DaemonSetCandidate => c !== undefined)
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

export interface DaemonSetRequest {
  name: string;
  namespace?: string;
  /** Where the request came from, for messages: "--flannel-daemonset", "FLANNEL_DAEMONSET_NAME". */
  origin: string;
}

export type Selection =
  | { kind: 'found'; daemonSet: V1DaemonSet; candidate: DaemonSetCandidate }
  | { kind: 'none' }
  | { kind: 'ambiguous'; candidates: DaemonSetCandidate[] }
  | { kind: 'not-found'; message: string }
  | { kind: 'not-flannel'; daemonSet: V1DaemonSet; message: string };

/** Picks the installation: the one the operator named, else the only candidate. */
export function selectDaemonSet(daemonSets: V1DaemonSet[], request?: DaemonSetRequest): Selection {
  const candidates = findCandidates(daemonSets);
  if (request) {
    const matches = daemonSets.filter(
      (d) => d.metadata?.name === request.name && (!request.namespace || d.metadata?.namespace === request.namespace),
    );
    const wanted = request.namespace ? `${request.namespace}/${request.name}` : request.name;
    if (matches.length === 0) {
      const known = candidates.length
        ? ` Flannel DaemonSets found: ${candidates.map((c) => `${c.namespace}/${c.name}`).join(', ')}.`
        : '';
      return { kind: 'not-found', message: `DaemonSet ${wanted} (from ${request.origin}) does not exist.${known}` };
    }
    if (matches.length > 1) {
      return {
        kind: 'ambiguous',
        candidates: matches.map(
          (d) =>
            identifyDaemonSet(d) ?? {
              namespace: d.metadata?.namespace ?? '',
              name: request.name,
              flavour: 'flannel',
              evidence: ['name matches'],
            },
        ),
      };
    }
    const candidate = identifyDaemonSet(matches[0]);
    if (!candidate)
      return {
        kind: 'not-flannel',
        daemonSet: matches[0],
        message: `DaemonSet ${dsRef(matches[0])} (from ${request.origin}) runs no flanneld container`,
      };
    return { kind: 'found', daemonSet: matches[0], candidate };
  }
  if (candidates.length === 0) return { kind: 'none' };
  const daemonSetOf = (c: DaemonSetCandidate) =>
    daemonSets.find((d) => d.metadata?.namespace === c.namespace && d.metadata?.name === c.name)!;
  if (candidates.length === 1)
    return { kind: 'found', daemonSet: daemonSetOf(candidates[0]), candidate: candidates[0] };
  // Old multi-arch manifests ship one DaemonSet per architecture; only those with nodes to run on matter.
  const idle = candidates.filter((c) => daemonSetOf(c).status?.desiredNumberScheduled === 0);
  const active = candidates.filter((c) => !idle.includes(c));
  if (active.length === 1) {
    const candidate = {
      ...active[0],
      evidence: [
        ...active[0].evidence,
        `the only flannel DaemonSet with nodes to run on (${idle.map((c) => `${c.namespace}/${c.name}`).join(', ')} ` +
          `schedule no pods)`,
      ],
    };
    return { kind: 'found', daemonSet: daemonSetOf(active[0]), candidate };
  }
  return { kind: 'ambiguous', candidates };
}

export interface Derived<T> {
  value: T;
  /** Human-readable origin, e.g. "DaemonSet kube-flannel/kube-flannel-ds container kube-flannel arg --ip-masq". */
  from: string;
}

export interface FlanneldConfig {
  container: string;
  ipMasq: Derived<boolean> & { explicit: boolean };
  annotationPrefix?: Derived<string>;
  kubeSubnetMgr?: Derived<boolean>;
  etcdEndpoints?: Derived<string>;
  ifaces: string[];
  netConfigPath: string;
}

/** Resolves `valueFrom.configMapKeyRef` in the flannel container's environment. */
export type ConfigMapLookup = (namespace: string, name: string, key: string) => string | undefined;

const GO_TRUE = new Set(['1', 't', 'true', 'TRUE', 'True', 'T']);
const GO_FALSE = new Set(['0', 'f', 'false', 'FALSE', 'False', 'F']);

/** The flanneld command line as tokens after "flanneld" (a shell `-c` string is split on spaces). */
export function flanneldArgs(c: Container): string[] {
  const tokens: string[] = [];
  for (const t of [...(c.command ?? []), ...(c.args ?? [])]) {
    if (/\s/.test(t.trim()) && /flanneld/.test(t)) tokens.push(...t.trim().split(/\s+/));
    else tokens.push(t);
  }
  const start = tokens.findIndex((t) => /(^|\/)flanneld$/.test(t));
  return start >= 0 ? tokens.slice(start + 1) : tokens;
}

interface ParsedFlag {
  value: string | undefined;
  spelled: string;
}

/** Go `flag` semantics: -name, --name, --name=value, --name value (the last for non-bool flags). */
function findFlags(args: string[], name: string, isBool: boolean): ParsedFlag[] {
  const out: ParsedFlag[] = [];
  for (let i = 0; i < args.length; i++) {
    const m = /^--?([A-Za-z0-9-]+)(?:=(.*))?$/.exec(args[i]);
    if (!m || m[1] !== name) continue;
    if (m[2] !== undefined) out.push({ value: m[2], spelled: args[i] });
    else if (isBool) out.push({ value: 'true', spelled: args[i] });
    else if (i + 1 < args.length) out.push({ value: args[++i], spelled: `${args[i - 1]} ${args[i]}` });
  }
  return out;
}

/**
 * flanneld's effective --ip-masq, --kube-annotation-prefix, --kube-subnet-mgr, --iface from the
 * DaemonSet: command-line flags, then FLANNELD_* environment variables (flannel reads those for any
 * flag not given on the command line), then flanneld's own defaults.
 */
export function flanneldConfig(ds: V1DaemonSet, container: Container, lookup: ConfigMapLookup): FlanneldConfig {
  const args = flanneldArgs(container);
  const namespace = ds.metadata?.namespace ?? '';
  const where = `DaemonSet ${dsRef(ds)} container ${container.name}`;

  const envValue = (name: string): Derived<string> | undefined => {
    for (const e of container.env ?? []) {
      if (e.name !== name) continue;
      if (e.value !== undefined) return { value: e.value, from: `${where} env ${name}` };
      const ref = e.valueFrom?.configMapKeyRef;
      if (ref?.name && ref.key) {
        const v = lookup(namespace, ref.name, ref.key);
        if (v !== undefined)
          return { value: v, from: `${where} env ${name} (ConfigMap ${namespace}/${ref.name} key ${ref.key})` };
      }
    }
    for (const source of container.envFrom ?? []) {
      const cm = source.configMapRef?.name;
      if (!cm) continue;
      const key = name.startsWith(source.prefix ?? '') ? name.slice((source.prefix ?? '').length) : undefined;
      const v = key ? lookup(namespace, cm, key) : undefined;
      if (v !== undefined) return { value: v, from: `${where} envFrom ConfigMap ${namespace}/${cm} key ${key}` };
    }
    return undefined;
  };
  const envName = (flag: string) => `FLANNELD_${flag.toUpperCase().replace(/-/g, '_')}`;

  const boolFlag = (flag: string): Derived<boolean> | undefined => {
    const found = findFlags(args, flag, true).pop();
    if (found) {
      const v = found.value ?? 'true';
      if (GO_TRUE.has(v) || GO_FALSE.has(v)) return { value: GO_TRUE.has(v), from: `${where} arg ${found.spelled}` };
    }
    const env = envValue(envName(flag));
    if (env && (GO_TRUE.has(env.value.trim()) || GO_FALSE.has(env.value.trim())))
      return { value: GO_TRUE.has(env.value.trim()), from: env.from };
    return undefined;
  };
  const stringFlag = (flag: string): Derived<string> | undefined => {
    const found = findFlags(args, flag, false).pop();
    if (found?.value !== undefined) return { value: found.value, from: `${where} arg ${found.spelled}` };
    const env = envValue(envName(flag));
    return env && env.value.trim() ? { value: env.value.trim(), from: env.from } : undefined;
  };

  const ipMasq = boolFlag('ip-masq');
  const ifaces = findFlags(args, 'iface', false)
    .map((f) => f.value)
    .filter((v): v is string => Boolean(v));
  if (ifaces.length === 0) {
    const env = envValue(envName('iface'));
    if (env?.value.trim())
      ifaces.push(
        ...env.value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      );
  }
  const out: FlanneldConfig = {
    container: container.name,
    ipMasq: ipMasq
      ? { ...ipMasq, explicit: true }
      : { value: false, from: `${where} (no --ip-masq: flanneld's default is false)`, explicit: false },
    ifaces,
    netConfigPath: stringFlag('net-config-path')?.value ?? '/etc/kube-flannel/net-conf.json',
  };
  const prefix = stringFlag('kube-annotation-prefix');
  if (prefix) out.annotationPrefix = prefix;
  const ksm = boolFlag('kube-subnet-mgr');
  if (ksm) out.kubeSubnetMgr = ksm;
  const etcd = stringFlag('etcd-endpoints');
  if (etcd) out.etcdEndpoints = etcd;
  return out;
}

function normalisePath(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/** The host directory mounted at /etc/cni/net.d (or Canal's /host/etc/cni/net.d) in any container. */
export function cniConfigDirOf(ds: V1DaemonSet): Derived<string> | undefined {
  const volumes = ds.spec?.template?.spec?.volumes ?? [];
  for (const c of allContainers(ds)) {
    for (const m of c.volumeMounts ?? []) {
      const mountPath = normalisePath(m.mountPath);
      if (mountPath !== '/etc/cni/net.d' && mountPath !== '/host/etc/cni/net.d') continue;
      const volume = volumes.find((v) => v.name === m.name);
      if (volume?.hostPath?.path) {
        return {
          value: normalisePath(volume.hostPath.path),
          from: `DaemonSet ${dsRef(ds)} volume ${volume.name} (hostPath, mounted at ${m.mountPath} in ${c.name})`,
        };
      }
    }
  }
  return undefined;
}

/**
 * ConfigMaps that may hold net-conf.json, best first: the volume mounted where flanneld reads its
 * --net-config-path, then every other ConfigMap volume of the pod.
 */
export function netConfSources(
  ds: V1DaemonSet,
  container: Container,
  netConfigPath: string,
): Array<{ configMap: string; key: string }> {
  const volumes = ds.spec?.template?.spec?.volumes ?? [];
  const dir = normalisePath(netConfigPath.slice(0, netConfigPath.lastIndexOf('/')) || '/');
  const file = netConfigPath.slice(netConfigPath.lastIndexOf('/') + 1);
  const out: Array<{ configMap: string; key: string }> = [];
  const push = (configMap: string, key: string) => {
    if (!out.some((o) => o.configMap === configMap && o.key === key)) out.push({ configMap, key });
  };
  for (const m of container.volumeMounts ?? []) {
    const volume = volumes.find((v) => v.name === m.name);
    const cm = volume?.configMap;
    if (!cm?.name) continue;
    const mountPath = normalisePath(m.mountPath);
    if (m.subPath && mountPath === normalisePath(netConfigPath)) push(cm.name, m.subPath);
    else if (mountPath === dir) push(cm.name, cm.items?.find((i) => i.path === file)?.key ?? file);
  }
  for (const v of volumes) if (v.configMap?.name) push(v.configMap.name, 'net-conf.json');
  return out;
}

export interface ParsedVersion {
  major: number;
  minor: number;
  patch: number;
}

/** "v0.28.9", "v0.11.0-amd64", "v3.28.1-build20240610" -> numbers; undefined for "latest" and the like. */
export function parseVersion(tag: string | undefined): ParsedVersion | undefined {
  if (!tag) return undefined;
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+_.].*)?$/.exec(tag.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) };
}

export function compareVersions(a: ParsedVersion, b: ParsedVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

export function formatVersion(v: ParsedVersion): string {
  return `v${v.major}.${v.minor}.${v.patch}`;
}
