import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../src/cluster/index.js';
import { needsRevert } from '../../src/engine/revert.js';
import { stateFor } from '../../src/engine/state.js';
import { wasUnschedulableBefore } from '../../src/engine/cluster-before.js';

const LABEL = 'projectcalico.org/node-network-during-migration';

function node(label: string | undefined, state?: Record<string, unknown>, unschedulable = false): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: 'n',
      labels: label ? { [LABEL]: label } : {},
      annotations: state
        ? {
            'flannel2calico.io/state': JSON.stringify({
              step: 'cordon',
              completed: [],
              wasUnschedulable: false,
              startedAt: '',
              updatedAt: '',
              ...state,
            }),
          }
        : {},
    },
    spec: { unschedulable },
  };
}

describe('which nodes a revert touches', () => {
  it('every node off flannel, or with an unfinished operation; not untouched or reverted nodes', () => {
    expect(needsRevert(node(undefined))).toBe(false);
    expect(needsRevert(node('flannel'))).toBe(false);
    expect(needsRevert(node('calico', { step: 'done', completed: ['done'] }))).toBe(true);
    expect(needsRevert(node('none', { step: 'stop-flannel', completed: ['cordon', 'drain', 'stop-flannel'] }))).toBe(
      true,
    );
    expect(needsRevert(node('flannel', { step: 'drain', completed: ['cordon'], error: 'PDB' }))).toBe(true);
    expect(needsRevert(node('flannel', { operation: 'revert', step: 'done', completed: ['done'] }))).toBe(false);
    expect(
      needsRevert(
        node('none', { operation: 'revert', step: 'host-revert', completed: ['cordon', 'drain', 'stop-calico'] }),
      ),
    ).toBe(true);
  });

  it('a move one way does not count as progress of the other', () => {
    const reverted = node('flannel', { operation: 'revert', step: 'done', completed: ['cordon', 'drain', 'done'] });
    expect(stateFor(reverted, 'migrate')).toBeUndefined();
    expect(stateFor(reverted, 'revert')?.completed).toContain('done');
    const legacy = node('calico', { step: 'done', completed: ['done'] });
    expect(stateFor(legacy, 'migrate')?.step).toBe('done');
    expect(stateFor(legacy, 'revert')).toBeUndefined();
  });

  it('remembers whether the operator had cordoned the node before an unfinished move cordoned it', () => {
    expect(
      wasUnschedulableBefore(node('none', { step: 'drain', completed: ['cordon'], wasUnschedulable: false }, true)),
    ).toBe(false);
    expect(
      wasUnschedulableBefore(node('none', { step: 'drain', completed: ['cordon'], wasUnschedulable: true }, true)),
    ).toBe(true);
    expect(
      wasUnschedulableBefore(node('calico', { step: 'done', completed: ['done'], wasUnschedulable: false }, true)),
    ).toBe(true);
    expect(wasUnschedulableBefore(node(undefined, undefined, false))).toBe(false);
  });
});
