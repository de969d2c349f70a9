import type { KubeObject } from '../cluster/index.js';
import type { ClusterPort } from './cluster-port.js';
import type { SharedWatch } from './shared-watch.js';
import { waitingOnCluster } from './step-timing.js';

/** The operator interrupted the run (Ctrl-C): the wait or step stopped before it finished. */
export class InterruptedError extends Error {
  constructor(readonly what: string) {
    super(`interrupted while ${what}`);
  }
}

/** Throws InterruptedError when `signal` has aborted: the check at each safe point. */
export function throwIfInterrupted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new InterruptedError(what);
}

export class WaitTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
  }
}

export function isPodReady(pod: KubeObject): boolean {
  return (
    pod.status?.phase === 'Running' &&
    (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')
  );
}

/** Does the pod carry every label of an equality selector "k=v,k=v" (as labelSelector in src/k8s.ts makes)? */
export function matchesSelector(obj: KubeObject, labelSelector: string): boolean {
  const labels = obj.metadata?.labels ?? {};
  return labelSelector
    .split(',')
    .filter(Boolean)
    .every((term) => {
      const i = term.indexOf('=');
      return labels[term.slice(0, i)] === term.slice(i + 1);
    });
}

/**
 * Waits (by watch) until a pod matching `labelSelector` on `node` is Ready. With `shared`, a run-wide
 * watch over those pods answers, and this wait sends no request of its own.
 */
export async function waitForPodReadyOnNode(
  client: ClusterPort,
  node: string,
  namespace: string,
  labelSelector: string,
  timeoutMs: number,
  what: string,
  signal?: AbortSignal,
  shared?: SharedWatch,
): Promise<KubeObject> {
  let ready: KubeObject | undefined;
  if (shared) {
    ready = await waitingOnCluster(() =>
      shared.until(
        (pods) => {
          for (const pod of pods) {
            if (
              pod.spec?.nodeName === node &&
              pod.metadata?.namespace === namespace &&
              !pod.metadata?.deletionTimestamp &&
              matchesSelector(pod, labelSelector) &&
              isPodReady(pod)
            )
              return pod;
          }
          return undefined;
        },
        timeoutMs,
        signal,
      ),
    );
  } else {
    await waitingOnCluster(() =>
      client.watchUntil<KubeObject>(
        'v1',
        'Pod',
        { namespace, labelSelector, fieldSelector: `spec.nodeName=${node}`, timeoutMs, signal },
        (type, pod) => {
          if (type !== 'DELETED' && !pod.metadata?.deletionTimestamp && isPodReady(pod)) ready = pod;
          return ready !== undefined;
        },
      ),
    );
  }
  if (!ready) {
    throwIfInterrupted(signal, `waiting for ${what}`);
    throw new WaitTimeoutError(what, timeoutMs);
  }
  return ready;
}

/** Waits (by watch) until no pod matching `labelSelector` is left on `node`. */
export async function waitForNoPodOnNode(
  client: ClusterPort,
  node: string,
  namespace: string | undefined,
  labelSelector: string,
  timeoutMs: number,
  what: string,
  signal?: AbortSignal,
): Promise<void> {
  const ok = await waitingOnCluster(() =>
    waitForNoPods(
      client,
      { namespace, labelSelector, fieldSelector: `spec.nodeName=${node}` },
      () => true,
      timeoutMs,
      signal,
    ),
  );
  if (!ok) {
    throwIfInterrupted(signal, `waiting for ${what}`);
    throw new WaitTimeoutError(what, timeoutMs);
  }
}

/** Waits (by watch) until no pod matching the selectors and `which` is left; `onCount` hears how many are left. */
async function waitForNoPods(
  client: ClusterPort,
  selectors: { namespace?: string; labelSelector?: string; fieldSelector?: string },
  which: (pod: KubeObject) => boolean,
  timeoutMs: number,
  signal?: AbortSignal,
  onCount?: (left: number) => void,
): Promise<boolean> {
  const present = new Set<string>();
  return client.watchUntil<KubeObject>(
    'v1',
    'Pod',
    {
      ...selectors,
      timeoutMs,
      signal,
      onList: (items) => {
        present.clear();
        for (const p of items) if (which(p)) present.add(p.metadata!.uid!);
        onCount?.(present.size);
        return present.size === 0;
      },
    },
    (type, pod) => {
      if (!which(pod)) return false;
      const before = present.size;
      if (type === 'DELETED') present.delete(pod.metadata!.uid!);
      else present.add(pod.metadata!.uid!);
      if (present.size !== before) onCount?.(present.size);
      return present.size === 0;
    },
  );
}

/**
 * Waits (by watch) until a deleted DaemonSet is gone and so are its pods (the garbage collector
 * deletes them after it); `onProgress` hears how many pods are left, at most every few seconds.
 */
export async function waitForDaemonSetGone(
  client: ClusterPort,
  ds: { name: string; namespace: string },
  timeoutMs: number,
  signal: AbortSignal | undefined,
  onProgress: (message: string) => void,
): Promise<void> {
  const what = `DaemonSet ${ds.namespace}/${ds.name} and its pods to be gone`;
  const deadline = Date.now() + timeoutMs;
  const deleted = await client.watchUntil<KubeObject>(
    'apps/v1',
    'DaemonSet',
    {
      namespace: ds.namespace,
      fieldSelector: `metadata.name=${ds.name}`,
      timeoutMs,
      signal,
      onList: (items) => items.length === 0,
    },
    (type) => type === 'DELETED',
  );
  const ownedBy = (pod: KubeObject) =>
    (pod.metadata?.ownerReferences ?? []).some(
      (o: { kind?: string; name?: string; controller?: boolean }) =>
        o.controller && o.kind === 'DaemonSet' && o.name === ds.name,
    );
  let told = 0;
  const gone =
    deleted &&
    (await waitForNoPods(
      client,
      { namespace: ds.namespace },
      ownedBy,
      Math.max(1, deadline - Date.now()),
      signal,
      (left) => {
        if (left > 0 && Date.now() - told >= 5000) {
          told = Date.now();
          onProgress(
            `waiting for ${left} pod(s) of DaemonSet ${ds.namespace}/${ds.name} to terminate (${Math.round((deadline - Date.now()) / 1000)} ` +
              `s left)`,
          );
        }
      },
    ));
  if (!gone) {
    throwIfInterrupted(signal, `waiting for ${what}`);
    throw new WaitTimeoutError(what, timeoutMs);
  }
}

/**
 * Waits (by watch) until every pod in `uids` is gone (deleted, or replaced by a pod with a new UID). Not
 * timed as a wait on the cluster by itself: the drain starts it before its evictions.
 */
export async function waitForPodsGone(
  client: ClusterPort,
  node: string,
  uids: Set<string>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const remaining = new Set(uids);
  if (remaining.size === 0) return true;
  return client.watchUntil<KubeObject>(
    'v1',
    'Pod',
    {
      fieldSelector: `spec.nodeName=${node}`,
      timeoutMs,
      signal,
      onList: (items) => {
        const listed = new Set(items.map((p) => p.metadata!.uid!));
        for (const uid of [...remaining]) if (!listed.has(uid)) remaining.delete(uid);
        return remaining.size === 0;
      },
    },
    (type, pod) => {
      if (type === 'DELETED') remaining.delete(pod.metadata!.uid!);
      return remaining.size === 0;
    },
  );
}

export type JobOutcome = { succeeded: true } | { succeeded: false; reason: string };

function jobOutcome(job: KubeObject): JobOutcome | undefined {
  const conditions: any[] = job.status?.conditions ?? [];
  const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  if (failed)
    return { succeeded: false, reason: `${failed.reason ?? 'Failed'}: ${failed.message ?? 'the Job failed'}` };
  if ((job.status?.succeeded ?? 0) >= 1 || conditions.some((c) => c.type === 'Complete' && c.status === 'True'))
    return { succeeded: true };
  return undefined;
}

/**
 * Waits (by watch) until a Job completes or fails. With `shared`, a run-wide watch over the tool's
 * Jobs answers (this wait sends no request of its own); `uid` then names the Job, so that one of an
 * earlier run under the same name, not yet gone from the cache, is never taken for it.
 */
export async function waitForJob(
  client: ClusterPort,
  namespace: string,
  name: string,
  timeoutMs: number,
  signal?: AbortSignal,
  shared?: SharedWatch,
  uid?: string,
): Promise<JobOutcome> {
  let outcome: JobOutcome | undefined;
  if (shared) {
    let seen = false;
    outcome = await waitingOnCluster(() =>
      shared.until<JobOutcome>(
        (jobs) => {
          let job: KubeObject | undefined;
          for (const j of jobs)
            if (j.metadata?.name === name && j.metadata?.namespace === namespace && (!uid || j.metadata?.uid === uid))
              job = j;
          if (!job) return seen ? { succeeded: false, reason: 'the Job was deleted' } : undefined;
          seen = true;
          return jobOutcome(job);
        },
        timeoutMs,
        signal,
      ),
    );
  } else {
    await waitingOnCluster(() =>
      client.watchUntil<KubeObject>(
        'batch/v1',
        'Job',
        { namespace, fieldSelector: `metadata.name=${name}`, timeoutMs, signal },
        (type, job) => {
          outcome = type === 'DELETED' ? { succeeded: false, reason: 'the Job was deleted' } : jobOutcome(job);
          return outcome !== undefined;
        },
      ),
    );
  }
  if (!outcome) {
    throwIfInterrupted(signal, `waiting for Job ${namespace}/${name}`);
    throw new WaitTimeoutError(`Job ${namespace}/${name} to finish`, timeoutMs);
  }
  return outcome;
}
