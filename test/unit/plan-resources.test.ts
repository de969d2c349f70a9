import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '../../src/cluster/index.js';
import { formatCpu, formatMemory, parseQuantity, podRequests } from '../../src/plan/resources.js';

describe('parseQuantity', () => {
  it.each<[string, number]>([
    ['100m', 0.1],
    ['1', 1],
    ['2.5', 2.5],
    ['.5', 0.5],
    ['250000u', 0.25],
    ['1k', 1000],
    ['1M', 1e6],
    ['128Mi', 128 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['1e3', 1000],
    ['5E-1', 0.5],
    ['64Ki', 65536],
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
  const container = (cpu: string, memory: string, restartPolicy?: string) => ({
    name: 'c',
    image: 'i',
    restartPolicy,
    resources: { requests: { cpu, memory } },
  });

  it('sums containers and adds pod overhead', () => {
    const p = {
      spec: {
        containers: [container('100m', '64Mi'), container('200m', '64Mi')],
        overhead: { cpu: '50m', memory: '16Mi' },
      },
    } as unknown as V1Pod;
    const r = podRequests(p);
    expect(r.cpu).toBeCloseTo(0.35);
    expect(r.memory).toBe(144 * 2 ** 20);
  });

  it('takes the larger of the containers and the biggest init container; sidecars count for both', () => {
    const p = {
      spec: {
        initContainers: [container('1', '1Gi'), container('100m', '32Mi', 'Always'), container('500m', '64Mi')],
        containers: [container('200m', '128Mi')],
      },
    } as unknown as V1Pod;
    const r = podRequests(p);
    expect(r.cpu).toBeCloseTo(1);
    expect(r.memory).toBe(2 ** 30);
    const sidecarHeavy = {
      spec: { initContainers: [container('2', '16Mi', 'Always')], containers: [container('1', '16Mi')] },
    } as unknown as V1Pod;
    expect(podRequests(sidecarHeavy).cpu).toBeCloseTo(3);
  });

  it('formats figures for messages', () => {
    expect(formatCpu(0.25)).toBe('250m');
    expect(formatCpu(3)).toBe('3');
    expect(formatMemory(1.5 * 2 ** 30)).toBe('1.5Gi');
  });
});
