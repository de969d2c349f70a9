import { refOf, type KubeObject } from '../cluster/index.js';
import type { ClusterPort } from './cluster-port.js';
import { DEFAULT_HELPER_IMAGE, hostPodOutcome, staleHostJobReason } from '../host/pods.js';
import type { SharedWatch } from './shared-watch.js';
import { waitingOnCluster } from './step-timing.js';
import { throwIfInterrupted, waitForJob, WaitTimeoutError, type JobOutcome } from './waits.js';

/**
 * Host script Jobs (cleanup, revert and their command checks), shared by migrate and revert:
 * created fresh when an earlier run left a failed or different Job, waited on, and, when they
 * fail, reported with the script's own error lines and the helper image that would do.
 */

export interface HostJobRun {
  /** "host cleanup" or "host revert", for messages. */
  what: string;
  image: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Told when a stale Job of an earlier run is replaced. */
  onReplace?: (message: string) => void;
  /** A run-wide watch over the tool's Jobs, which then answers the wait for this one. */
  jobs?: SharedWatch;
}

const IMAGE_PULL_FAILURES = new Set(['ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);

const NEEDED = 'sh (bash), ip, rm, nft and the iptables/ip6tables -nft and -legacy save/restore tools';

/**
 * Creates `obj`, or returns the one an earlier run left when `staleReason` finds nothing wrong with it.
 * One that is stale, or already being deleted (e.g. by the garbage collector, its owner gone), is deleted
 * (its dependents with it), waited out and created anew: a rerun never waits on an object that goes away.
 */
export async function ensureFresh<T extends KubeObject>(
  client: ClusterPort,
  obj: T,
  staleReason: (existing: T) => string | undefined,
  run: { timeoutMs: number; signal?: AbortSignal; onReplace?: (message: string) => void },
): Promise<T> {
  // Created first: an object of an earlier run (a conflict) is the rare case, read only then.
  const { object: existing, created } = await client.ensure(obj);
  if (created) return existing;
  const deleting = Boolean(existing.metadata?.deletionTimestamp);
  const stale = deleting ? 'it is being deleted' : staleReason(existing);
  if (!stale) return existing;
  const ref = refOf(obj);
  run.onReplace?.(`replacing ${ref.kind} ${ref.namespace}/${ref.name}: ${stale}`);
  if (!deleting) await client.delete(ref, { propagationPolicy: 'Background' });
  if (!client.serverDryRun) {
    const uid = existing.metadata?.uid;
    const gone = await waitingOnCluster(() =>
      client.watchUntil<KubeObject>(
        ref.apiVersion,
        ref.kind,
        {
          namespace: ref.namespace,
          fieldSelector: `metadata.name=${ref.name}`,
          timeoutMs: run.timeoutMs,
          signal: run.signal,
          onList: (items) => !items.some((o) => o.metadata?.uid === uid),
        },
        (type, o) => type === 'DELETED' && o.metadata?.uid === uid,
      ),
    );
    if (!gone) {
      throwIfInterrupted(run.signal, `waiting for ${ref.kind} ${ref.namespace}/${ref.name} to be deleted`);
      throw new WaitTimeoutError(`${ref.kind} ${ref.namespace}/${ref.name} to be deleted`, run.timeoutMs);
    }
  }
  return (await client.ensure(obj)).object;
}

/**
 * Creates a host Job, or reuses the one a previous run made; one that failed, or was made with
 * another image or script, is deleted first (and its pods with it), so a rerun never waits on
 * a stale Job.
 */
export async function ensureHostJob(
  client: ClusterPort,
  job: KubeObject,
  run: HostJobRun,
): Promise<string | undefined> {
  return (await ensureFresh(client, job, (existing) => staleHostJobReason(existing, job), run)).metadata?.uid;
}

function ownedBy(pod: KubeObject, uid: string): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((o: { uid?: string }) => o.uid === uid);
}

/** The newest pod of this Job (its own, not one of an earlier Job of the same name). */
async function lastJobPod(client: ClusterPort, job: KubeObject): Promise<KubeObject | undefined> {
  const current = await client.find(refOf(job));
  const uid = current?.metadata?.uid;
  const pods = await client.list('v1', 'Pod', {
    namespace: job.metadata!.namespace,
    labelSelector: `job-name=${job.metadata!.name}`,
  });
  const own = pods.filter((p) => !uid || ownedBy(p, uid));
  own.sort((a, b) =>
    String(a.metadata?.creationTimestamp ?? '').localeCompare(String(b.metadata?.creationTimestamp ?? '')),
  );
  return own.filter((p) => p.status?.containerStatuses?.[0]?.state?.terminated).pop() ?? own.pop();
}

/**
 * Runs a host script Job to its end; a failure is an error with the script's own lines and, for missing commands, the
 * image to use.
 */
export async function runHostScriptJob(
  client: ClusterPort,
  job: KubeObject,
  run: HostJobRun & { wait: (m: string) => void },
): Promise<void> {
  const { name, namespace } = job.metadata as { name: string; namespace: string };
  const uid = await ensureHostJob(client, job, run);
  if (client.serverDryRun) return;
  run.wait(`waiting for ${run.what} Job ${namespace}/${name}`);
  const outcome = await waitForJob(client, namespace, name, run.timeoutMs, run.signal, run.jobs, uid);
  if (outcome.succeeded) return;
  const pod = hostPodOutcome(await lastJobPod(client, job));
  const said = pod.lines.length ? `: ${pod.lines.join('; ')}` : pod.reason ? ` (pod: ${pod.reason})` : '';
  const fix = pod.missingCommands.length
    ? ` The helper image ${run.image} lacks ${pod.missingCommands.join(', ')}: rerun with ` +
      `--helper-image set to an image that has them, e.g. ${DEFAULT_HELPER_IMAGE}.`
    : '';
  throw new Error(
    `${run.what} Job ${namespace}/${name} failed (${outcome.reason})${said}.${fix} The node ` +
      `stays cordoned; see kubectl -n ${namespace} logs job/${name}`,
  );
}

/**
 * Waits for a check Job; a pod whose image cannot be pulled fails it at once instead of at the
 * Job's deadline (when the Job controller would delete the pod and its reason with it).
 */
async function waitForCheckJob(
  client: ClusterPort,
  namespace: string,
  name: string,
  uid: string | undefined,
  run: HostJobRun,
): Promise<JobOutcome> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  run.signal?.addEventListener('abort', onAbort, { once: true });
  const finished = waitForJob(client, namespace, name, run.timeoutMs, stop.signal, undefined, uid);
  // Only this Job's pods: a replaced Job's pod (an image that could not be pulled) may still be
  // there, the garbage collector removing it after its Job.
  const ownPod = (pod: KubeObject) => !uid || ownedBy(pod, uid);
  const imageStuck = client
    .watchUntil<KubeObject>(
      'v1',
      'Pod',
      { namespace, labelSelector: `job-name=${name}`, timeoutMs: run.timeoutMs, signal: stop.signal },
      (type, pod) =>
        type !== 'DELETED' &&
        ownPod(pod) &&
        IMAGE_PULL_FAILURES.has(pod.status?.containerStatuses?.[0]?.state?.waiting?.reason),
    )
    .then((stuck) =>
      stuck
        ? { succeeded: false as const, reason: 'its image cannot be pulled' }
        : new Promise<JobOutcome>(() => undefined),
    );
  try {
    return await Promise.race([finished, imageStuck]);
  } finally {
    run.signal?.removeEventListener('abort', onAbort);
    stop.abort();
    finished.catch(() => undefined);
    imageStuck.catch(() => undefined);
  }
}

/**
 * Runs a host script's command check (MODE=check, changes nothing) in the helper image on the
 * first node to move, before anything is drained: a wrong image stops the run while no node has
 * moved. Returns nothing when the image can run the script; throws an error saying why not.
 */
export async function checkHelperImage(
  client: ClusterPort,
  checkJob: KubeObject,
  node: string,
  run: HostJobRun,
): Promise<void> {
  if (client.serverDryRun) return;
  const { name, namespace } = checkJob.metadata as { name: string; namespace: string };
  const uid = await ensureHostJob(client, checkJob, run);
  const outcome = await waitForCheckJob(client, namespace, name, uid, run);
  if (outcome.succeeded) return;
  const pod = hostPodOutcome(await lastJobPod(client, checkJob));
  const what = pod.missingCommands.length
    ? `it lacks the commands ${pod.missingCommands.join(', ')}`
    : pod.reason
      ? `its pod did not run the check (${pod.reason}${pod.lines.length ? `: ${pod.lines.join('; ')}` : ''})`
      : `the check failed (${outcome.reason}${pod.lines.length ? `: ${pod.lines.join('; ')}` : ''})`;
  throw new Error(
    `helper image ${run.image} cannot run the ${run.what} on ${node}: ${what}. No node was drained. ` +
      `Rerun with --helper-image set to an image that has ${NEEDED}, ` +
      `e.g. ${DEFAULT_HELPER_IMAGE} (the calico/node image of the Calico manifest); see kubectl ` +
      `-n ${namespace} logs job/${name}`,
  );
}
