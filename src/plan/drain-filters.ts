/**
 * kubectl drain's pod filters (k8s.io/kubectl/pkg/drain/filters.go), as pure functions: for each pod
 * on a node, whether the drain evicts it, skips it, or refuses to drain the node because of it.
 * --ignore-daemonsets is always on for a migration. The filter order and messages follow kubectl,
 * so operators recognise them; the first filter that does not allow deletion decides.
 */
import type { V1DaemonSet, V1Pod, V1PodDisruptionBudget } from '../cluster/index.js';
import { selectorMatches } from './selector.js';
import type { PdbRef, PodAction, PodDisposition } from './types.js';

export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

/** kubectl's own messages, so output reads like kubectl drain. */
export const DRAIN_MESSAGES = {
  daemonSetIgnored: 'ignoring DaemonSet-managed Pods',
  localStorageError: 'Pods with local storage (use --delete-emptydir-data to override)',
  localStorageWarning: 'deleting Pods with local storage',
  unreplicatedError: 'Pods that declare no controller (use --force to override)',
  unreplicatedWarning: 'deleting Pods that declare no controller',
} as const;

/** The filter that decided a pod's fate (for evictions: the last one that ran). */
export type DrainFilter =
  | 'deleted'
  | 'daemonset'
  | 'mirror'
  | 'local-storage'
  | 'unreplicated'
  | 'finished'
  | 'replicated';

export interface ClassifiedPod extends PodDisposition {
  filter: DrainFilter;
  /** kubectl's warnings for a pod that is deleted anyway (e.g. "deleting Pods with local storage"). */
  warnings: string[];
}

export interface DrainFilterContext {
  force: boolean;
  deleteEmptyDirData: boolean;
  /** kubectl GETs the pod's DaemonSet: does it exist? */
  daemonSetExists: (namespace: string, name: string) => boolean;
  /**
   * The PodDisruptionBudgets of a namespace that may select a pod with these labels: a superset of
   * those that do (selectorMatches decides), found through an index rather than by trying them all.
   */
  pdbsMaySelect: (namespace: string, labels: Record<string, string> | undefined) => readonly V1PodDisruptionBudget[];
  /** kubectl --skip-wait-for-delete-timeout (seconds); 0 never skips. */
  skipWaitForDeleteTimeoutSeconds: number;
  now: Date;
}

/** Builds a DrainFilterContext with indexes over DaemonSets and PDBs. */
export function drainContext(input: {
  force?: boolean;
  deleteEmptyDirData?: boolean;
  daemonSets: readonly V1DaemonSet[];
  pdbs: readonly V1PodDisruptionBudget[];
  skipWaitForDeleteTimeoutSeconds?: number;
  now?: Date;
}): DrainFilterContext {
  const daemonSets = new Set(input.daemonSets.map((ds) => `${ds.metadata?.namespace}/${ds.metadata?.name}`));
  const pdbs = pdbIndexOf(input.pdbs);
  return {
    force: input.force ?? false,
    deleteEmptyDirData: input.deleteEmptyDirData ?? false,
    daemonSetExists: (namespace, name) => daemonSets.has(`${namespace}/${name}`),
    pdbsMaySelect: (namespace, labels) => pdbs.maySelect(namespace, labels),
    skipWaitForDeleteTimeoutSeconds: input.skipWaitForDeleteTimeoutSeconds ?? 0,
    now: input.now ?? new Date(),
  };
}

export function controllerRef(pod: V1Pod): { apiVersion: string; kind: string; name: string } | undefined {
  return pod.metadata?.ownerReferences?.find((ref) => ref.controller === true);
}

export function isFinished(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

function timestampOf(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const t = new Date(value as string | Date).getTime();
  return Number.isNaN(t) ? undefined : t;
}

/**
 * The Eviction API ignores PodDisruptionBudgets for pods that are finished, Pending or already
 * terminating (registry/core/pod/storage/eviction.go canIgnorePDB).
 */
export function evictionIgnoresPdbs(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return (
    phase === 'Succeeded' ||
    phase === 'Failed' ||
    phase === 'Pending' ||
    timestampOf(pod.metadata?.deletionTimestamp) !== undefined
  );
}

/**
 * PodDisruptionBudgets by namespace and by one label of their selector's matchLabels: a pod can only be
 * selected by a budget whose indexed label it carries, or by one without matchLabels (kept apart). With
 * thousands of budgets in a namespace, a pod is tried against a few, not all.
 */
class PdbIndex {
  /** namespace → label key → label value → budgets. */
  private readonly byLabel = new Map<string, Map<string, Map<string, V1PodDisruptionBudget[]>>>();
  private readonly unindexed = new Map<string, V1PodDisruptionBudget[]>();

  constructor(pdbs: readonly V1PodDisruptionBudget[]) {
    for (const pdb of pdbs) {
      const namespace = pdb.metadata?.namespace ?? 'default';
      const first = Object.entries(pdb.spec?.selector?.matchLabels ?? {})[0];
      if (!first) {
        push(this.unindexed, namespace, pdb);
        continue;
      }
      const keys = this.byLabel.get(namespace) ?? this.byLabel.set(namespace, new Map()).get(namespace)!;
      const values = keys.get(first[0]) ?? keys.set(first[0], new Map()).get(first[0])!;
      push(values, first[1], pdb);
    }
  }

  maySelect(namespace: string, labels: Record<string, string> | undefined): V1PodDisruptionBudget[] {
    const found = [...(this.unindexed.get(namespace) ?? [])];
    const keys = this.byLabel.get(namespace);
    if (keys) for (const [key, value] of Object.entries(labels ?? {})) found.push(...(keys.get(key)?.get(value) ?? []));
    return found;
  }
}

/** One index per list of budgets: the nodes of a batch share the batch's list, and so its index. */
const pdbIndexes = new WeakMap<readonly V1PodDisruptionBudget[], PdbIndex>();

function pdbIndexOf(pdbs: readonly V1PodDisruptionBudget[]): PdbIndex {
  let index = pdbIndexes.get(pdbs);
  if (!index) pdbIndexes.set(pdbs, (index = new PdbIndex(pdbs)));
  return index;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** The policy/v1 PDBs whose selector selects the pod (same namespace; a null selector selects nothing). */
export function pdbsCovering(pod: V1Pod, ctx: Pick<DrainFilterContext, 'pdbsMaySelect'>): PdbRef[] {
  const namespace = pod.metadata?.namespace ?? 'default';
  return ctx
    .pdbsMaySelect(namespace, pod.metadata?.labels)
    .filter((pdb) => selectorMatches(pdb.spec?.selector as any, pod.metadata?.labels))
    .map((pdb) => ({
      namespace,
      name: pdb.metadata?.name ?? '',
      disruptionsAllowed: pdb.status?.disruptionsAllowed ?? 0,
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Classifies one pod as kubectl drain (with --ignore-daemonsets) would. */
export function classifyPod(pod: V1Pod, ctx: DrainFilterContext): ClassifiedPod {
  const namespace = pod.metadata?.namespace ?? 'default';
  const name = pod.metadata?.name ?? '';
  const finished = isFinished(pod);
  const controller = controllerRef(pod);
  const done = (action: PodAction, filter: DrainFilter, reason: string, warnings: string[] = []): ClassifiedPod => ({
    namespace,
    name,
    action,
    reason,
    filter,
    warnings,
    blockingPdbs: action === 'evict' && !evictionIgnoresPdbs(pod) ? pdbsCovering(pod, ctx) : [],
  });
  const warnings: string[] = [];

  // 1. skipDeleted
  const deletedAt = timestampOf(pod.metadata?.deletionTimestamp);
  if (ctx.skipWaitForDeleteTimeoutSeconds > 0 && deletedAt !== undefined) {
    const ageSeconds = (ctx.now.getTime() - deletedAt) / 1000;
    if (ageSeconds > ctx.skipWaitForDeleteTimeoutSeconds) {
      return done(
        'skip',
        'deleted',
        `pod "${name}" has DeletionTimestamp older than ${ctx.skipWaitForDeleteTimeoutSeconds} seconds, skipping`,
      );
    }
  }

  // 2. daemonSet
  if (controller && controller.kind === 'DaemonSet' && controller.apiVersion === 'apps/v1' && !finished) {
    if (!ctx.daemonSetExists(namespace, controller.name)) {
      const notFound = `daemonsets.apps "${controller.name}" not found`;
      if (!ctx.force)
        return done(
          'refuse',
          'daemonset',
          `${notFound} (its DaemonSet is gone; use --force to delete the orphaned pod)`,
        );
      warnings.push(notFound);
    } else {
      return done(
        'skip',
        'daemonset',
        `${DRAIN_MESSAGES.daemonSetIgnored} (DaemonSet ${namespace}/${controller.name})`,
      );
    }
  }

  // 3. mirror
  if (pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) {
    return done('skip', 'mirror', 'mirror pod of a static pod: the kubelet owns it, the API cannot evict it');
  }

  // 4. localStorage
  const hasEmptyDir = (pod.spec?.volumes ?? []).some((v) => v.emptyDir !== undefined && v.emptyDir !== null);
  if (hasEmptyDir && !finished) {
    if (!ctx.deleteEmptyDirData) return done('refuse', 'local-storage', DRAIN_MESSAGES.localStorageError);
    warnings.push(DRAIN_MESSAGES.localStorageWarning);
  }

  // 5. unreplicated
  if (finished) {
    return done('evict', 'finished', `finished (${pod.status?.phase}): deleted freely`, warnings);
  }
  if (!controller) {
    if (!ctx.force) return done('refuse', 'unreplicated', DRAIN_MESSAGES.unreplicatedError);
    warnings.push(DRAIN_MESSAGES.unreplicatedWarning);
    return done('evict', 'unreplicated', `${warnings.join('; ')}: it will not be recreated`, warnings);
  }
  const terminating = deletedAt !== undefined ? '; already terminating, the drain waits for it to go' : '';
  const base = `managed by ${controller.kind} ${controller.name}`;
  const filter: DrainFilter = hasEmptyDir
    ? 'local-storage'
    : controller.kind === 'DaemonSet'
      ? 'daemonset'
      : 'replicated';
  return done(
    'evict',
    filter,
    warnings.length ? `${base}; ${warnings.join('; ')}${terminating}` : `${base}${terminating}`,
    warnings,
  );
}

/** Classifies every pod of a node, in a stable order (namespace, name). */
export function classifyNodePods(pods: readonly V1Pod[], ctx: DrainFilterContext): ClassifiedPod[] {
  return pods
    .map((pod) => classifyPod(pod, ctx))
    .sort((a, b) =>
      a.namespace === b.namespace
        ? a.name < b.name
          ? -1
          : a.name > b.name
            ? 1
            : 0
        : a.namespace < b.namespace
          ? -1
          : 1,
    );
}

/**
 * kubectl drain's error for the pods it may not remove: "cannot delete <reason>: ns/p1, ns/p2" for
 * each distinct reason, in the order the reasons first appear.
 */
export function cannotDelete(refused: ReadonlyArray<{ pod: string; reason: string }>): string {
  const byReason = new Map<string, string[]>();
  for (const { pod, reason } of refused) byReason.set(reason, [...(byReason.get(reason) ?? []), pod]);
  return [...byReason.entries()].map(([reason, pods]) => `cannot delete ${reason}: ${pods.join(', ')}`).join('; ');
}

/** The planned drain's refusal of a node (cannotDelete over its refused pods); undefined when nothing is refused. */
export function drainRefusal(pods: readonly PodDisposition[]): string | undefined {
  const refused = pods
    .filter((p) => p.action === 'refuse')
    .map((p) => ({ pod: `${p.namespace}/${p.name}`, reason: p.reason }));
  return refused.length ? cannotDelete(refused) : undefined;
}
