import { describe, expect, it } from '@jest/globals';
import { DrainRefusedError } from '../../src/engine/drain.js';
import {
  DRAIN_MESSAGES,
  cannotDelete,
  classifyNodePods,
  classifyPod,
  drainContext,
  drainRefusal,
} from '../../src/plan/drain-filters.js';
import { selectorMatches } from '../../src/plan/selector.js';
import { daemonSet, pdb, pod } from './plan-fixtures.js';

const now = new Date('2026-01-01T12:00:00Z');
const base = {
  daemonSets: [daemonSet('kube-flannel', 'kube-flannel-ds'), daemonSet('monitoring', 'node-exporter')],
  pdbs: [],
  now,
};
const strict = drainContext(base);
const lenient = drainContext({ ...base, force: true, deleteEmptyDirData: true });

describe('classifyPod (kubectl drain filters, --ignore-daemonsets always on)', () => {
  it('evicts a replicated pod', () => {
    const d = classifyPod(pod('default', 'web-abc'), strict);
    expect(d).toMatchObject({
      namespace: 'default',
      name: 'web-abc',
      action: 'evict',
      filter: 'replicated',
      blockingPdbs: [],
    });
    expect(d.reason).toMatch(/managed by ReplicaSet/);
  });

  it('skips pods of an existing DaemonSet', () => {
    const d = classifyPod(
      pod('kube-flannel', 'kube-flannel-ds-x1', { owner: { kind: 'DaemonSet', name: 'kube-flannel-ds' } }),
      strict,
    );
    expect(d.action).toBe('skip');
    expect(d.reason).toContain(DRAIN_MESSAGES.daemonSetIgnored);
  });

  it('skips DaemonSet pods before the emptyDir and controller checks (filter order)', () => {
    const d = classifyPod(
      pod('monitoring', 'node-exporter-x', { owner: { kind: 'DaemonSet', name: 'node-exporter' }, emptyDir: true }),
      strict,
    );
    expect(d.action).toBe('skip');
    expect(d.filter).toBe('daemonset');
  });

  it('only treats apps/v1 DaemonSet owners as DaemonSets', () => {
    const d = classifyPod(
      pod('default', 'odd', {
        owner: { kind: 'DaemonSet', name: 'kube-flannel-ds', apiVersion: 'extensions/v1beta1' },
      }),
      strict,
    );
    expect(d.action).toBe('evict');
  });

  it('refuses a pod whose DaemonSet is gone unless --force', () => {
    const orphan = pod('default', 'gone-ds-x', { owner: { kind: 'DaemonSet', name: 'gone' } });
    const refused = classifyPod(orphan, strict);
    expect(refused.action).toBe('refuse');
    expect(refused.reason).toContain('daemonsets.apps "gone" not found');
    const forced = classifyPod(orphan, lenient);
    expect(forced.action).toBe('evict');
    expect(forced.warnings).toContain('daemonsets.apps "gone" not found');
  });

  it('skips mirror pods, even without a controller or with emptyDir', () => {
    const d = classifyPod(
      pod('kube-system', 'kube-apiserver-cp-1', { owner: null, mirror: true, emptyDir: true }),
      strict,
    );
    expect(d.action).toBe('skip');
    expect(d.filter).toBe('mirror');
  });

  it('refuses emptyDir pods without --delete-emptydir-data and evicts them with it', () => {
    const p = pod('default', 'cache-abc', { emptyDir: true });
    const refused = classifyPod(p, strict);
    expect(refused).toMatchObject({
      action: 'refuse',
      filter: 'local-storage',
      reason: DRAIN_MESSAGES.localStorageError,
    });
    const evicted = classifyPod(p, drainContext({ ...base, deleteEmptyDirData: true }));
    expect(evicted.action).toBe('evict');
    expect(evicted.warnings).toEqual([DRAIN_MESSAGES.localStorageWarning]);
  });

  it('refuses unreplicated pods without --force and evicts them with it', () => {
    const p = pod('default', 'lonely', { owner: null });
    expect(classifyPod(p, strict)).toMatchObject({
      action: 'refuse',
      filter: 'unreplicated',
      reason: DRAIN_MESSAGES.unreplicatedError,
    });
    const forced = classifyPod(p, drainContext({ ...base, force: true }));
    expect(forced).toMatchObject({ action: 'evict', filter: 'unreplicated' });
    expect(forced.reason).toContain(DRAIN_MESSAGES.unreplicatedWarning);
  });

  it('stops at the emptyDir refusal for an unreplicated emptyDir pod (first refusal wins)', () => {
    const p = pod('default', 'lonely-cache', { owner: null, emptyDir: true });
    expect(classifyPod(p, strict).filter).toBe('local-storage');
    expect(classifyPod(p, drainContext({ ...base, deleteEmptyDirData: true })).filter).toBe('unreplicated');
    const both = classifyPod(p, lenient);
    expect(both.action).toBe('evict');
    expect(both.warnings).toEqual([DRAIN_MESSAGES.localStorageWarning, DRAIN_MESSAGES.unreplicatedWarning]);
  });

  it('evicts finished pods freely, whatever their owner or volumes', () => {
    for (const phase of ['Succeeded', 'Failed']) {
      expect(classifyPod(pod('default', 'job-x', { owner: null, emptyDir: true, phase }), strict)).toMatchObject({
        action: 'evict',
        filter: 'finished',
      });
      expect(
        classifyPod(pod('default', 'ds-x', { owner: { kind: 'DaemonSet', name: 'gone' }, phase }), strict).action,
      ).toBe('evict');
    }
  });

  it('skips pods deleted longer ago than --skip-wait-for-delete-timeout and keeps younger ones', () => {
    const old = pod('default', 'old', { deletionTimestamp: '2026-01-01T11:00:00Z' });
    const young = pod('default', 'young', { deletionTimestamp: '2026-01-01T11:59:50Z' });
    const ctx = drainContext({ ...base, skipWaitForDeleteTimeoutSeconds: 60 });
    expect(classifyPod(old, ctx)).toMatchObject({ action: 'skip', filter: 'deleted' });
    expect(classifyPod(old, ctx).reason).toBe('pod "old" has DeletionTimestamp older than 60 seconds, skipping');
    expect(classifyPod(young, ctx).action).toBe('evict');
    // without the option (kubectl's default 0) terminating pods go through the filters as usual
    const d = classifyPod(old, strict);
    expect(d.action).toBe('evict');
    expect(d.reason).toMatch(/already terminating/);
  });

  it('names the PDBs an eviction must pass, with disruptionsAllowed, for running pods only', () => {
    const ctx = drainContext({
      ...base,
      pdbs: [
        pdb('default', 'web-pdb', { matchLabels: { app: 'web' } }, 0),
        pdb('default', 'all', {}, 2),
        pdb('default', 'nil-selector', undefined, 0),
        pdb('other', 'web-pdb', { matchLabels: { app: 'web' } }, 0),
      ],
    });
    const running = classifyPod(pod('default', 'web-1', { labels: { app: 'web' } }), ctx);
    expect(running.blockingPdbs).toEqual([
      { namespace: 'default', name: 'all', disruptionsAllowed: 2 },
      { namespace: 'default', name: 'web-pdb', disruptionsAllowed: 0 },
    ]);
    expect(
      classifyPod(pod('default', 'web-2', { labels: { app: 'web' }, phase: 'Pending' }), ctx).blockingPdbs,
    ).toEqual([]);
    expect(
      classifyPod(pod('default', 'web-3', { labels: { app: 'web' }, deletionTimestamp: '2026-01-01T11:59:00Z' }), ctx)
        .blockingPdbs,
    ).toEqual([]);
    expect(classifyPod(pod('default', 'lonely', { owner: null, labels: { app: 'web' } }), ctx).blockingPdbs).toEqual(
      [],
    );
  });
});

describe('the budgets covering a pod, found through an index', () => {
  it('finds exactly the budgets that trying every one of them finds, whatever their selectors', () => {
    const selectors: any[] = [
      { matchLabels: { app: 'web' } },
      { matchLabels: { tier: 'front', app: 'web' } },
      { matchLabels: { app: 'db' } },
      { matchLabels: { app: 'web', tier: 'back' } },
      { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'db'] }] },
      { matchExpressions: [{ key: 'legacy', operator: 'DoesNotExist' }] },
      { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['back'] }] },
      {},
      undefined,
    ];
    const pdbs = ['default', 'other'].flatMap((ns) => selectors.map((sel, i) => pdb(ns, `pdb-${i}`, sel, i)));
    const ctx = drainContext({ ...base, pdbs });
    const labelSets: Array<Record<string, string> | undefined> = [
      { app: 'web' },
      { app: 'web', tier: 'front' },
      { app: 'web', tier: 'back' },
      { app: 'db', legacy: 'yes' },
      { other: 'x' },
      {},
      undefined,
    ];
    for (const ns of ['default', 'other', 'empty'])
      for (const labels of labelSets) {
        const expected = pdbs
          .filter((b) => b.metadata!.namespace === ns && selectorMatches(b.spec!.selector as any, labels))
          .map((b) => b.metadata!.name)
          .sort();
        const found = classifyPod(pod(ns, 'p', { labels }), ctx).blockingPdbs!.map((b) => b.name);
        expect({ ns, labels, found }).toEqual({ ns, labels, found: expected });
      }
  });
});

describe('classifyNodePods and drainRefusal', () => {
  it('sorts by namespace and name and groups refusals like kubectl', () => {
    const pods = [
      pod('b', 'z', { owner: null }),
      pod('a', 'y', { owner: null }),
      pod('a', 'x', { emptyDir: true }),
      pod('a', 'w'),
    ];
    const out = classifyNodePods(pods, strict);
    expect(out.map((p) => `${p.namespace}/${p.name}`)).toEqual(['a/w', 'a/x', 'a/y', 'b/z']);
    expect(drainRefusal(out)).toBe(
      `cannot delete ${DRAIN_MESSAGES.localStorageError}: a/x; cannot delete ` +
        `${DRAIN_MESSAGES.unreplicatedError}: a/y, b/z`,
    );
    expect(drainRefusal(classifyNodePods([pod('a', 'w')], strict))).toBeUndefined();
  });

  it('groups refused pods by reason in the order the reasons first appear, for the plan and the drain alike', () => {
    const refused = [
      { pod: 'a/y', reason: DRAIN_MESSAGES.unreplicatedError },
      { pod: 'a/x', reason: DRAIN_MESSAGES.localStorageError },
      { pod: 'b/z', reason: DRAIN_MESSAGES.unreplicatedError },
    ];
    const text =
      `cannot delete ${DRAIN_MESSAGES.unreplicatedError}: a/y, b/z; cannot delete ` +
      `${DRAIN_MESSAGES.localStorageError}: a/x`;
    expect(cannotDelete(refused)).toBe(text);
    expect(new DrainRefusedError('worker-1', refused).message).toBe(`cannot drain worker-1: ${text}`);
  });
});
