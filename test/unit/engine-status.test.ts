import { describe, expect, it } from '@jest/globals';
import { Chalk } from 'chalk';
import type { KubeObject } from '../../src/cluster/index.js';
import { buildStatus, type StatusSnapshot } from '../../src/engine/status.js';
import { NODE_STEPS } from '../../src/engine/events.js';
import type { MigrationRecord, NodeMigrationState } from '../../src/engine/state.js';
import { renderNodeText, renderStatusText } from '../../src/cli/status-render.js';

const LABEL = 'projectcalico.org/node-network-during-migration';
const now = new Date('2026-01-01T12:00:00Z');
const ago = (s: number) => new Date(now.getTime() - s * 1000).toISOString();

function node(name: string, network?: string, state?: Partial<NodeMigrationState>, unschedulable = false): KubeObject {
  const full = state
    ? { step: 'cordon', completed: [], wasUnschedulable: false, startedAt: ago(600), updatedAt: ago(60), ...state }
    : undefined;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: network ? { [LABEL]: network } : {},
      annotations: full ? { 'flannel2calico.io/state': JSON.stringify(full) } : {},
    },
    spec: { unschedulable },
  };
}

function pod(nodeName: string, ready: boolean): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `p-${nodeName}` },
    spec: { nodeName },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

const record: MigrationRecord = {
  phase: 'migrating',
  planHash: 'h',
  flavour: 'flannel',
  flannelDaemonSet: { name: 'kube-flannel-ds', namespace: 'kube-flannel' },
  calicoDaemonSet: 'calico-node',
  settings: {},
  nodeOrder: [],
  startedAt: ago(3600),
  updatedAt: ago(10),
};
const lease = (renewedSecondsAgo: number): KubeObject => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name: 'flannel2calico' },
  spec: { holderIdentity: 'ops@host/pid-1', leaseDurationSeconds: 30, renewTime: ago(renewedSecondsAgo) },
});
const done = [
  'cordon',
  'drain',
  'stop-flannel',
  'host-cleanup',
  'start-calico',
  'probe',
  'uncordon',
  'done',
] as NodeMigrationState['completed'];

function snapshot(over: Partial<StatusSnapshot>): StatusSnapshot {
  return { now, nodes: [], ...over };
}

describe('buildStatus', () => {
  it('reports a cluster the tool never touched as not started, with plan as the next step', () => {
    const doc = buildStatus(snapshot({ nodes: [node('a'), node('b')] }));
    expect(doc.phase).toBe('not-started');
    expect(doc.next).toBe('flannel2calico plan');
    expect(doc.nodes.map((n) => [n.name, n.network, n.condition, n.step])).toEqual([
      ['a', 'flannel', 'pending', null],
      ['b', 'flannel', 'pending', null],
    ]);
    expect(doc.lock).toBeNull();
    expect(doc.eta).toBeNull();
  });

  it('names the node, step and error a stopped run stopped at, and puts failed nodes first', () => {
    const doc = buildStatus(
      snapshot({
        record,
        nodes: [
          node('a-done', 'calico', { step: 'done', completed: done, startedAt: ago(100), updatedAt: ago(90) }),
          node('b-pending', 'flannel'),
          node('c-failed', 'flannel', { step: 'drain', completed: ['cordon'], error: 'PDB web blocks' }, true),
        ],
        flannelPods: [pod('b-pending', true), pod('c-failed', false)],
        calicoPods: [pod('a-done', true)],
      }),
    );
    expect(doc.phase).toBe('stopped');
    expect(doc.stoppedAt).toEqual({ node: 'c-failed', step: 'drain', error: 'PDB web blocks' });
    expect(doc.nodes.map((n) => n.name)).toEqual(['c-failed', 'b-pending', 'a-done']);
    const failed = doc.nodes[0];
    expect(failed).toMatchObject({
      condition: 'failed',
      cordoned: true,
      flannelPod: 'not-ready',
      calicoPod: 'absent',
      lastError: 'PDB web blocks',
      next: 'flannel2calico migrate --nodes c-failed',
      completedSteps: ['cordon'],
      since: ago(60),
    });
    expect(doc.nodes[2]).toMatchObject({
      condition: 'migrated',
      network: 'calico',
      step: 'done',
      calicoPod: 'ready',
      flannelPod: 'absent',
      next: null,
    });
    expect(doc.counts).toMatchObject({ total: 3, flannel: 2, calico: 1, failed: 1, pending: 1, migrated: 1 });
    // one finished node took 10 s; two are left
    expect(doc.eta).toEqual({ remainingNodes: 2, secondsPerNode: 10, seconds: 20, measuredNodes: 1 });
  });

  it('shows an active lock holder and in-progress nodes; a lease that stopped renewing is stale', () => {
    const nodes = [node('a', 'none', { step: 'host-cleanup', completed: ['cordon', 'drain', 'stop-flannel'] })];
    const active = buildStatus(snapshot({ record, lease: lease(5), nodes }));
    expect(active.phase).toBe('migrating');
    expect(active.lock).toEqual({ holder: 'ops@host/pid-1', renewedAt: ago(5), active: true });
    expect(active.nodes[0]).toMatchObject({ condition: 'in-progress', network: 'none', next: null });
    expect(active.next).toBeNull();
    const stale = buildStatus(snapshot({ record, lease: lease(300), nodes }));
    expect(stale.lock?.active).toBe(false);
    expect(stale.phase).toBe('stopped');
    expect(stale.nodes[0]).toMatchObject({ condition: 'stopped', next: 'flannel2calico migrate --nodes a' });
  });

  it('tells every node on Calico from finalized, and reverting from migrating', () => {
    const all = [
      node('a', 'calico', { step: 'done', completed: done }),
      node('b', 'calico', { step: 'done', completed: done }),
    ];
    expect(buildStatus(snapshot({ record, nodes: all })).phase).toBe('all-calico');
    expect(buildStatus(snapshot({ record, nodes: all })).next).toBe('flannel2calico migrate --finalize');
    const finalized = buildStatus(
      snapshot({ record: { ...record, phase: 'finalized' }, nodes: [node('a'), node('b')] }),
    );
    expect(finalized.phase).toBe('finalized');
    expect(finalized.nodes.every((n) => n.network === 'calico' && n.next === null)).toBe(true);
    const reverting = buildStatus(
      snapshot({
        record,
        lease: lease(1),
        nodes: [
          node('a', 'none', {
            operation: 'revert',
            step: 'host-revert',
            completed: ['cordon', 'drain', 'stop-calico'],
          }),
          all[1],
        ],
      }),
    );
    expect(reverting.phase).toBe('reverting');
    expect(reverting.nodes[0]).toMatchObject({ operation: 'revert', step: 'host-revert', condition: 'in-progress' });
    const reverted = buildStatus(
      snapshot({
        record,
        nodes: [node('a', 'flannel', { operation: 'revert', step: 'done', completed: ['done'] }), all[1]],
      }),
    );
    expect(reverted.nodes.find((n) => n.name === 'a')).toMatchObject({
      condition: 'reverted',
      step: 'done',
      next: 'flannel2calico migrate --nodes a',
    });
  });

  it('gives a node its history from the Events, oldest first: a failed step, then the run that finished it', () => {
    const event = (t: number, reason: string, message: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `e${t}` },
      involvedObject: { kind: 'Node', name: 'a' },
      reason,
      message,
      type: reason.endsWith('Failed') ? 'Warning' : 'Normal',
      lastTimestamp: ago(t),
    });
    const migrated = 'migrated to Calico in 9.4 s: drain 6.1 s, stop flannel (label network=none) 3.3 s';
    const doc = buildStatus(
      snapshot({
        record,
        nodes: [node('a', 'calico', { step: 'done', completed: [...NODE_STEPS] })],
        events: [event(10, 'Migrated', migrated), event(20, 'MigrationStepFailed', 'drain failed: x')],
      }),
    );
    expect(doc.nodes[0].history?.map((h) => [h.type, h.reason])).toEqual([
      ['Warning', 'MigrationStepFailed'],
      ['Normal', 'Migrated'],
    ]);
    const text = renderNodeText(doc, new Chalk({ level: 0 }));
    expect(text).toMatch(
      /MigrationStepFailed {2}drain failed: x\n.*Migrated {2}migrated to Calico in 9\.4 s: drain 6\.1 s, /,
    );
    expect(text).toContain('✔ uncordon');
  });

  it('renders groups in order and cuts quiet groups short', () => {
    const nodes = [
      node('bad', 'flannel', { step: 'drain', completed: ['cordon'], error: 'boom' }),
      ...Array.from({ length: 30 }, (_, i) =>
        node(`w${String(i).padStart(2, '0')}`, 'calico', { step: 'done', completed: done }),
      ),
    ];
    const text = renderStatusText(buildStatus(snapshot({ record, nodes })), new Chalk({ level: 0 }));
    expect(text.indexOf('Failed (1)')).toBeLessThan(text.indexOf('On Calico (30)'));
    expect(text).toContain('… and 10 more');
    expect(text).toContain('next: flannel2calico migrate --nodes bad');
  });
});
