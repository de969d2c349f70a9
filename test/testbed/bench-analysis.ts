/**
 * Pure logic of the migration benchmark (test/bench/migrate-bench.mjs): counting one client's requests
 * in kube-apiserver's audit log, and splitting each node's time into the waits the cluster imposes and
 * the tool's own time, from the CLI's NDJSON audit log. No I/O: the bench reads the files.
 */

/** The few fields of an audit.k8s.io/v1 Event the bench reads. */
export interface ApiAuditEvent {
  verb?: string;
  requestURI?: string;
  userAgent?: string;
  stage?: string;
  stageTimestamp?: string;
  requestReceivedTimestamp?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  requestObject?: { status?: { disruptionsAllowed?: number } };
  responseStatus?: { code?: number };
}

/** One line of the CLI's own audit log (src/engine/audit.ts): engine events and mutations. */
export interface CliAuditEntry {
  time: string;
  type: string;
  event?: string;
  node?: string;
  step?: string;
  message?: string;
  nodes?: string[];
  index?: number;
  verb?: string;
  kind?: string;
  name?: string;
  command?: string;
  /** On step-done, from builds that measure it themselves: time waiting on the cluster, and pausing before retries. */
  waitedMs?: number;
  pausedMs?: number;
}

export const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** Parses NDJSON, skipping blank and unparsable lines (a log cut short while it was written). */
export function parseNdjson<T>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // a partial last line
    }
  }
  return out;
}

/** kube-apiserver's name for what a request did: `watch` for a list with ?watch, `evict` for pods/eviction. */
export function requestVerb(e: ApiAuditEvent): string {
  if (e.objectRef?.resource === 'pods' && e.objectRef.subresource === 'eviction' && e.verb === 'create') return 'evict';
  return e.verb ?? 'unknown';
}

export interface RequestCounts {
  total: number;
  writes: number;
  byVerb: Record<string, number>;
  /** `verb resource[/subresource]` → count, most first. */
  byResource: Array<{ key: string; count: number }>;
}

/**
 * Counts the requests of one client (matched by user agent) whose response completed within
 * [fromMs, toMs]. Only ResponseComplete (or Panic) stages count, so a request is counted once;
 * a watch counts when it ends.
 */
export function countRequests(events: ApiAuditEvent[], userAgent: RegExp, fromMs: number, toMs: number): RequestCounts {
  const byVerb: Record<string, number> = {};
  const byResource = new Map<string, number>();
  let total = 0;
  let writes = 0;
  for (const e of events) {
    if (e.stage !== 'ResponseComplete' && e.stage !== 'Panic') continue;
    if (!userAgent.test(e.userAgent ?? '')) continue;
    const at = Date.parse(e.requestReceivedTimestamp ?? e.stageTimestamp ?? '');
    if (!(at >= fromMs && at <= toMs)) continue;
    const verb = requestVerb(e);
    total += 1;
    byVerb[verb] = (byVerb[verb] ?? 0) + 1;
    if (WRITE_VERBS.has(e.verb ?? '')) writes += 1;
    const ref = e.objectRef;
    const key = `${verb} ${ref?.resource ?? e.requestURI?.split('?')[0] ?? '?'}${ref?.subresource ? `/${ref.subresource}` : ''}`;
    byResource.set(key, (byResource.get(key) ?? 0) + 1);
  }
  return {
    total,
    writes,
    byVerb,
    byResource: [...byResource]
      .map(([key, count]) => ({ key, count }))
      .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key)),
  };
}

/** Per PDB (`namespace/name`): the times (ms) its status was written with at least one disruption allowed. */
export function pdbAllowedTimes(events: ApiAuditEvent[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const e of events) {
    const ref = e.objectRef;
    if (e.stage !== 'ResponseComplete' || ref?.resource !== 'poddisruptionbudgets' || ref.subresource !== 'status')
      continue;
    if ((e.responseStatus?.code ?? 200) >= 300) continue;
    if ((e.requestObject?.status?.disruptionsAllowed ?? 0) < 1) continue;
    const key = `${ref.namespace}/${ref.name}`;
    const list = out.get(key) ?? [];
    list.push(Date.parse(e.stageTimestamp ?? ''));
    out.set(key, list);
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}

/** What a node waits on that the cluster, not the tool, decides how long it takes. */
export const INHERENT_WAITS = ['eviction', 'termination', 'hostJob', 'calicoReady', 'probe'] as const;
export type InherentWait = (typeof INHERENT_WAITS)[number];

export const WAIT_TITLES: Record<InherentWait, string> = {
  eviction: 'evictions held by PDBs',
  termination: 'pod termination',
  hostJob: 'host Job',
  calicoReady: 'calico-node Ready',
  probe: 'probe pods and Jobs',
};

/**
 * Which inherent wait a `step-wait` message starts, or undefined for a message that announces the
 * tool's own work (e.g. deleting pods, which waits on nothing).
 */
export function classifyWait(step: string | undefined, message: string): InherentWait | undefined {
  switch (step) {
    case 'drain':
      if (/\bPDB\b|PodDisruptionBudget|disruption|eviction of .* refused/i.test(message)) return 'eviction';
      return /terminat|gone|evicted/i.test(message) ? 'termination' : undefined;
    case 'stop-flannel':
      return /leave|terminat|gone/i.test(message) ? 'termination' : undefined;
    case 'host-cleanup':
      return /\bJob\b/.test(message) ? 'hostJob' : undefined;
    case 'start-calico':
      return /Ready|ready/.test(message) ? 'calicoReady' : undefined;
    case 'probe':
      return 'probe';
    default:
      return undefined;
  }
}

/** The PodDisruptionBudget (`namespace/name`) a drain wait names, if any. */
export function pdbOfMessage(message: string): string | undefined {
  return /(?:\bPDB|PodDisruptionBudget)\s+([a-z0-9][-a-z0-9.]*\/[a-z0-9][-a-z0-9.]*)/i.exec(message)?.[1];
}

export interface Segment {
  step: string;
  startMs: number;
  endMs: number;
  /** The inherent wait this span is, or 'tool' for the tool's own time. */
  kind: InherentWait | 'tool';
}

export interface NodeSplit {
  node: string;
  batch?: number;
  startMs: number;
  endMs: number;
  totalMs: number;
  inherentMs: number;
  overheadMs: number;
  waits: Record<InherentWait, number>;
  /** Per step: its own start to its done. */
  stepsMs: Record<string, number>;
  segments: Segment[];
  /** False when the node never reached node-done in this log (a run cut short). */
  finished: boolean;
  /** The tool's own account (step-done waitedMs / pausedMs), where the build records it. */
  selfReported?: { waitedMs: number; pausedMs: number };
}

const ms = (iso: string | undefined) => Date.parse(iso ?? '');

/**
 * Splits each node's time, from the start of its batch to its node-done, into inherent waits and the
 * tool's own time. A wait starts at a `step-wait` event and lasts until the node's next event or its
 * next write to its own Node object (the state annotation written once the step is done), whichever
 * comes first. A refused eviction is an inherent wait only until its PDB's status next allowed a
 * disruption (from kube-apiserver's audit log): a retry that comes later is the tool's time; the
 * intervals of concurrent refusals are merged. Where a PDB's status history is not known, the wait
 * counts as measured (until the node's next event).
 */
export function splitNodeTimes(entries: CliAuditEntry[], pdbAllowed: Map<string, number[]> = new Map()): NodeSplit[] {
  const batchOf = new Map<string, { index: number; startMs: number }>();
  const byNode = new Map<string, CliAuditEntry[]>();
  for (const e of entries) {
    if (e.type === 'event' && e.event === 'batch-start')
      for (const n of e.nodes ?? []) batchOf.set(n, { index: e.index ?? 0, startMs: ms(e.time) });
    const node = e.node ?? (e.type === 'mutation' && e.kind === 'Node' ? e.name : undefined);
    if (!node) continue;
    byNode.set(node, [...(byNode.get(node) ?? []), e]);
  }
  const splits: NodeSplit[] = [];
  for (const [node, list] of byNode) {
    const events = list.filter((e) => e.type === 'event').sort((a, b) => ms(a.time) - ms(b.time));
    const nodeWrites = list
      .filter((e) => e.type === 'mutation')
      .map((e) => ms(e.time))
      .sort((a, b) => a - b);
    const firstStep = events.find((e) => e.event === 'step-start');
    if (!firstStep) continue;
    const done = events.find((e) => e.event === 'node-done');
    const batch = batchOf.get(node);
    const startMs = Math.min(batch?.startMs ?? Infinity, ms(firstStep.time));
    const endMs = ms((done ?? events[events.length - 1]).time);
    const waits = Object.fromEntries(INHERENT_WAITS.map((w) => [w, 0])) as Record<InherentWait, number>;
    const segments: Segment[] = [];
    const stepsMs: Record<string, number> = {};
    const stepStart = new Map<string, number>();
    let selfReported: { waitedMs: number; pausedMs: number } | undefined;
    // Drain waits on PDBs interleave (one per refused eviction, concurrent): their intervals are merged.
    let pdbSpan: { step: string; intervals: Array<[number, number]> } | undefined;
    const closePdbSpan = (atMs: number) => {
      if (!pdbSpan) return;
      const intervals = pdbSpan.intervals
        .map(([a, b]): [number, number] => [a, Math.min(b, atMs)])
        .filter(([a, b]) => b > a)
        .sort((x, y) => x[0] - y[0]);
      let covered = 0;
      let reach = -Infinity;
      for (const [a, b] of intervals) {
        if (b <= reach) continue;
        covered += b - Math.max(a, reach);
        reach = b;
      }
      if (intervals.length)
        segments.push({ step: pdbSpan.step, startMs: intervals[0][0], endMs: reach, kind: 'eviction' });
      waits.eviction += covered;
      pdbSpan = undefined;
    };
    events.forEach((e, i) => {
      const at = ms(e.time);
      if (e.event === 'step-start' && e.step) stepStart.set(e.step, at);
      if (e.event === 'step-done' && e.step) {
        stepsMs[e.step] = (stepsMs[e.step] ?? 0) + at - (stepStart.get(e.step) ?? at);
        if (typeof e.waitedMs === 'number' || typeof e.pausedMs === 'number') {
          selfReported ??= { waitedMs: 0, pausedMs: 0 };
          selfReported.waitedMs += e.waitedMs ?? 0;
          selfReported.pausedMs += e.pausedMs ?? 0;
        }
        closePdbSpan(at);
      }
      if (e.event !== 'step-wait') return;
      const kind = classifyWait(e.step, e.message ?? '');
      if (!kind) return;
      const nextEvent = events.slice(i + 1).find((x) => x.event !== 'info' && x.event !== 'warning');
      const nextWrite = nodeWrites.find((t) => t > at);
      const end = Math.min(nextEvent ? ms(nextEvent.time) : endMs, nextWrite ?? Infinity, endMs);
      if (kind === 'eviction') {
        const pdb = pdbOfMessage(e.message ?? '');
        const allowedAt = pdb ? pdbAllowed.get(pdb)?.find((t) => t >= at) : undefined;
        // Known history: the budget said no until it allowed a disruption again; unknown: the wait as measured.
        const interval: [number, number] = [at, allowedAt ?? end];
        if (pdbSpan && pdbSpan.step === e.step) pdbSpan.intervals.push(interval);
        else {
          closePdbSpan(at);
          pdbSpan = { step: e.step ?? '', intervals: [interval] };
        }
        return;
      }
      closePdbSpan(at);
      segments.push({ step: e.step ?? '', startMs: at, endMs: end, kind });
      waits[kind] += Math.max(0, end - at);
    });
    closePdbSpan(endMs);
    const totalMs = Math.max(0, endMs - startMs);
    const inherentMs = INHERENT_WAITS.reduce((sum, w) => sum + waits[w], 0);
    splits.push({
      node,
      batch: batch?.index,
      startMs,
      endMs,
      totalMs,
      inherentMs,
      overheadMs: Math.max(0, totalMs - inherentMs),
      waits,
      stepsMs,
      segments,
      finished: Boolean(done),
      ...(selfReported ? { selfReported } : {}),
    });
  }
  return splits.sort((a, b) => a.startMs - b.startMs || a.node.localeCompare(b.node));
}

export interface SplitSummary {
  nodes: number;
  finished: number;
  meanTotalMs: number;
  meanInherentMs: number;
  meanOverheadMs: number;
  meanWaitsMs: Record<InherentWait, number>;
  /** Per batch: from its start to its last node-done. */
  batches: Array<{ index: number; nodes: number; wallMs: number; meanOverheadMs: number }>;
  /** Nodes that rolled (no batch of their own): from the first one's start to the last one's node-done. */
  rolling?: { nodes: number; wallMs: number; meanOverheadMs: number };
  /** Mean of the tool's own account, where every finished node has one. */
  meanSelfReported?: { waitedMs: number; pausedMs: number };
}

export function summariseSplits(splits: NodeSplit[]): SplitSummary {
  const done = splits.filter((s) => s.finished);
  const mean = (f: (s: NodeSplit) => number) =>
    done.length ? done.reduce((sum, s) => sum + f(s), 0) / done.length : 0;
  const batches = new Map<number, NodeSplit[]>();
  for (const s of done) if (s.batch !== undefined) batches.set(s.batch, [...(batches.get(s.batch) ?? []), s]);
  const rolled = done.filter((s) => s.batch === undefined);
  return {
    ...(rolled.length
      ? {
          rolling: {
            nodes: rolled.length,
            wallMs: Math.max(...rolled.map((s) => s.endMs)) - Math.min(...rolled.map((s) => s.startMs)),
            meanOverheadMs: rolled.reduce((sum, s) => sum + s.overheadMs, 0) / rolled.length,
          },
        }
      : {}),
    nodes: splits.length,
    finished: done.length,
    meanTotalMs: mean((s) => s.totalMs),
    meanInherentMs: mean((s) => s.inherentMs),
    meanOverheadMs: mean((s) => s.overheadMs),
    meanWaitsMs: Object.fromEntries(INHERENT_WAITS.map((w) => [w, mean((s) => s.waits[w])])) as Record<
      InherentWait,
      number
    >,
    ...(done.length && done.every((s) => s.selfReported)
      ? {
          meanSelfReported: {
            waitedMs: mean((s) => s.selfReported!.waitedMs),
            pausedMs: mean((s) => s.selfReported!.pausedMs),
          },
        }
      : {}),
    batches: [...batches]
      .sort((a, b) => a[0] - b[0])
      .map(([index, list]) => ({
        index,
        nodes: list.length,
        wallMs: Math.max(...list.map((s) => s.endMs)) - Math.min(...list.map((s) => s.startMs)),
        meanOverheadMs: list.reduce((sum, s) => sum + s.overheadMs, 0) / list.length,
      })),
  };
}

/** Calico's flannel-migration controller, measured on this test bed: 15.4 s per node, one node at a time. */
export const CALICO_SECONDS_PER_NODE = 15.4;

export function calicoModelledSeconds(nodes: number): number {
  return nodes * CALICO_SECONDS_PER_NODE;
}
