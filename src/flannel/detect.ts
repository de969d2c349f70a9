/**
 * `detect`: finds the flannel or Canal installation, reads its settings from every place they live,
 * and checks the prerequisites of a live migration. Reads only; nothing in the cluster is changed.
 * The parsing and judging are pure functions in the sibling modules; this file does the API calls.
 */
import { FLANNEL_NAMESPACES } from '../names.js';
import {
  isClusterError,
  type ClusterClient,
  type V1DaemonSet,
  type V1Node,
  type V1Pod,
  type V1ConfigMap,
} from '../cluster/index.js';
import { labelSelector } from '../k8s.js';
import {
  annotationPrefixesOnNodes,
  distributionMarkers,
  hasFlannelAnnotations,
  readNodeInfo,
  type NodeFinding,
} from './annotations.js';
import {
  conflictsCheck,
  directRoutingCheck,
  installationCheck,
  managedDaemonSetCheck,
  mtuCheck,
  netConfCheck,
  nodeChecks,
  rbacCheck,
  rbacRequirements,
  subnetManagerCheck,
  versionCheck,
  vxlanCheck,
  type AccessResult,
  type InstallationOutcome,
} from './checks.js';
import {
  calicoNodeContainer,
  cniConfigDirOf,
  dsRef,
  findCandidates,
  flannelContainer,
  flanneldConfig,
  managedBy,
  netConfSources,
  selectDaemonSet,
  type DaemonSetRequest,
  type FlanneldConfig,
} from './discovery.js';
import { cniConfMtu, NetConfError, parseNetConf, type NetConf } from './netconf.js';
import { resolveAnnotationPrefix, resolveSettings, type DetectedSources } from './resolve.js';
import { calicoDaemonSetName, type SettingOverrides } from './settings.js';
import { parseSubnetEnv, SUBNET_ENV_PATH, type SubnetEnv } from './subnet-env.js';
import type {
  Check,
  DaemonSetCandidate,
  Detection,
  DetectedDaemonSet,
  FlannelNodeInfo,
  SubnetEnvRead,
} from './types.js';

export type {
  Check,
  DaemonSetCandidate,
  Detection,
  DetectedDaemonSet,
  FlannelNodeInfo,
  Flavour,
  SubnetEnvRead,
} from './types.js';

const CALICO_CRD = 'ippools.crd.projectcalico.org';

export interface DetectOptions {
  /** How long to wait for `cat /run/flannel/subnet.env` in a flannel pod. */
  execTimeoutMs?: number;
}

function reason(err: unknown): string {
  return isClusterError(err)
    ? `${err.kind === 'forbidden' ? 'forbidden' : err.kind}: ${err.message}`
    : ((err as Error)?.message ?? String(err));
}

/** Forbidden reads become findings in the report; anything else (unreachable, 500) stops detection. */
async function readSoft<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: string }> {
  try {
    return { value: await fn() };
  } catch (err) {
    if (isClusterError(err, 'forbidden') || isClusterError(err, 'unauthorized')) return { error: reason(err) };
    throw err;
  }
}

/** The DaemonSet the operator named (parseOverrides has split "namespace/name"), if any. */
function daemonSetRequest(overrides: SettingOverrides): DaemonSetRequest | undefined {
  const name = overrides.flannelDaemonSetName;
  if (!name) return undefined;
  const namespace = overrides.flannelDaemonSetNamespace?.value;
  return {
    name: name.value,
    origin: name.source === 'env' ? 'FLANNEL_DAEMONSET_NAME' : '--flannel-daemonset',
    ...(namespace ? { namespace } : {}),
  };
}

async function listDaemonSets(
  client: ClusterClient,
  extraNamespace?: string,
): Promise<{ items: V1DaemonSet[]; error?: string }> {
  const all = await readSoft(() => client.list<V1DaemonSet & { metadata: any }>('apps/v1', 'DaemonSet'));
  if (all.value) return { items: all.value };
  const items: V1DaemonSet[] = [];
  const errors: string[] = [];
  for (const namespace of [
    ...new Set([extraNamespace, ...FLANNEL_NAMESPACES].filter((n): n is string => Boolean(n))),
  ]) {
    const one = await readSoft(() =>
      client.list<V1DaemonSet & { metadata: any }>('apps/v1', 'DaemonSet', { namespace }),
    );
    if (one.value) items.push(...one.value);
    else errors.push(`namespace ${namespace}`);
  }
  return errors.length ===
    FLANNEL_NAMESPACES.length + (extraNamespace && !FLANNEL_NAMESPACES.includes(extraNamespace) ? 1 : 0)
    ? { items, error: `cannot list DaemonSets (${all.error})` }
    : { items };
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function checkAccess(
  client: ClusterClient,
  flannelNamespace: string,
): Promise<AccessResult[] | { error: string }> {
  const crd = await readSoft(() =>
    client.find({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', name: CALICO_CRD }),
  );
  const requirements = rbacRequirements({ flannelNamespace, calicoCrdsPresent: Boolean(crd.value) });
  try {
    return await mapLimit(requirements, 8, async (r) => ({
      ...r,
      allowed: await client.canI(r.verb, r.resource, {
        group: r.group,
        namespace: r.namespace,
        subresource: r.subresource,
      }),
    }));
  } catch (err) {
    return { error: reason(err) };
  }
}

/** `cat /run/flannel/subnet.env` in one running pod of the DaemonSet; fails soft (kwok, no exec rights, …). */
async function readSubnetEnv(
  client: ClusterClient,
  ds: V1DaemonSet,
  container: string,
  timeoutMs: number,
): Promise<{ env?: SubnetEnv; read: SubnetEnvRead }> {
  const namespace = ds.metadata?.namespace ?? '';
  const selector = labelSelector(ds.spec?.selector?.matchLabels);
  const pods = await readSoft(() =>
    client.list<V1Pod & { metadata: any }>('v1', 'Pod', { namespace, labelSelector: selector || undefined }),
  );
  if (!pods.value) return { read: { read: false, reason: `cannot list flannel's pods (${pods.error})` } };
  const running = pods.value
    .filter(
      (p) =>
        (p.metadata?.ownerReferences ?? []).some((o: { uid?: string }) => o.uid === ds.metadata?.uid) &&
        p.status?.phase === 'Running' &&
        !p.metadata?.deletionTimestamp,
    )
    .sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)));
  if (running.length === 0) return { read: { read: false, reason: `no running pod of DaemonSet ${dsRef(ds)}` } };
  const pod = running[0].metadata!.name!;
  const where = `${namespace}/${pod}`;
  let text: string | undefined;
  try {
    text = await client.readFileInPod(namespace, pod, container, SUBNET_ENV_PATH, timeoutMs);
  } catch {
    text = undefined;
  }
  if (text === undefined || !text.trim()) {
    return {
      read: {
        pod: where,
        read: false,
        reason: `could not read ${SUBNET_ENV_PATH} in pod ${where} (exec not possible or the file is missing)`,
      },
    };
  }
  return { env: parseSubnetEnv(text), read: { pod: where, read: true } };
}

interface FlannelConfigRead {
  flanneld: FlanneldConfig;
  netConf?: NetConf;
  netConfError?: string;
  configMap?: { name: string; namespace: string };
  configMapRef?: string;
  cniMtu?: { value: number; from: string };
}

async function readFlannelConfig(client: ClusterClient, ds: V1DaemonSet): Promise<FlannelConfigRead> {
  const namespace = ds.metadata?.namespace ?? '';
  const container = flannelContainer(ds)!;
  const configMaps = new Map<string, { data?: Record<string, string>; error?: string; missing?: boolean }>();
  const load = async (name: string) => {
    if (configMaps.has(name)) return;
    const got = await readSoft(() =>
      client.find<V1ConfigMap & { metadata: any }>({ apiVersion: 'v1', kind: 'ConfigMap', name, namespace }),
    );
    configMaps.set(
      name,
      got.error ? { error: got.error } : got.value ? { data: got.value.data ?? {} } : { missing: true },
    );
  };
  const referenced = [
    ...(container.env ?? []).map((e) => e.valueFrom?.configMapKeyRef?.name),
    ...(container.envFrom ?? []).map((e) => e.configMapRef?.name),
  ].filter((n): n is string => Boolean(n));
  for (const name of referenced) await load(name);
  const lookup = (_ns: string, name: string, key: string) => configMaps.get(name)?.data?.[key];
  const flanneld = flanneldConfig(ds, container, lookup);

  const sources = netConfSources(ds, container, flanneld.netConfigPath);
  for (const s of sources) await load(s.configMap);
  const out: FlannelConfigRead = { flanneld };
  const problems: string[] = [];
  for (const s of sources) {
    const cm = configMaps.get(s.configMap)!;
    const ref = `ConfigMap ${namespace}/${s.configMap} key ${s.key}`;
    if (cm.error) {
      problems.push(`cannot read ConfigMap ${namespace}/${s.configMap} (${cm.error})`);
      continue;
    }
    if (cm.missing) {
      problems.push(`ConfigMap ${namespace}/${s.configMap}, mounted by the DaemonSet, does not exist`);
      continue;
    }
    const text = cm.data?.[s.key];
    if (text === undefined) continue;
    out.configMap = { name: s.configMap, namespace };
    out.configMapRef = ref;
    const mtu = cniConfMtu(cm.data ?? {});
    if (mtu) out.cniMtu = { value: mtu.value, from: `ConfigMap ${namespace}/${s.configMap} key ${mtu.key}` };
    try {
      out.netConf = parseNetConf(text);
    } catch (err) {
      out.netConfError = `${ref}: ${err instanceof NetConfError ? err.message : (err as Error).message}`;
    }
    return out;
  }
  out.netConfError = problems.length
    ? problems.join('; ')
    : `no ConfigMap of DaemonSet ${dsRef(ds)} holds net-conf.json (looked for ${flanneld.netConfigPath} ` +
      `in ${sources.map((s) => s.configMap).join(', ') || 'no ConfigMap volumes'})`;
  return out;
}

/**
 * Finds flannel or Canal, resolves every setting (flag > env > detected > default), and
 * runs the prerequisite checks. Throws ClusterError
 * when the API server cannot be reached. Permission problems become failed checks instead.
 */
export async function detect(
  client: ClusterClient,
  overrides: SettingOverrides,
  opts: DetectOptions = {},
): Promise<Detection> {
  const request = daemonSetRequest(overrides);
  const [daemonSets, nodesRead] = await Promise.all([
    listDaemonSets(client, request?.namespace),
    readSoft(() => client.list<V1Node & { metadata: any }>('v1', 'Node')),
  ]);
  const nodes: V1Node[] = (nodesRead.value ?? []).sort((a, b) =>
    String(a.metadata?.name).localeCompare(String(b.metadata?.name)),
  );

  // --flannel-namespace alone narrows the search to that namespace.
  const onlyNamespace = request ? undefined : overrides.flannelDaemonSetNamespace?.value;
  const searched = onlyNamespace
    ? daemonSets.items.filter((d) => d.metadata?.namespace === onlyNamespace)
    : daemonSets.items;
  let selection = daemonSets.error && !request ? { kind: 'none' as const } : selectDaemonSet(searched, request);
  const elsewhere = onlyNamespace && selection.kind === 'none' ? findCandidates(daemonSets.items) : [];
  if (elsewhere.length > 0) {
    selection = {
      kind: 'not-found',
      message:
        `no flannel DaemonSet in namespace ${onlyNamespace} (from ` +
        `${overrides.flannelDaemonSetNamespace?.source === 'env' ? 'FLANNEL_DAEMONSET_NAMESPACE' : '--flannel-namespace'}); ` +
        `flannel DaemonSets elsewhere: ${elsewhere.map((c) => `${c.namespace}/${c.name}`).join(', ')}`,
    };
  }
  let outcome: InstallationOutcome;
  let ds: V1DaemonSet | undefined;
  let candidates: DaemonSetCandidate[] = [];
  switch (selection.kind) {
    case 'found':
      ds = selection.daemonSet;
      candidates = [selection.candidate];
      outcome = { kind: 'found', candidate: selection.candidate };
      break;
    case 'ambiguous':
      candidates = selection.candidates;
      outcome = { kind: 'ambiguous', candidates: selection.candidates };
      break;
    case 'not-found':
      outcome = daemonSets.error
        ? { kind: 'absent', annotatedNodes: [], markers: distributionMarkers(nodes), unreadable: daemonSets.error }
        : { kind: 'not-found', message: selection.message };
      break;
    case 'not-flannel':
      outcome = { kind: 'not-flannel', message: selection.message };
      break;
    case 'none': {
      const prefixes = [
        ...new Set([
          overrides.flannelAnnotationPrefix?.value ?? 'flannel.alpha.coreos.com',
          ...annotationPrefixesOnNodes(nodes),
        ]),
      ];
      const annotated = nodes
        .filter((n) => prefixes.some((p) => hasFlannelAnnotations(n, p)))
        .map((n) => n.metadata?.name ?? '');
      outcome = {
        kind: 'absent',
        annotatedNodes: annotated,
        markers: distributionMarkers(nodes),
        ...(daemonSets.error ? { unreadable: daemonSets.error } : {}),
      };
      break;
    }
  }
  const installation = installationCheck(outcome);

  // What the DaemonSet and its ConfigMaps say
  let config: FlannelConfigRead | undefined;
  let subnetEnv: { env?: SubnetEnv; read: SubnetEnvRead } = { read: { read: false, reason: 'no flannel DaemonSet' } };
  let daemonSet: DetectedDaemonSet | undefined;
  const container = ds ? flannelContainer(ds) : undefined;
  if (ds && container) {
    config = await readFlannelConfig(client, ds);
    subnetEnv = await readSubnetEnv(client, ds, container.name, opts.execTimeoutMs ?? 4000);
    const calico = calicoNodeContainer(ds);
    daemonSet = {
      name: ds.metadata?.name ?? '',
      namespace: ds.metadata?.namespace ?? '',
      container: container.name,
      ...(container.image ? { image: container.image } : {}),
      ...(calico?.image ? { calicoImage: calico.image } : {}),
      ...(managedBy(ds) ? { managedBy: managedBy(ds) } : {}),
    };
    if (config.flanneld.ifaces.length > 0) daemonSet.ifaces = config.flanneld.ifaces;
  }

  // Nodes, read with the annotation prefix flannel uses
  const prefix = resolveAnnotationPrefix(overrides, config?.flanneld, annotationPrefixesOnNodes(nodes));
  const ipv6 = Boolean(config?.netConf?.enableIPv6 || overrides.flannelIpv6Network?.value);
  const ipv4 = config?.netConf ? config.netConf.enableIPv4 : true;
  const nodeInfos: FlannelNodeInfo[] = [];
  const findings: NodeFinding[] = [];
  for (const node of nodes) {
    const { info, findings: f } = readNodeInfo(node, prefix.setting.value, { ipv4, ipv6 });
    nodeInfos.push(info);
    findings.push(...f);
  }

  const calicoDs = daemonSets.items.find(
    (d) => d.metadata?.namespace === 'kube-system' && d.metadata?.name === calicoDaemonSetName(overrides),
  );
  const sources: DetectedSources = {
    nodes: nodeInfos,
    ...(ds && candidates[0] && installation.flavour !== 'none'
      ? {
          daemonSet: {
            name: ds.metadata?.name ?? '',
            namespace: ds.metadata?.namespace ?? '',
            from: `found by ${candidates[0].evidence.join('; ')}`,
          },
        }
      : {}),
    ...(config?.netConf ? { netConf: config.netConf, netConfFrom: config.configMapRef } : {}),
    ...(config ? { flanneld: config.flanneld } : {}),
    ...(config?.cniMtu ? { cniMtu: config.cniMtu } : {}),
    ...(ds && cniConfigDirOf(ds) ? { cniConfigDir: cniConfigDirOf(ds) } : {}),
    ...(subnetEnv.env
      ? { subnetEnv: subnetEnv.env, subnetEnvFrom: `${SUBNET_ENV_PATH} in pod ${subnetEnv.read.pod}` }
      : { subnetEnvMissing: subnetEnv.read.reason }),
    ...(calicoDs ? { calicoDaemonSet: { name: calicoDs.metadata?.name ?? '', namespace: 'kube-system' } } : {}),
  };
  const resolution = resolveSettings(sources, overrides, prefix.setting);
  const conflicts = [...prefix.conflicts, ...resolution.conflicts];
  if (subnetEnv.env?.problems.length) conflicts.push(...subnetEnv.env.problems.map((p) => `subnet.env: ${p}`));
  const settings = resolution.settings;

  const access = await checkAccess(client, settings.flannelDaemonSetNamespace.value);

  const checks: Check[] = [installation.check];
  const flavour = installation.flavour;
  if (ds && daemonSet && config && (flavour === 'flannel' || flavour === 'canal')) {
    checks.push(netConfCheck({ configMapRef: config.configMapRef, error: config.netConfError }));
    const nodeTypes = nodeInfos.map((n) => n.backendType).filter((t): t is string => Boolean(t));
    checks.push(vxlanCheck(config.netConf, findings, nodeTypes));
    checks.push(directRoutingCheck(config.netConf));
    checks.push(subnetManagerCheck(config.flanneld, nodeInfos));
    checks.push(managedDaemonSetCheck(ds.metadata?.labels ?? {}, daemonSet.managedBy, dsRef(ds)));
    const version = versionCheck(flavour, flavour === 'canal' ? daemonSet.calicoImage : daemonSet.image);
    if (version.version) daemonSet.version = version.version;
    checks.push(version.check);
    checks.push(
      ...nodeChecks({
        nodes: nodeInfos,
        findings,
        podCidrsOutsideNetwork: resolution.podCidrsOutsideNetwork,
        unreadable: nodesRead.error,
        namespace: daemonSet.namespace,
      }),
    );
    checks.push(mtuCheck(settings, resolution.mtuAssumed));
    checks.push(conflictsCheck(conflicts));
  } else if (nodesRead.error) {
    checks.push(...nodeChecks({ nodes: [], findings: [], podCidrsOutsideNetwork: [], unreadable: nodesRead.error }));
  }
  checks.push(rbacCheck(access));

  const nodeTypes = nodeInfos.map((n) => n.backendType).filter((t): t is string => Boolean(t));
  const backend: Detection['backend'] = {
    type: config?.netConf?.backend.type ?? nodeTypes[0] ?? 'unknown',
    vni: settings.flannelVni.value,
    port: settings.flannelPort.value,
    directRouting: config?.netConf?.backend.directRouting ?? false,
  };
  return {
    flavour,
    ...(daemonSet && (flavour === 'flannel' || flavour === 'canal') ? { daemonSet } : {}),
    ...(config?.configMap ? { configMap: config.configMap } : {}),
    backend,
    settings,
    conflicts,
    checks,
    nodes: nodeInfos,
    candidates,
    subnetEnv: subnetEnv.read,
    summary: installation.summary,
  };
}
