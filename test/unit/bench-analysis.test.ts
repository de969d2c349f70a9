import { describe, expect, it } from '@jest/globals';
import {
  calicoModelledSeconds,
  classifyWait,
  countRequests,
  parseNdjson,
  pdbAllowedTimes,
  pdbOfMessage,
  splitNodeTimes,
  summariseSplits,
  type ApiAuditEvent,
  type CliAuditEntry,
} from '../testbed/bench-analysis.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

function api(ms: number, verb: string, resource: string, extra: Partial<ApiAuditEvent> = {}): ApiAuditEvent {
  return {
    stage: 'ResponseComplete',
    verb,
    userAgent: 'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)',
    requestReceivedTimestamp: at(ms),
    stageTimestamp: at(ms + 5),
    objectRef: { resource, ...(extra.objectRef ?? {}) },
    responseStatus: { code: 200 },
    ...extra,
  };
}

describe('countRequests', () => {
  it("counts one client's completed requests in the window by verb, evictions apart, writes summed", () => {
    const events: ApiAuditEvent[] = [
      api(100, 'get', 'nodes'),
      api(200, 'patch', 'nodes'),
      api(300, 'create', 'pods', { objectRef: { resource: 'pods', subresource: 'eviction' } }),
      api(300, 'create', 'pods', {
        objectRef: { resource: 'pods', subresource: 'eviction' },
        stage: 'ResponseStarted',
      }),
      api(400, 'watch', 'pods'),
      api(500, 'create', 'events'),
      api(250, 'patch', 'nodes', { userAgent: 'kwok/v0.8.0' }),
      api(5000, 'delete', 'jobs'),
    ];
    const counts = countRequests(events, /^node-fetch/, T0, T0 + 1000);
    expect(counts.total).toBe(5);
    expect(counts.byVerb).toEqual({ get: 1, patch: 1, evict: 1, watch: 1, create: 1 });
    expect(counts.writes).toBe(3);
    expect(counts.byResource.find((r) => r.key === 'evict pods/eviction')?.count).toBe(1);
  });
});

describe('pdbAllowedTimes', () => {
  it('keeps the successful status writes that allow at least one disruption, sorted', () => {
    const status = (ms: number, allowed: number, code = 200): ApiAuditEvent =>
      api(ms, 'update', 'poddisruptionbudgets', {
        objectRef: { resource: 'poddisruptionbudgets', subresource: 'status', namespace: 'apps', name: 'db' },
        requestObject: { status: { disruptionsAllowed: allowed } },
        responseStatus: { code },
      });
    const times = pdbAllowedTimes([status(900, 1), status(100, 0), status(500, 1), status(700, 1, 409)]);
    expect(times.get('apps/db')).toEqual([T0 + 505, T0 + 905]);
  });
});

describe('classifyWait / pdbOfMessage', () => {
  it("names the inherent wait of each step and leaves the tool's own work unclassified", () => {
    expect(
      classifyWait('drain', 'waiting on PDB apps/db: 0 disruptions allowed (apps/db-2); retry in 5 s, 600 s left'),
    ).toBe('eviction');
    expect(classifyWait('drain', 'waiting for 5 evicted pod(s) to terminate')).toBe('termination');
    expect(classifyWait('stop-flannel', 'waiting for the kube-flannel/kube-flannel-ds pod to leave the node')).toBe(
      'termination',
    );
    expect(classifyWait('host-cleanup', 'waiting for host cleanup Job kube-system/f2c-cleanup-w-1')).toBe('hostJob');
    expect(
      classifyWait('host-cleanup', "restarting 2 pod(s) still on flannel's network: apps/a, apps/b"),
    ).toBeUndefined();
    expect(classifyWait('start-calico', 'waiting for calico-node on w-1 to be Ready')).toBe('calicoReady');
    expect(classifyWait('probe', 'waiting for probes')).toBe('probe');
    expect(pdbOfMessage('waiting on PDB apps/db: 0 disruptions allowed')).toBe('apps/db');
    expect(pdbOfMessage('PodDisruptionBudget kube-system/coredns allows 0')).toBe('kube-system/coredns');
    expect(pdbOfMessage('waiting for 5 evicted pod(s) to terminate')).toBeUndefined();
  });
});

function cli(ms: number, event: string, fields: Partial<CliAuditEntry> = {}): CliAuditEntry {
  return { time: at(ms), type: 'event', event, ...fields };
}

describe('splitNodeTimes', () => {
  // One node, batch started at 0: cordon 0-100; drain 100-8100 (PDB wait from 300, retries every 5 s;
  // the PDB allowed again at 2300; termination wait 7000-8000); host Job 8200-9200; calico 9300-9500.
  const n = 'w-1';
  const entries: CliAuditEntry[] = [
    cli(0, 'batch-start', { nodes: [n], index: 1 }),
    cli(20, 'step-start', { node: n, step: 'cordon' }),
    cli(100, 'step-done', { node: n, step: 'cordon' }),
    cli(100, 'step-start', { node: n, step: 'drain' }),
    cli(300, 'step-wait', {
      node: n,
      step: 'drain',
      message: 'waiting on PDB apps/db: 0 disruptions allowed (apps/db-0); retry in 5 s',
    }),
    cli(5300, 'step-wait', {
      node: n,
      step: 'drain',
      message: 'waiting on PDB apps/db: 0 disruptions allowed (apps/db-0); retry in 5 s',
    }),
    cli(7000, 'step-wait', { node: n, step: 'drain', message: 'waiting for 3 evicted pod(s) to terminate' }),
    { time: at(8000), type: 'mutation', verb: 'patch', kind: 'Node', name: n },
    cli(8100, 'step-done', { node: n, step: 'drain' }),
    cli(8100, 'step-start', { node: n, step: 'host-cleanup' }),
    cli(8200, 'step-wait', { node: n, step: 'host-cleanup', message: 'waiting for host cleanup Job kube-system/j' }),
    cli(9200, 'step-wait', {
      node: n,
      step: 'host-cleanup',
      message: "restarting 1 pod(s) still on flannel's network: apps/x",
    }),
    cli(9250, 'step-done', { node: n, step: 'host-cleanup' }),
    cli(9250, 'step-start', { node: n, step: 'start-calico' }),
    cli(9300, 'step-wait', { node: n, step: 'start-calico', message: 'waiting for calico-node on w-1 to be Ready' }),
    cli(9500, 'step-done', { node: n, step: 'start-calico', waitedMs: 190, pausedMs: 0 }),
    cli(10_000, 'node-done', { node: n }),
  ];

  it('counts a PDB wait as inherent only until the budget allowed a disruption again', () => {
    const [split] = splitNodeTimes(entries, new Map([['apps/db', [T0 + 2300, T0 + 6000]]]));
    expect(split.node).toBe(n);
    expect(split.finished).toBe(true);
    expect(split.totalMs).toBe(10_000);
    // refused at 300, allowed at 2300 (the tool slept on until 5300); refused at 5300, allowed at 6000
    expect(split.waits.eviction).toBe(2700);
    // termination ends at the node's own state write (8000), not at step-done
    expect(split.waits.termination).toBe(1000);
    expect(split.waits.hostJob).toBe(1000);
    expect(split.waits.calicoReady).toBe(200);
    expect(split.inherentMs).toBe(4900);
    expect(split.overheadMs).toBe(5100);
    expect(split.stepsMs.drain).toBe(8000);
    expect(split.selfReported).toEqual({ waitedMs: 190, pausedMs: 0 });
  });

  it('without the PDB history, counts the whole PDB wait as measured', () => {
    const [split] = splitNodeTimes(entries);
    expect(split.waits.eviction).toBe(6700);
  });

  it('summarises finished nodes and batches, and marks a node cut short as unfinished', () => {
    const cut = entries
      .filter((e) => e.event !== 'node-done')
      .map((e) =>
        e.node === n || e.name === n ? { ...e, node: e.node ? 'w-2' : undefined, name: e.name ? 'w-2' : undefined } : e,
      );
    const splits = splitNodeTimes([...entries, ...cut.filter((e) => e.event !== 'batch-start')]);
    expect(splits.map((s) => [s.node, s.finished])).toEqual([
      ['w-1', true],
      ['w-2', false],
    ]);
    const summary = summariseSplits(splits);
    expect(summary.finished).toBe(1);
    expect(summary.meanTotalMs).toBe(10_000);
    expect(summary.batches).toEqual([{ index: 1, nodes: 1, wallMs: 10_000, meanOverheadMs: summary.meanOverheadMs }]);
  });

  it('counts nodes that rolled (no batch of their own) apart, from the first start to the last end', () => {
    const rolled = (node: string, shiftMs: number) =>
      entries
        .filter((e) => e.event !== 'batch-start')
        .map((e) => ({
          ...e,
          time: at(Date.parse(e.time) - Date.parse(at(0)) + shiftMs),
          node: e.node ? node : undefined,
          name: e.name ? node : undefined,
        }));
    const summary = summariseSplits(splitNodeTimes([...entries, ...rolled('w-2', 10_000), ...rolled('w-3', 12_000)]));
    expect(summary.batches.map((b) => b.index)).toEqual([1]);
    expect(summary.rolling).toMatchObject({ nodes: 2 });
    // w-2 starts at its first step (10,020 ms), w-3 ends at 12,000 + 10,000 ms.
    expect(summary.rolling!.wallMs).toBe(22_000 - 10_020);
  });
});

describe('parseNdjson / calicoModelledSeconds', () => {
  it('skips blank and cut lines', () => {
    expect(parseNdjson<{ a: number }>('{"a":1}\n\n{"a":2}\n{"a":')).toEqual([{ a: 1 }, { a: 2 }]);
  });
  it('models Calico at 15.4 s per node, one node at a time', () => {
    expect(calicoModelledSeconds(100)).toBeCloseTo(1540);
  });
});
