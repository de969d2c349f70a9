import type { ClusterClient, KubeObject } from '../cluster/index.js';
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
  constructor(readonly what: string, readonly timeoutMs: number) {
    super(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
  }
}

export function isPodReady(pod: KubeObject): boolean {
  return pod.status?.phase === 'Running' && (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
}

export function selectorString(matchLabels: Record<string, string> | undefined): string {
  return Object.entries(matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
}

/** Does the pod carry every label of an equality selector "k=v,k=v" (as selectorString makes)? */
export function matchesSelector(obj: KubeObject, labelSelector: string): boolean {
  const labels = obj.metadata?.labels ?? {};
  return labelSelector.split(',').filter(Boolean).every((term) => {
    const i = term.indexOf('=');
    return labels[term.slice(0, i)] === term.slice(i + 1);
  });
}

/**
 * Waits (by watch) until a pod matching `labelSelector` on `node` is Ready. With `shared`, a run-wide
 * watch over those pods answers, and this wait sends no request of its own.
 */
export async function waitForPodReadyOnNode(client: ClusterClient, node: string, namespace: string, labelSelector: string, timeoutMs: number, what: string, signal?: AbortSignal, shared?: SharedWatch): Promise<KubeObject> {
  let ready: KubeObject | undefined;
  if (shared) {
    ready = await waitingOnCluster(() => shared.until((pods) => {
      for (const pod of pods) {
        if (pod.spec?.nodeName === node && pod.metadata?.namespace === namespace && !pod.metadata?.deletionTimestamp && matchesSelector(pod, labelSelector) && isPodReady(pod)) return pod;
      }
      return undefined;
    }, timeoutMs, signal));
  } else {
    await waitingOnCluster(() => client.watchUntil<KubeObject>('v1', 'Pod', { namespace, labelSelector, fieldSelector: `spec.nodeName=${node}`, timeoutMs, signal }, (type, pod) => {
      if (type !== 'DELETED' && !pod.metadata?.deletionTimestamp && isPodReady(pod)) ready = pod;
      return ready !== undefined;
    }));
  }
  if (!ready) {
    throwIfInterrupted(signal, `waiting for ${what}`);
    throw new WaitTimeoutError(what, timeoutMs);
  }
  return ready;
}

/** Waits (by watch) until no pod matching `labelSelector` is left on `node`. */
export async function waitForNoPodOnNode(client: ClusterClient, node: string, namespace: string | undefined, labelSelector: string, timeoutMs: number, what: string, signal?: AbortSignal): Promise<void> {
  const present = new Set<string>();
  const ok = await waitingOnCluster(() => client.watchUntil<KubeObject>('v1', 'Pod', {
    namespace, labelSelector, fieldSelector: `spec.nodeName=${node}`, timeoutMs, signal,
    onList: (items) => {
      present.clear();
      for (const p of items) present.add(p.metadata!.uid!);
      return present.size === 0;
    },
  }, (type, pod) => {
    if (type === 'DELETED') present.delete(pod.metadata!.uid!);
    else present.add(pod.metadata!.uid!);
    return present.size === 0;
  }));
  if (!ok) {
    throwIfInterrupted(signal, `waiting for ${what}`);
    throw new WaitTimeoutError(what, timeoutMs);
  }
}

/** Waits (by watch) until every pod in `uids` is gone (deleted, or replaced by a pod with a new UID). */
export async function waitForPodsGone(client: ClusterClient, node: string, uids: Set<string>, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const remaining = new Set(uids);
  if (remaining.size === 0) return true;
  return waitingOnCluster(() => client.watchUntil<KubeObject>('v1', 'Pod', {
    fieldSelector: `spec.nodeName=${node}`, timeoutMs, signal,
    onList: (items) => {
      const listed = new Set(items.map((p) => p.metadata!.uid!));
      for (const uid of [...remaining]) if (!listed.has(uid)) remaining.delete(uid);
      return remaining.size === 0;
    },
  }, (type, pod) => {
    if (type === 'DELETED') remaining.delete(pod.metadata!.uid!);
    return remaining.size === 0;
  }));
}

export type JobOutcome = { succeeded: true } | { succeeded: false; reason: string };

function jobOutcome(job: KubeObject): JobOutcome | undefined {
  const conditions: any[] = job.status?.conditions ?? [];
  const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  if (failed) return { succeeded: false, reason: `${failed.reason ?? 'Failed'}: ${failed.message ?? 'the Job failed'}` };
  if ((job.status?.succeeded ?? 0) >= 1 || conditions.some((c) => c.type === 'Complete' && c.status === 'True')) return { succeeded: true };
  return undefined;
}

/**
 * Waits (by watch) until a Job completes or fails. With `shared`, a run-wide watch over the tool's
 * Jobs answers (this wait sends no request of its own); `uid` then names the Job, so that one of an
 * earlier run under the same name, not yet gone from the cache, is never taken for it.
 */
export async function waitForJob(client: ClusterClient, namespace: string, name: string, timeoutMs: number, signal?: AbortSignal, shared?: SharedWatch, uid?: string): Promise<JobOutcome> {
  let outcome: JobOutcome | undefined;
  if (shared) {
    let seen = false;
    outcome = await waitingOnCluster(() => shared.until<JobOutcome>((jobs) => {
      let job: KubeObject | undefined;
      for (const j of jobs) if (j.metadata?.name === name && j.metadata?.namespace === namespace && (!uid || j.metadata?.uid === uid)) job = j;
      if (!job) return seen ? { succeeded: false, reason: 'the Job was deleted' } : undefined;
      seen = true;
      return jobOutcome(job);
    }, timeoutMs, signal));
  } else {
    await waitingOnCluster(() => client.watchUntil<KubeObject>('batch/v1', 'Job', { namespace, fieldSelector: `metadata.name=${name}`, timeoutMs, signal }, (type, job) => {
      outcome = type === 'DELETED' ? { succeeded: false, reason: 'the Job was deleted' } : jobOutcome(job);
      return outcome !== undefined;
    }));
  }
  if (!outcome) {
    throwIfInterrupted(signal, `waiting for Job ${namespace}/${name}`);
    throw new WaitTimeoutError(`Job ${namespace}/${name} to finish`, timeoutMs);
  }
  return outcome;
}
