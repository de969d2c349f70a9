import { describe, expect, it } from '@jest/globals';
import { buildPlan } from '../../src/plan/planner.js';
import { PlanFileError, parsePlanFile, planProblems } from '../../src/plan/plan-file.js';
import { detection, smallCluster, snapshot } from './plan-fixtures.js';

const nodes = smallCluster();
const plan = buildPlan(snapshot({ nodes, serviceCidrs: ['10.96.0.0/12'] }), detection(nodes), {
  now: new Date('2026-02-03T04:05:06Z'),
});
const text = JSON.stringify(plan, null, 2);

function problemsOf(edit: (p: any) => void): string[] {
  const copy = JSON.parse(text);
  edit(copy);
  return planProblems(copy);
}

describe('saved plan validation', () => {
  it('accepts a plan as `plan --out` writes it', () => {
    expect(planProblems(JSON.parse(text))).toEqual([]);
    expect(parsePlanFile(text, 'plan.json').nodes).toHaveLength(plan.nodes.length);
  });

  it('refuses an empty, truncated or non-JSON file, naming the file', () => {
    expect(() => parsePlanFile('', 'p.json')).toThrow(/p\.json .*the file is empty/);
    expect(() => parsePlanFile(text.slice(0, text.length / 2), 'p.json')).toThrow(/not valid JSON.*truncated/);
    expect(() => parsePlanFile('[1,2]', 'p.json')).toThrow(PlanFileError);
  });

  it('refuses a plan with the right apiVersion and kind but no body, listing what is missing', () => {
    const problems = planProblems({ apiVersion: 'flannel2calico/v1', kind: 'Plan' });
    expect(problems).toEqual(
      expect.arrayContaining([
        'cluster is missing',
        'nodes is missing or empty',
        'drain is missing',
        'calico is missing',
      ]),
    );
  });

  it('refuses a foreign document', () => {
    expect(planProblems({ apiVersion: 'v1', kind: 'ConfigMap' })[0]).toMatch(
      /apiVersion\/kind must be flannel2calico\/v1 Plan/,
    );
  });

  it('notices a hand-edited fingerprint (state hash no longer matches)', () => {
    expect(
      problemsOf((p) => {
        p.cluster.fingerprint['node/extra'] = 'x=1';
      }),
    ).toEqual(['cluster.fingerprint does not match cluster.stateHash (the file was edited)']);
  });

  it('checks every field the engine reads', () => {
    expect(
      problemsOf((p) => {
        delete p.nodes[0].ipam;
      })[0],
    ).toMatch(/nodes\[0\] \(.+\)\.ipam/);
    expect(
      problemsOf((p) => {
        p.batches.push(['ghost']);
      }),
    ).toContain('batches names node ghost, which nodes does not plan');
    expect(
      problemsOf((p) => {
        p.drain.timeoutSeconds = 0;
      }),
    ).toContain('drain.timeoutSeconds must be a whole number of seconds above 0');
    expect(
      problemsOf((p) => {
        p.calico.pools = [];
      }),
    ).toContain('calico.pools is missing or empty');
    expect(
      problemsOf((p) => {
        p.nodes[0].pods = [{ name: 'x' }];
      })[0],
    ).toMatch(/pods must list pods/);
    expect(
      problemsOf((p) => {
        p.flannelDaemonSet = {};
      }),
    ).toContain('flannelDaemonSet.name/namespace is missing');
    expect(
      problemsOf((p) => {
        p.batches = p.batches.slice(1);
      }).some((m) => /is in no batch|not an index/.test(m)),
    ).toBe(true);
  });
});
