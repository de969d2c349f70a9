/**
 * `flannel2calico report` after a real migration of a 3-node test bed: every figure in the report is
 * checked against what the cluster recorded (migration record, node labels, each node's Migrated Event) and the
 * audit log the migration wrote.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  fixturesDir,
  installFlannel,
  installWorkloads,
  kubectlJson,
  scaleDeployment,
  startTestbed,
  waitForPdb,
  type Testbed,
} from '../testbed/harness.js';

const MIGRATION_LABEL = 'projectcalico.org/node-network-during-migration';
const calicoManifest = path.join(fixturesDir, 'calico-v3.32.1/flannel-migration-calico.yaml');
const STEP_TITLES: Record<string, string> = {
  cordon: 'cordon',
  drain: 'drain',
  'stop-flannel': 'stop flannel (label network=none)',
  'host-cleanup': 'remove flannel from the host',
  'start-calico': 'start calico-node (label network=calico)',
  probe: 'prove pod connectivity',
  uncordon: 'uncordon',
};

/** The steps a Migrated Event's message lists (`migrated to Calico in 15.1 s: cordon 0.1 s, drain 6.1 s, …`). */
function listedSteps(message: string): Array<{ title: string; ms: number }> {
  const match = /^migrated to Calico in \d+\.\d s: (.*)$/.exec(message);
  expect(match).not.toBeNull();
  return match![1].split(', ').map((item) => {
    const step = /^(.+) (\d+\.\d) s$/.exec(item);
    expect(step).not.toBeNull();
    return { title: step![1], ms: Math.round(Number(step![2]) * 1000) };
  });
}

interface EventJson {
  involvedObject: { kind: string; name: string };
  reason: string;
  message: string;
  firstTimestamp: string;
}
interface ReportJson {
  kind: string;
  record: { phase: string; nodeOrder: string[]; startedAt: string } | null;
  auditLog: { found: boolean; entries: number };
  calico: { ipPools: Array<{ name: string; cidr: string }> };
  nodes: Array<{
    name: string;
    network: string;
    cordoned: boolean;
    steps: Array<{ step: string; finishedAt: string; startedAt?: string; durationMs?: number; source: string }>;
    evictedPods: string[];
  }>;
  timeByStep: Record<string, number>;
  changes: Array<{ verb: string; kind: string; count: number }>;
  warnings: string[];
}

describe('report after migrating a 3-node cluster', () => {
  let tb: Testbed;
  let dir = '';
  let log = '';

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-report-'));
    log = path.join(dir, 'audit.ndjson');
    tb = await startTestbed({ nodes: 3, controlPlane: 1 });
    await installFlannel(tb);
    await installWorkloads(tb);
    await scaleDeployment(tb, 'apps', 'api', 3);
    await waitForPdb(tb, 'apps', 'api');
    const r = tb.cli(
      [
        'migrate',
        '--yes',
        '--no-finalize',
        '--force',
        '--delete-emptydir-data',
        '--calico-manifest',
        calicoManifest,
        '--log-file',
        log,
      ],
      { timeoutMs: 300_000 },
    );
    if (r.status !== 0) throw new Error(`migrate failed (${r.status}): ${r.stderr}`);
  }, 420_000);

  afterAll(async () => {
    await tb?.down();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Each node's Migrated Event: the one Event a node gets when its migration finishes. */
  function migratedEvents(): EventJson[] {
    return kubectlJson<{ items: EventJson[] }>(tb, [
      'get',
      'events',
      '-n',
      'default',
      '-l',
      'app.kubernetes.io/managed-by=flannel2calico',
      '-o',
      'json',
    ]).items.filter((e) => e.involvedObject.kind === 'Node' && e.reason === 'Migrated');
  }

  function migratedEventOf(node: string): EventJson {
    const own = migratedEvents().filter((e) => e.involvedObject.name === node);
    expect(own).toHaveLength(1);
    return own[0];
  }

  it('-o json: each node, its steps and its state as the cluster and the audit log recorded them', () => {
    const r = tb.cli(['report', '-o', 'json', '--log-file', log]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as ReportJson;
    const record = JSON.parse(
      kubectlJson<{ data: { record: string } }>(tb, [
        'get',
        'configmap',
        '-n',
        'kube-system',
        'flannel2calico-state',
        '-o',
        'json',
      ]).data.record,
    );
    expect(report.record).toMatchObject({
      phase: record.phase,
      nodeOrder: record.nodeOrder,
      startedAt: record.startedAt,
    });
    expect(report.nodes.map((n) => n.name).sort()).toEqual([...tb.nodeNames].sort());

    const nodes = kubectlJson<{
      items: Array<{ metadata: { name: string; labels: Record<string, string> }; spec: { unschedulable?: boolean } }>;
    }>(tb, ['get', 'nodes', '-o', 'json']).items;
    for (const node of report.nodes) {
      const live = nodes.find((n) => n.metadata.name === node.name)!;
      expect(node.network).toBe(live.metadata.labels[MIGRATION_LABEL]);
      expect(node.cordoned).toBe(live.spec.unschedulable === true);
      // One run moved each node: its Migrated Event lists every step, and the report's steps are exactly those.
      const event = migratedEventOf(node.name);
      const listed = listedSteps(event.message);
      expect(listed.map((l) => l.title)).toEqual(Object.values(STEP_TITLES));
      expect(node.steps.map((s) => STEP_TITLES[s.step])).toEqual(listed.map((l) => l.title));
      // With the audit log, every step is timed from it: the same duration as the Event lists (to its tenth of a
      // second), and the Event written as the last step ended.
      node.steps.forEach((step, i) => {
        expect(step.source).toBe('audit-log');
        expect(step.durationMs).toBeGreaterThanOrEqual(0);
        expect(Math.abs(step.durationMs! - listed[i].ms)).toBeLessThanOrEqual(51);
      });
      const last = node.steps[node.steps.length - 1];
      expect(Math.abs(Date.parse(event.firstTimestamp) - Date.parse(last.finishedAt))).toBeLessThan(1500);
      const finished = node.steps.map((s) => s.finishedAt);
      expect(finished).toEqual([...finished].sort());
    }
    expect(report.nodes.flatMap((n) => n.evictedPods).length).toBeGreaterThan(0);
    expect(report.changes).toEqual(expect.arrayContaining([expect.objectContaining({ verb: 'evict', kind: 'Pod' })]));
    expect(report.calico.ipPools.map((p) => p.cidr)).toEqual(['10.244.0.0/16']);
    expect(report.warnings).toEqual([]);
  });

  it('--out-dir: a Markdown report and an SVG timeline with a row per node and a bar per step', () => {
    const out = path.join(dir, 'report');
    const r = tb.cli(['report', '--out-dir', out, '--log-file', log]);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(path.join(out, 'report.md'));
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    const svg = fs.readFileSync(path.join(out, 'timeline.svg'), 'utf8');
    const json = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as ReportJson;
    expect(md).toMatch(/Phase: \*\*migrating\*\*; 3 of 3 node\(s\) run Calico/);
    for (const name of tb.nodeNames) expect(md).toMatch(new RegExp(`^\\| ${name} \\| Calico \\|`, 'm'));
    expect(md).toContain('![Timeline: a row per node, a colour per step](timeline.svg)');
    expect(md).toMatch(/## Where time went[\s\S]*\| drain \|/);
    expect(svg.match(/<g class="node"/g)).toHaveLength(3);
    const bars = svg.match(/class="step" data-step="[a-z-]+"/g) ?? [];
    expect(bars).toHaveLength(
      json.nodes.reduce((n, node) => n + node.steps.filter((s) => s.step !== 'done').length, 0),
    );
  });

  it("without the audit log: times from the cluster's Events, and a warning that says so", () => {
    const r = tb.cli(['report', '-o', 'json', '--log-file', path.join(dir, 'elsewhere.ndjson')]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as ReportJson;
    expect(report.auditLog.found).toBe(false);
    for (const node of report.nodes) {
      expect(node.steps.every((s) => s.source === 'event')).toBe(true);
      // Each step as the node's Migrated Event lists it, placed back from the Event's time by the durations listed.
      const event = migratedEventOf(node.name);
      const listed = listedSteps(event.message);
      expect(node.steps.map((s) => [STEP_TITLES[s.step], s.durationMs])).toEqual(listed.map((l) => [l.title, l.ms]));
      expect(Date.parse(node.steps[node.steps.length - 1].finishedAt)).toBe(Date.parse(event.firstTimestamp));
      node.steps.forEach((step, i) => {
        expect(Date.parse(step.finishedAt) - Date.parse(step.startedAt!)).toBe(step.durationMs);
        if (i > 0) expect(step.startedAt).toBe(node.steps[i - 1].finishedAt);
      });
    }
    expect(report.warnings.join('\n')).toMatch(/no audit log at .*elsewhere\.ndjson/);
  });
});
