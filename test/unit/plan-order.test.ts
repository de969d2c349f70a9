import { describe, expect, it } from '@jest/globals';
import type { V1Node } from '../../src/cluster/index.js';
import {
  PlanInputError,
  batchSize,
  compareNames,
  isControlPlane,
  makeBatches,
  orderNodes,
  parseMaxParallel,
} from '../../src/plan/order.js';
import { buildPlan } from '../../src/plan/planner.js';
import { detection, node, random, snapshot } from './plan-fixtures.js';

describe('parseMaxParallel and batchSize', () => {
  it('accepts N and N%', () => {
    expect(parseMaxParallel('3')).toEqual({ value: 3, percent: false });
    expect(parseMaxParallel('25%')).toEqual({ value: 25, percent: true });
    expect(parseMaxParallel(undefined)).toEqual({ value: 1, percent: false });
  });

  it.each(['0', '0%', '-1', '1.5', 'abc', '101%', '%', '', '5 %'])('rejects %p', (raw) => {
    expect(() => parseMaxParallel(raw)).toThrow(PlanInputError);
  });

  it('rounds percentages up and never goes below one node', () => {
    expect(batchSize(parseMaxParallel('25%'), 10)).toBe(3);
    expect(batchSize(parseMaxParallel('10%'), 10)).toBe(1);
    expect(batchSize(parseMaxParallel('1%'), 3)).toBe(1);
    expect(batchSize(parseMaxParallel('34%'), 3)).toBe(2);
    expect(batchSize(parseMaxParallel('100%'), 7)).toBe(7);
    expect(batchSize(parseMaxParallel('50%'), 0)).toBe(1);
    expect(batchSize(parseMaxParallel('4'), 2)).toBe(4);
  });

  it('a percentage batch is ceil(p * n / 100) for every p and n', () => {
    const wrong: string[] = [];
    for (let n = 1; n <= 60; n++) {
      for (let p = 1; p <= 100; p++) {
        const size = batchSize({ value: p, percent: true }, n);
        // smallest whole number of nodes covering p% of n, and at least one
        const ok = size >= 1 && size * 100 >= p * n && (size === 1 || (size - 1) * 100 < p * n);
        if (!ok) wrong.push(`${p}% of ${n} -> ${size}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('compareNames', () => {
  it('orders numbers inside names naturally and is total', () => {
    const names = ['node-10', 'node-2', 'node-1', 'a', 'node-02', 'Node-3', 'node-1a', 'node-1b'];
    const sorted = [...names].sort(compareNames);
    expect(sorted).toEqual(['Node-3', 'a', 'node-1', 'node-1a', 'node-1b', 'node-02', 'node-2', 'node-10']);
    for (const a of names)
      for (const b of names) expect(Math.sign(compareNames(a, b))).toBe(-Math.sign(compareNames(b, a)) || 0);
  });
});

describe('isControlPlane', () => {
  const labelled = (labels: Record<string, string>): V1Node => ({ metadata: { name: 'n', labels } });
  it("knows kubeadm's labels, the older master label and Rancher RKE's controlplane label", () => {
    expect(isControlPlane(labelled({ 'node-role.kubernetes.io/control-plane': '' }))).toBe(true);
    expect(isControlPlane(labelled({ 'node-role.kubernetes.io/master': '' }))).toBe(true);
    expect(
      isControlPlane(
        labelled({ 'node-role.kubernetes.io/controlplane': 'true', 'node-role.kubernetes.io/etcd': 'true' }),
      ),
    ).toBe(true);
  });

  it('takes other roles for workers', () => {
    expect(
      isControlPlane(labelled({ 'node-role.kubernetes.io/worker': 'true', 'node-role.kubernetes.io/etcd': 'true' })),
    ).toBe(false);
    expect(isControlPlane(labelled({}))).toBe(false);
  });
});

describe('orderNodes and makeBatches', () => {
  const nodes = [
    { name: 'cp-2', role: 'control-plane' as const },
    { name: 'worker-10', role: 'worker' as const },
    { name: 'cp-1', role: 'control-plane' as const },
    { name: 'worker-2', role: 'worker' as const },
    { name: 'worker-1', role: 'worker' as const },
  ];

  it('puts workers first in natural order, control-plane nodes last', () => {
    expect(orderNodes(nodes).map((n) => n.name)).toEqual(['worker-1', 'worker-2', 'worker-10', 'cp-1', 'cp-2']);
  });

  it('batches workers N at a time and each control-plane node alone', () => {
    expect(makeBatches(orderNodes(nodes), 2)).toEqual([['worker-1', 'worker-2'], ['worker-10'], ['cp-1'], ['cp-2']]);
    expect(makeBatches(orderNodes(nodes), 10)).toEqual([['worker-1', 'worker-2', 'worker-10'], ['cp-1'], ['cp-2']]);
  });

  it('gives the same order whatever order the API listed the nodes in', () => {
    const rnd = random(42);
    const expected = orderNodes(nodes).map((n) => n.name);
    for (let i = 0; i < 20; i++) {
      const shuffled = [...nodes].sort(() => rnd() - 0.5);
      expect(orderNodes(shuffled).map((n) => n.name)).toEqual(expected);
    }
  });
});

describe('buildPlan order and batches', () => {
  const nodes = [
    node('master-a', { podCIDR: '10.244.0.0/24', controlPlane: 'master' }),
    node('cp-b', { podCIDR: '10.244.9.0/24', controlPlane: true }),
    ...Array.from({ length: 7 }, (_, i) => node(`w${7 - i}`, { podCIDR: `10.244.${7 - i}.0/24` })),
  ];
  const det = detection(nodes);

  it('orders workers by name, then control-plane nodes (either role label), one per batch', () => {
    const plan = buildPlan(snapshot({ nodes }), det, { maxParallel: '3' });
    expect(plan.batches).toEqual([['w1', 'w2', 'w3'], ['w4', 'w5', 'w6'], ['w7'], ['cp-b'], ['master-a']]);
    expect(plan.nodes.map((n) => n.name)).toEqual(['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'cp-b', 'master-a']);
    expect(plan.nodes.filter((n) => n.role === 'control-plane').map((n) => n.name)).toEqual(['cp-b', 'master-a']);
    for (const n of plan.nodes) expect(plan.batches[n.batch]).toContain(n.name);
    expect(plan.maxParallel).toBe('3');
  });

  it('takes a percentage of the workers, rounded up, and defaults to one at a time', () => {
    expect(buildPlan(snapshot({ nodes }), det, { maxParallel: '30%' }).batches.slice(0, 3)).toEqual([
      ['w1', 'w2', 'w3'],
      ['w4', 'w5', 'w6'],
      ['w7'],
    ]);
    const one = buildPlan(snapshot({ nodes }), det);
    expect(one.batches).toHaveLength(9);
    expect(one.batches.every((b) => b.length === 1)).toBe(true);
    expect(one.maxParallel).toBe('1');
    expect(buildPlan(snapshot({ nodes }), det, { maxParallel: '100%' }).batches).toEqual([
      ['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7'],
      ['cp-b'],
      ['master-a'],
    ]);
  });

  it('plans only the --nodes given, keeping the order rules', () => {
    const plan = buildPlan(snapshot({ nodes }), det, { nodes: ['cp-b', 'w5', 'w2'], maxParallel: '5' });
    expect(plan.nodes.map((n) => n.name)).toEqual(['w2', 'w5', 'cp-b']);
    expect(plan.batches).toEqual([['w2', 'w5'], ['cp-b']]);
  });

  it('refuses unknown --nodes and bad --max-parallel as input errors', () => {
    expect(() => buildPlan(snapshot({ nodes }), det, { nodes: ['w1', 'nope'] })).toThrow(/no such node: nope/);
    expect(() => buildPlan(snapshot({ nodes }), det, { maxParallel: '0' })).toThrow(PlanInputError);
  });
});
