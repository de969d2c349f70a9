import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../src/cluster/index.js';
import { entriesOfMigration, nodeReports, summariseChanges, type AuditEntry } from '../../src/engine/report.js';
import { renderMarkdown, renderTimelineSvg } from '../../src/engine/report-render.js';
import type { MigrationRecord } from '../../src/engine/state.js';

const record: MigrationRecord = {
  phase: 'migrating',
  planHash: 'abcdef0123456789abcdef',
  flavour: 'flannel',
  flannelDaemonSet: { name: 'kube-flannel-ds', namespace: 'kube-flannel' },
  calicoDaemonSet: 'calico-node',
  settings: {},
  nodeOrder: ['w-0', 'w-1'],
  startedAt: '2026-01-01T10:00:00.000Z',
  updatedAt: '2026-01-01T10:05:00.000Z',
};

function node(
  name: string,
  labels: Record<string, string>,
  annotations: Record<string, string> = {},
  unschedulable = false,
): KubeObject {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels, annotations }, spec: { unschedulable } };
}

function event(nodeName: string, reason: string, message: string, time: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `e-${nodeName}-${time}` },
    involvedObject: { kind: 'Node', name: nodeName },
    reason,
    message,
    firstTimestamp: time,
    lastTimestamp: time,
  };
}

const L = 'projectcalico.org/node-network-during-migration';

describe('report: node step times', () => {
  it("times steps from the node's Migrated Event when the audit log has none: placed back from its time", () => {
    const state = JSON.stringify({
      step: 'done',
      completed: [],
      wasUnschedulable: false,
      startedAt: '2026-01-01T10:01:00Z',
      updatedAt: '2026-01-01T10:02:00Z',
    });
    const reports = nodeReports(
      [node('w-0', { [L]: 'calico' }, { 'flannel2calico.io/state': state })],
      [
        event('w-0', 'Migrated', 'migrated to Calico in 30.2 s: cordon 2.0 s, drain 27.5 s', '2026-01-01T10:01:30Z'),
        event('w-0', 'Migrated', 'not a summary', '2026-01-01T10:01:31Z'),
      ],
      [],
      ['w-0'],
    );
    expect(reports).toHaveLength(1);
    expect(reports[0].steps.map((s) => [s.step, s.startedAt, s.finishedAt, s.durationMs, s.source])).toEqual([
      ['cordon', '2026-01-01T10:01:00.500Z', '2026-01-01T10:01:02.500Z', 2000, 'event'],
      ['drain', '2026-01-01T10:01:02.500Z', '2026-01-01T10:01:30.000Z', 27500, 'event'],
    ]);
    expect(reports[0].network).toBe('calico');
  });

  it('times a step the audit log covers from it, the others from the Migrated Event', () => {
    const audit: AuditEntry[] = [
      { time: '2026-01-01T10:01:10.000Z', run: 'r', type: 'event', event: 'step-start', node: 'w-0', step: 'drain' },
      {
        time: '2026-01-01T10:01:29.250Z',
        run: 'r',
        type: 'event',
        event: 'step-done',
        node: 'w-0',
        step: 'drain',
        elapsedMs: 19250,
      },
    ];
    const reports = nodeReports(
      [node('w-0', { [L]: 'calico' })],
      [event('w-0', 'Migrated', 'migrated to Calico in 30.0 s: cordon 2.0 s, drain 19.3 s', '2026-01-01T10:01:30Z')],
      audit,
      ['w-0'],
    );
    expect(reports[0].steps.map((s) => [s.step, s.durationMs, s.source])).toEqual([
      ['cordon', 2000, 'event'],
      ['drain', 19250, 'audit-log'],
    ]);
  });

  it('takes a step from the latest Migrated Event when the node was migrated twice', () => {
    const reports = nodeReports(
      [node('w-0', { [L]: 'calico' })],
      [
        event('w-0', 'Migrated', 'migrated to Calico in 9.0 s: cordon 1.0 s, uncordon 8.0 s', '2026-01-01T12:00:00Z'),
        event('w-0', 'Migrated', 'migrated to Calico in 3.0 s: cordon 1.0 s, uncordon 2.0 s', '2026-01-01T10:00:00Z'),
      ],
      [],
      ['w-0'],
    );
    expect(reports[0].steps.map((s) => [s.step, s.finishedAt, s.durationMs])).toEqual([
      ['cordon', '2026-01-01T11:59:52.000Z', 1000],
      ['uncordon', '2026-01-01T12:00:00.000Z', 8000],
    ]);
  });

  it("prefers the audit log's millisecond times, and keeps failures from both sources once", () => {
    const audit: AuditEntry[] = [
      {
        time: '2026-01-01T10:01:00.100Z',
        run: 'r1',
        command: 'migrate',
        type: 'event',
        event: 'step-start',
        node: 'w-1',
        step: 'cordon',
      },
      {
        time: '2026-01-01T10:01:00.350Z',
        run: 'r1',
        command: 'migrate',
        type: 'event',
        event: 'step-done',
        node: 'w-1',
        step: 'cordon',
        elapsedMs: 250,
      },
      {
        time: '2026-01-01T10:01:00.400Z',
        run: 'r1',
        command: 'migrate',
        type: 'event',
        event: 'step-start',
        node: 'w-1',
        step: 'drain',
      },
      {
        time: '2026-01-01T10:01:08.400Z',
        run: 'r1',
        command: 'migrate',
        type: 'event',
        event: 'node-failed',
        node: 'w-1',
        step: 'drain',
        message: 'PDB apps/api allows no disruption',
      },
      {
        time: '2026-01-01T10:01:00.500Z',
        run: 'r1',
        command: 'migrate',
        type: 'evicted',
        node: 'w-1',
        pod: 'apps/api-1',
      },
    ];
    const reports = nodeReports(
      [node('w-1', { [L]: 'flannel' }, {}, true)],
      [event('w-1', 'MigrationStepFailed', 'drain failed: PDB apps/api allows no disruption', '2026-01-01T10:01:08Z')],
      audit,
      ['w-1'],
    );
    const r = reports[0];
    expect(r.steps).toEqual([
      {
        step: 'cordon',
        title: 'cordon',
        startedAt: '2026-01-01T10:01:00.100Z',
        finishedAt: '2026-01-01T10:01:00.350Z',
        durationMs: 250,
        source: 'audit-log',
      },
    ]);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0].step).toBe('drain');
    expect(r.evictedPods).toEqual(['apps/api-1']);
    expect(r.finishedAt).toBeUndefined();
  });

  it('notes a node that revert moved back to flannel', () => {
    const reports = nodeReports(
      [node('w-0', { [L]: 'flannel' })],
      [
        event('w-0', 'Migrated', 'migrated to Calico in 1.0 s: uncordon 1.0 s', '2026-01-01T10:01:30Z'),
        event('w-0', 'Reverted', 'reverted to flannel in 2.0 s: uncordon 1.0 s, done 1.0 s', '2026-01-01T11:00:00Z'),
      ],
      [],
      ['w-0'],
    );
    expect(reports[0].revertedAt).toBe('2026-01-01T11:00:00Z');
    expect(
      renderMarkdown({
        schemaVersion: 1,
        kind: 'MigrationReport',
        generatedAt: '2026-01-01T12:00:00Z',
        cluster: { context: 'c', server: 's' },
        record,
        auditLog: { file: 'f', found: true, entries: 0, runs: [] },
        calico: { ipPools: [] },
        nodes: reports,
        timeByStep: {},
        changes: [],
        warnings: [],
      }),
    ).toMatch(/\| w-0 \| moved back to flannel \|/);
  });

  it('keeps only the runs of this migration, not dry runs or runs before it started', () => {
    const entries: AuditEntry[] = [
      {
        time: '2026-01-01T09:00:00Z',
        run: 'old',
        command: 'migrate',
        type: 'mutation',
        verb: 'patch',
        kind: 'Node',
        name: 'w-0',
        dryRun: false,
        outcome: 'ok',
      },
      {
        time: '2026-01-01T10:00:01Z',
        run: 'dry',
        command: 'migrate',
        type: 'mutation',
        verb: 'patch',
        kind: 'Node',
        name: 'w-0',
        dryRun: true,
        outcome: 'ok',
      },
      {
        time: '2026-01-01T09:59:59Z',
        run: 'real',
        command: 'migrate',
        type: 'mutation',
        verb: 'apply',
        kind: 'IPPool',
        name: 'default-ipv4-ippool',
        dryRun: false,
        outcome: 'ok',
      },
      {
        time: '2026-01-01T10:00:02Z',
        run: 'real',
        command: 'migrate',
        type: 'mutation',
        verb: 'patch',
        kind: 'Node',
        name: 'w-0',
        dryRun: false,
        outcome: 'ok',
      },
      {
        time: '2026-01-01T10:00:03Z',
        run: 'real',
        command: 'migrate',
        type: 'mutation',
        verb: 'patch',
        kind: 'Node',
        name: 'w-1',
        dryRun: false,
        outcome: 'ok',
      },
    ];
    const kept = entriesOfMigration(entries, record, new Set(['w-0', 'w-1']));
    expect(kept.map((e) => e.run)).toEqual(['real', 'real', 'real']);
    expect(summariseChanges(kept)).toEqual([
      { verb: 'patch', kind: 'Node', count: 2, examples: ['w-0', 'w-1'] },
      { verb: 'apply', kind: 'IPPool', count: 1, examples: ['default-ipv4-ippool'] },
    ]);
    expect(entriesOfMigration(entries, undefined, new Set())).toEqual([]);
  });
});

describe('report: rendering', () => {
  const reports = nodeReports(
    [node('w-0', { [L]: 'calico' })],
    [
      event(
        'w-0',
        'Migrated',
        'migrated to Calico in 60.0 s: cordon 2.0 s, drain 28.0 s, uncordon 30.0 s',
        '2026-01-01T10:02:00Z',
      ),
    ],
    [],
    ['w-0'],
  );
  const report = {
    schemaVersion: 1,
    kind: 'MigrationReport' as const,
    generatedAt: '2026-01-01T11:00:00Z',
    cluster: { context: 'ctx', server: 'https://127.0.0.1:6443' },
    record,
    auditLog: { file: '/tmp/none.ndjson', found: false, entries: 0, runs: [] },
    calico: { ipPools: [{ name: 'default-ipv4-ippool', cidr: '10.244.0.0/16', blockSize: 26, vxlanMode: 'Always' }] },
    nodes: reports,
    timeByStep: { drain: 28000, uncordon: 30000 },
    changes: [],
    warnings: ['something <odd> | happened'],
  };

  it('writes a Markdown report with the node table, the step times and the warnings', () => {
    const md = renderMarkdown(report, 'timeline.svg');
    expect(md).toMatch(/^# Migration report: flannel → Calico/);
    expect(md).toContain('![Timeline: a row per node, a colour per step](timeline.svg)');
    expect(md).toMatch(/\| w-0 \| Calico \|/);
    expect(md).toContain('drain 10:01:30');
    expect(md).toContain('default-ipv4-ippool');
    expect(md).toContain('something <odd> \\| happened');
  });

  it('draws one row per node and one coloured bar per step, escaping names', () => {
    const svg = renderTimelineSvg({ ...report, nodes: [...reports, { ...reports[0], name: 'a<b' }] });
    expect(svg.match(/<g class="node"/g)).toHaveLength(2);
    expect(svg.match(/class="step" data-step="drain"/g)).toHaveLength(2);
    expect(svg).toContain('a&lt;b');
    expect(svg).not.toContain('a<b');
  });

  it('says plainly when no migration is recorded', () => {
    expect(renderMarkdown({ ...report, record: null, nodes: [] })).toMatch(/No migration is recorded in this cluster/);
  });
});
