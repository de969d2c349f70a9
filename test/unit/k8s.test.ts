import { describe, it, expect } from '@jest/globals';
import { createHash } from 'node:crypto';
import { boundedName, isNodeReady, labelSelector, labelValue, readyCondition, shortHash } from '../../src/k8s.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const sha8 = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 8);

describe('shortHash', () => {
  it('is 8 hex digits of sha256 over the parts joined by NUL', () => {
    expect(shortHash('worker-1')).toBe(sha8('worker-1'));
    expect(shortHash('cleanup', 'worker-1', 'r1')).toBe(sha8('cleanup\0worker-1\0r1'));
    expect(shortHash('a', 'bc')).not.toBe(shortHash('ab', 'c'));
  });
});

describe('boundedName', () => {
  it('is prefix, node and hash when the node name fits', () => {
    expect(boundedName('f2c-probe-server', 'worker-1', 'worker-1')).toBe(`f2c-probe-server-worker-1-${sha8('worker-1')}`);
  });

  it('lowercases the node, replaces what a name may not hold and cuts it to 63 characters', () => {
    expect(boundedName('f2c-revert', 'Node_With.Dots', 'x')).toBe(`f2c-revert-node-with-dots-${sha8('x')}`);
    const long = `${'a'.repeat(40)}.${'b'.repeat(40)}`;
    const name = boundedName('f2c-cleanup', long, long);
    expect(name.length).toBe(63);
    expect(name).toMatch(DNS_LABEL);
    expect(name.endsWith(`-${sha8(long)}`)).toBe(true);
  });

  it('keeps cut names distinct through the hash', () => {
    const a = `${'n'.repeat(70)}-1`;
    const b = `${'n'.repeat(70)}-2`;
    expect(boundedName('f2c-check', a, a)).not.toBe(boundedName('f2c-check', b, b));
  });

  it('drops a node part that is left empty and never ends a cut part with a dash', () => {
    expect(boundedName('p', '___', 'h')).toBe(`p-${sha8('h')}`);
    const prefix = 'x'.repeat(40);
    const name = boundedName(prefix, `${'a'.repeat(12)}-${'b'.repeat(20)}`, 'h');
    expect(name).toBe(`${prefix}-${'a'.repeat(12)}-${sha8('h')}`);
  });
});

describe('labelValue', () => {
  it('keeps a valid value', () => {
    expect(labelValue('worker-1.example.com')).toBe('worker-1.example.com');
    expect(labelValue('')).toBe('');
  });

  it('turns an invalid value into a valid, distinct one', () => {
    const long = 'n'.repeat(70);
    expect(labelValue(long)).toBe(`${'n'.repeat(54)}-${sha8(long)}`);
    expect(labelValue(long)).not.toBe(labelValue(`${long}x`));
    expect(labelValue('run 2026/11/26')).toBe(`run-2026-11-26-${sha8('run 2026/11/26')}`);
    expect(labelValue('///')).toBe(sha8('///'));
  });
});

describe('labelSelector', () => {
  it('writes matchLabels as the API takes them', () => {
    expect(labelSelector({ app: 'flannel', tier: 'node' })).toBe('app=flannel,tier=node');
    expect(labelSelector({})).toBe('');
    expect(labelSelector(undefined)).toBe('');
    expect(labelSelector(null)).toBe('');
  });
});

describe('node readiness', () => {
  const node = (conditions?: Array<{ type: string; status: string; reason?: string }>) => ({ status: { conditions } });

  it('is the Ready condition being True', () => {
    expect(isNodeReady(node([{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'True' }]))).toBe(true);
    expect(isNodeReady(node([{ type: 'Ready', status: 'False', reason: 'KubeletNotReady' }]))).toBe(false);
    expect(isNodeReady(node([{ type: 'Ready', status: 'Unknown' }]))).toBe(false);
    expect(isNodeReady(node([{ type: 'MemoryPressure', status: 'True' }]))).toBe(false);
    expect(isNodeReady(node())).toBe(false);
    expect(isNodeReady({})).toBe(false);
  });

  it('finds the Ready condition, with its reason', () => {
    expect(readyCondition(node([{ type: 'Ready', status: 'False', reason: 'KubeletNotReady' }]))?.reason).toBe('KubeletNotReady');
    expect(readyCondition(node([]))).toBeUndefined();
  });
});
