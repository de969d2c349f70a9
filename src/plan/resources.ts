/** Resource quantities (CPU cores, memory bytes) of pods and nodes, for the capacity check. */
import type { V1Node, V1Pod } from '../cluster/index.js';

export interface Resources {
  /** cores */
  cpu: number;
  /** bytes */
  memory: number;
}

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Parses a Kubernetes quantity ("100m", "1.5", "128Mi", "1e3"); NaN when it is not one. */
export function parseQuantity(value: string | number | undefined | null): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number') return value;
  const m = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(value.trim());
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  if (m[2]) return n * 10 ** Number(m[2].slice(1));
  return n * SUFFIX[m[3] ?? ''];
}

function add(a: Resources, b: Resources): Resources {
  return { cpu: a.cpu + b.cpu, memory: a.memory + b.memory };
}

function fromList(list: Record<string, string | number> | undefined): Resources {
  const cpu = parseQuantity(list?.cpu);
  const memory = parseQuantity(list?.memory);
  return { cpu: Number.isFinite(cpu) ? cpu : 0, memory: Number.isFinite(memory) ? memory : 0 };
}

export const ZERO: Resources = { cpu: 0, memory: 0 };

/**
 * What the scheduler reserves for a pod: the larger of the sum of its containers (restartable
 * init containers, i.e. sidecars, included) and its largest init container, plus pod overhead.
 */
export function podRequests(pod: V1Pod): Resources {
  let containers = ZERO;
  let sidecars = ZERO;
  let initMax = ZERO;
  for (const c of pod.spec?.containers ?? []) containers = add(containers, fromList(c.resources?.requests as any));
  for (const c of pod.spec?.initContainers ?? []) {
    const r = fromList(c.resources?.requests as any);
    if (c.restartPolicy === 'Always') {
      sidecars = add(sidecars, r);
    } else {
      // a regular init container runs beside the sidecars started before it
      const during = add(r, sidecars);
      initMax = { cpu: Math.max(initMax.cpu, during.cpu), memory: Math.max(initMax.memory, during.memory) };
    }
  }
  const steady = add(containers, sidecars);
  return add(
    { cpu: Math.max(steady.cpu, initMax.cpu), memory: Math.max(steady.memory, initMax.memory) },
    fromList(pod.spec?.overhead as any),
  );
}

export function nodeAllocatable(node: V1Node): Resources {
  return fromList((node.status?.allocatable ?? node.status?.capacity) as any);
}

export function sumResources(items: Iterable<Resources>): Resources {
  let total = ZERO;
  for (const r of items) total = add(total, r);
  return total;
}

export function formatCpu(cores: number): string {
  return cores >= 10 || Number.isInteger(cores) ? `${Math.round(cores * 100) / 100}` : `${Math.round(cores * 1000)}m`;
}

export function formatMemory(bytes: number): string {
  const units = ['B', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${Math.round(v * 10) / 10}${units[i]}`;
}
