import type { ClusterClient, KubeObject } from '../cluster/index.js';
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

/** Waits (by watch) until a pod matching `labelSelector` on `node` is Ready. */
export async function waitForPodReadyOnNode(client: ClusterClient, node: string, namespace: string, labelSelector: string, timeoutMs: number, what: string, signal?: AbortSignal): Promise<KubeObject> {
  let ready: KubeObject | undefined;
  const ok = await waitingOnCluster(() => client.watchUntil<KubeObject>('v1', 'Pod', { namespace, labelSelector, fieldSelector: `spec.nodeName=${node}`, timeoutMs, signal }, (type, pod) => {
    if (type !== 'DELETED' && !pod.metadata?.deletionTimestamp && isPodReady(pod)) ready = pod;
    return ready !== undefined;
  }));
  if (!ok || !ready) {
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

/** Waits (by watch) until a Job completes or fails. */
export async function waitForJob(client: ClusterClient, namespace: string, name: string, timeoutMs: number, signal?: AbortSignal): Promise<JobOutcome> {
  let outcome: JobOutcome | undefined;
  const ok = await waitingOnCluster(() => client.watchUntil<KubeObject>('batch/v1', 'Job', { namespace, fieldSelector: `metadata.name=${name}`, timeoutMs, signal }, (type, job) => {
    if (type === 'DELETED') {
      outcome = { succeeded: false, reason: 'the Job was deleted' };
      return true;
    }
    const conditions: any[] = job.status?.conditions ?? [];
    const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
    if (failed) outcome = { succeeded: false, reason: `${failed.reason ?? 'Failed'}: ${failed.message ?? 'the Job failed'}` };
    else if ((job.status?.succeeded ?? 0) >= 1 || conditions.some((c) => c.type === 'Complete' && c.status === 'True')) outcome = { succeeded: true };
    return outcome !== undefined;
  }));
  if (!ok || !outcome) {
    throwIfInterrupted(signal, `waiting for Job ${namespace}/${name}`);
    throw new WaitTimeoutError(`Job ${namespace}/${name} to finish`, timeoutMs);
  }
  return outcome;
}
