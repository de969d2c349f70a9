import { describe, expect, it } from '@jest/globals';
import { narrowPlan } from '../../src/plan/narrow.js';
import { PlanInputError } from '../../src/plan/order.js';
import { buildPlan } from '../../src/plan/planner.js';
import { detection, smallCluster, snapshot } from './plan-fixtures.js';

const nodes = smallCluster();
const saved = buildPlan(snapshot({ nodes }), detection(nodes), { maxParallel: '1', drainTimeoutSeconds: 600 });

describe('narrowPlan: flags typed with a saved plan', () => {
  it('applies the saved plan unchanged when no flag was typed', () => {
    const { plan, applied } = narrowPlan(saved, {});
    expect(plan.batches).toEqual([['worker-1'], ['worker-2'], ['worker-3'], ['cp-1']]);
    expect(plan.nodes.map((n) => n.name)).toEqual(saved.nodes.map((n) => n.name));
    expect(applied).toEqual([]);
  });

  it("--nodes keeps only those nodes, in the plan's order", () => {
    const { plan, applied } = narrowPlan(saved, { nodes: ['worker-2'] });
    expect(plan.batches).toEqual([['worker-2']]);
    expect(plan.nodes.map((n) => n.name)).toEqual(['worker-2']);
    expect(plan.nodes[0].batch).toBe(0);
    expect(applied[0]).toMatch(/--nodes: 1 of the plan's 4 node\(s\): worker-2/);
    // The drift check still compares against the whole saved plan's cluster state.
    expect(plan.cluster).toBe(saved.cluster);
    expect(narrowPlan(saved, { nodes: ['cp-1', 'worker-1'] }).plan.batches).toEqual([['worker-1'], ['cp-1']]);
  });

  it('--nodes naming a node the plan does not have is refused, naming it', () => {
    expect(() => narrowPlan(saved, { nodes: ['worker-1', 'worker-9'] }, 'plan.json')).toThrow(PlanInputError);
    expect(() => narrowPlan(saved, { nodes: ['worker-9'] }, 'plan.json')).toThrow(
      /--nodes: worker-9 is not in plan\.json \(its nodes: worker-1, worker-2, worker-3, cp-1\)/,
    );
  });

  it("--max-parallel re-batches the remaining nodes with the planner's rules (control plane last and alone)", () => {
    expect(narrowPlan(saved, { maxParallel: '2' }).plan.batches).toEqual([
      ['worker-1', 'worker-2'],
      ['worker-3'],
      ['cp-1'],
    ]);
    expect(narrowPlan(saved, { maxParallel: '100%' }).plan.batches).toEqual([
      ['worker-1', 'worker-2', 'worker-3'],
      ['cp-1'],
    ]);
    const both = narrowPlan(saved, { nodes: ['worker-3', 'worker-1', 'cp-1'], maxParallel: '5' }).plan;
    expect(both.batches).toEqual([['worker-1', 'worker-3'], ['cp-1']]);
    expect(both.maxParallel).toBe('5');
    expect(() => narrowPlan(saved, { maxParallel: '0' })).toThrow(PlanInputError);
  });

  it("--drain-timeout replaces the plan's", () => {
    const { plan, applied } = narrowPlan(saved, { drainTimeoutSeconds: 30 });
    expect(plan.drain.timeoutSeconds).toBe(30);
    expect(saved.drain.timeoutSeconds).toBe(600);
    expect(applied).toEqual(["--drain-timeout: 30 s instead of the plan's 600 s"]);
  });

  it('--force, --delete-emptydir-data and --grace-period must match the plan, else refused', () => {
    expect(() => narrowPlan(saved, { force: true })).toThrow(
      /--force differs from the plan, which was made without it/,
    );
    expect(() => narrowPlan(saved, { deleteEmptyDirData: true })).toThrow(PlanInputError);
    expect(() => narrowPlan(saved, { gracePeriodSeconds: 30 })).toThrow(/--grace-period 30 differs/);
    expect(narrowPlan(saved, { force: false, deleteEmptyDirData: false, gracePeriodSeconds: -1 }).applied).toEqual([]);
  });

  it('a migration setting typed as a flag must match the plan, else refused', () => {
    const vni = saved.settings.flannelVni.value;
    expect(() =>
      narrowPlan(saved, { settings: [{ key: 'flannelVni', flag: '--flannel-vni', value: 4096 }] }, 'plan.json'),
    ).toThrow(`--flannel-vni 4096 differs from plan.json, made with ${String(vni)}`);
    expect(narrowPlan(saved, { settings: [{ key: 'flannelVni', flag: '--flannel-vni', value: vni }] }).applied).toEqual(
      [],
    );
  });
});
