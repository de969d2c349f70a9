import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '../../src/cluster/index.js';
import { RangeIndex, rangeOf } from '../../src/plan/ip.js';
import { formatCpu, formatMemory, parseQuantity, podRequests } from '../../src/plan/resources.js';
import { random } from './plan-fixtures.js';

describe('parseQuantity', () => {
  it.each<[string, number]>([
    ['100m', 0.1], ['1', 1], ['2.5', 2.5], ['.5', 0.5], ['250000u', 0.25], ['1k', 1000], ['1M', 1e6],
    ['128Mi', 128 * 2 ** 20], ['1Gi', 2 ** 30], ['1.5Gi', 1.5 * 2 ** 30], ['1e3', 1000], ['5E-1', 0.5], ['64Ki', 65536],
  ])('%s = %d', (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value, 9);
  });

  it('is NaN for text that is not a quantity, 0 when absent', () => {
    expect(parseQuantity('lots')).toBeNaN();
    expect(parseQuantity('1 Gi')).toBeNaN();
    expect(parseQuantity(undefined)).toBe(0);
  });
});

describe('podRequests', () => {
  const container = (cpu: string, memory: string, restartPolicy?: string) => ({ name: 'c', image: 'i', restartPolicy, resources: { requests: { cpu, memory } } });

  it('sums containers and adds pod overhead', () => {
    const p = { spec: { containers: [container('100m', '64Mi'), container('200m', '64Mi')], overhead: { cpu: '50m', memory: '16Mi' } } } as unknown as V1Pod;
    const r = podRequests(p);
    expect(r.cpu).toBeCloseTo(0.35);
    expect(r.memory).toBe(144 * 2 ** 20);
  });

  it('takes the larger of the containers and the biggest init container; sidecars count for both', () => {
    const p = { spec: {
      initContainers: [container('1', '1Gi'), container('100m', '32Mi', 'Always'), container('500m', '64Mi')],
      containers: [container('200m', '128Mi')],
    } } as unknown as V1Pod;
    const r = podRequests(p);
    expect(r.cpu).toBeCloseTo(1);
    expect(r.memory).toBe(2 ** 30);
    const sidecarHeavy = { spec: { initContainers: [container('2', '16Mi', 'Always')], containers: [container('1', '16Mi')] } } as unknown as V1Pod;
    expect(podRequests(sidecarHeavy).cpu).toBeCloseTo(3);
  });

  it('formats figures for messages', () => {
    expect(formatCpu(0.25)).toBe('250m');
    expect(formatCpu(3)).toBe('3');
    expect(formatMemory(1.5 * 2 ** 30)).toBe('1.5Gi');
  });
});

describe('RangeIndex', () => {
  it('finds exactly the overlapping ranges, like a full scan', () => {
    const rnd = random(11);
    const index = new RangeIndex<string>();
    const cidrs: string[] = [];
    for (let i = 0; i < 300; i++) {
      const len = 20 + Math.floor(rnd() * 9);
      const addr = `10.${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`;
      const r = rangeOf(`${addr}/${len}`);
      const network = [24n, 16n, 8n, 0n].map((s) => String((r.start >> s) & 255n)).join('.');
      const cidr = `${network}/${len}`;
      cidrs.push(cidr);
      index.add(cidr, cidr);
    }
    index.add('fd00::/64', 'v6');
    for (let i = 0; i < 200; i++) {
      const q = `10.${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 256)}.0/${22 + Math.floor(rnd() * 10)}`;
      const qr = rangeOf(q);
      const expected = cidrs.filter((c) => { const r = rangeOf(c); return r.start <= qr.end && r.end >= qr.start; }).sort();
      expect(index.overlapping(q).sort()).toEqual(expected);
    }
    expect(index.overlapping('fd00::5')).toEqual(['v6']);
    expect(index.overlapping('not-an-ip')).toEqual([]);
  });
});
