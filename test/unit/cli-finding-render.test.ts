import { describe, it, expect } from '@jest/globals';
import { Chalk } from 'chalk';
import { failureText, warningText } from '../../src/cli/finding-render.js';

const c = new Chalk({ level: 0 });

describe('failureText', () => {
  it('names a check by its title and puts the fix on its own line', () => {
    expect(failureText(c, { id: 'vxlan-backend', title: 'flannel uses the VXLAN backend', level: 'fail', message: 'backend is host-gw', fix: 'Switch flannel to vxlan.' }))
      .toBe('✘ flannel uses the VXLAN backend: backend is host-gw\n    fix: Switch flannel to vxlan.');
  });

  it('names a finding by its node, and by nothing when it has none', () => {
    expect(failureText(c, { id: 'node.not-ready', level: 'fail', node: 'worker-1', message: 'node worker-1 is NotReady' })).toBe('✘ worker-1: node worker-1 is NotReady');
    expect(failureText(c, { id: 'calico.pools', level: 'fail', message: 'pools overlap', fix: 'Delete one.' })).toBe('✘ pools overlap\n    fix: Delete one.');
  });
});

describe('warningText', () => {
  it('shows the subject and message without the fix', () => {
    expect(warningText(c, { id: 'pdb', level: 'warn', node: 'worker-2', message: 'a budget allows 0', fix: 'scale up' })).toBe('! worker-2: a budget allows 0');
  });
});
