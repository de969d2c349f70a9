import os from 'node:os';
import { isClusterError, type KubeObject } from '../cluster/index.js';
import { LEASE_NAME, STATE_NAMESPACE, MANAGED_BY, MANAGED_BY_LABEL } from '../names.js';
import type { ClusterPort } from './cluster-port.js';

export class LockHeldError extends Error {
  constructor(readonly holder: string, readonly renewedAt: string | undefined, readonly expiresInSeconds: number) {
    super(`another migration is running: the Lease ${STATE_NAMESPACE}/${LEASE_NAME} is held by ${holder}` +
      (renewedAt ? ` (renewed ${renewedAt})` : ''));
  }
}

export function holderIdentity(): string {
  return `${os.userInfo().username}@${os.hostname()}/pid-${process.pid}`;
}

/** A holder on this machine whose process no longer exists has certainly gone away. */
export function holderIsDeadLocalProcess(holder: string): boolean {
  const m = /^[^@]+@(.+)\/pid-(\d+)$/.exec(holder);
  if (!m || m[1] !== os.hostname()) return false;
  try {
    process.kill(Number(m[2]), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

const leaseRef = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name: LEASE_NAME, namespace: STATE_NAMESPACE };

function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * One migration at a time: a coordination.k8s.io Lease, renewed while we work. A Lease whose holder
 * stopped renewing for longer than its duration (or whose holder process on this machine is gone)
 * is taken over.
 */
export class MigrationLock {
  private timer?: NodeJS.Timeout;
  readonly identity = holderIdentity();

  /** `signal`: at Ctrl-C the renewal stops; the run releases the Lease as it stops (or it expires). */
  constructor(private readonly client: ClusterPort, private readonly durationSeconds = 30, private readonly signal?: AbortSignal) {}

  async acquire(attempt = 1): Promise<{ tookOverFrom?: string }> {
    const now = new Date();
    const existing = await this.client.find<KubeObject>(leaseRef);
    const spec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.durationSeconds,
      acquireTime: microTime(now),
      renewTime: microTime(now),
    };
    if (!existing) {
      try {
        await this.client.create({ ...leaseRef, metadata: { name: LEASE_NAME, namespace: STATE_NAMESPACE, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } }, spec });
      } catch (err) {
        if (isClusterError(err, 'conflict') && attempt < 5) return this.acquire(attempt + 1);
        throw err;
      }
      this.startRenewing();
      return {};
    }
    const holder: string | undefined = existing.spec?.holderIdentity;
    let tookOverFrom: string | undefined;
    if (holder && holder !== this.identity) {
      const renewed = existing.spec?.renewTime ? Date.parse(existing.spec.renewTime) : 0;
      const duration = existing.spec?.leaseDurationSeconds ?? this.durationSeconds;
      const expiresIn = Math.ceil((renewed + duration * 1000 - now.getTime()) / 1000);
      if (expiresIn > 0 && !holderIsDeadLocalProcess(holder)) throw new LockHeldError(holder, existing.spec?.renewTime, expiresIn);
      tookOverFrom = holder;
    }
    // The resourceVersion precondition makes two simultaneous takeovers fail for one of them.
    try {
      await this.client.jsonPatch(leaseRef, [
        { op: 'test', path: '/metadata/resourceVersion', value: existing.metadata?.resourceVersion },
        { op: 'replace', path: '/spec', value: spec },
      ]);
    } catch (err) {
      // The test op failed: someone else changed the Lease in between; look again.
      if ((isClusterError(err, 'invalid') || isClusterError(err, 'conflict')) && attempt < 5) return this.acquire(attempt + 1);
      throw err;
    }
    this.startRenewing();
    return { tookOverFrom };
  }

  private startRenewing(): void {
    const every = Math.max(1, Math.floor(this.durationSeconds / 3)) * 1000;
    this.timer = setInterval(() => {
      this.client.mergePatch(leaseRef, { spec: { renewTime: microTime() } }).catch(() => undefined);
    }, every);
    this.timer.unref();
    if (this.signal?.aborted) this.stopRenewing();
    else this.signal?.addEventListener('abort', this.stopRenewing, { once: true });
  }

  private readonly stopRenewing = (): void => {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  };

  async release(): Promise<void> {
    this.stopRenewing();
    this.signal?.removeEventListener('abort', this.stopRenewing);
    const existing = await this.client.find<KubeObject>(leaseRef);
    if (existing?.spec?.holderIdentity === this.identity) await this.client.delete(leaseRef);
  }
}
