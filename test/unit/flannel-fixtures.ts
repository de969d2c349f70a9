/** Loads the real upstream manifests and flanneld node state from test/fixtures (the repository's own copies). */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { V1ConfigMap, V1DaemonSet, V1Node } from '../../src/cluster/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixturesDir = process.env.FIXTURES_DIR ?? path.join(repoRoot, 'test', 'fixtures');

const parsed = new Map<string, any[]>();

/** Every object of a fixture manifest; each call gets fresh copies it may change. */
function manifest(file: string): any[] {
  if (!parsed.has(file)) {
    parsed.set(
      file,
      YAML.parseAllDocuments(fs.readFileSync(path.join(fixturesDir, file), 'utf8'))
        .map((d) => d.toJS())
        .filter((o) => o && typeof o === 'object'),
    );
  }
  return structuredClone(parsed.get(file)!);
}

export function flannelManifest(): { daemonSet: V1DaemonSet; configMap: V1ConfigMap } {
  const objects = manifest('flannel-v0.28.9/kube-flannel.yml');
  return {
    daemonSet: objects.find((o) => o.kind === 'DaemonSet'),
    configMap: objects.find((o) => o.kind === 'ConfigMap'),
  };
}

export function canalManifest(): { daemonSet: V1DaemonSet; configMap: V1ConfigMap } {
  const objects = manifest('calico-v3.32.1/canal.yaml');
  return {
    daemonSet: objects.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'canal'),
    configMap: objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'canal-config'),
  };
}

export function subnetEnvFixture(): string {
  return fs.readFileSync(path.join(fixturesDir, 'flanneld-v0.28.10-node-state/subnet.env'), 'utf8');
}

/** Node n1 as flanneld v0.28.10 left it, with the underlay address it used. */
export function fixtureNode(): V1Node {
  const state = JSON.parse(
    fs.readFileSync(path.join(fixturesDir, 'flanneld-v0.28.10-node-state/node-annotations.json'), 'utf8'),
  ) as { name: string; podCIDR: string; annotations: Record<string, string> };
  return {
    metadata: { name: state.name, annotations: state.annotations },
    spec: { podCIDR: state.podCIDR, podCIDRs: [state.podCIDR] },
    status: {
      addresses: [
        { type: 'InternalIP', address: '198.51.100.11' },
        { type: 'Hostname', address: state.name },
      ],
    },
  };
}

export function node(
  name: string,
  podCIDRs: string[],
  annotations: Record<string, string> = {},
  addresses: string[] = [],
  labels: Record<string, string> = {},
): V1Node {
  return {
    metadata: { name, annotations, labels },
    spec: podCIDRs.length ? { podCIDR: podCIDRs[0], podCIDRs } : {},
    status: { addresses: addresses.map((address) => ({ type: 'InternalIP', address })) },
  };
}

export function flannelAnnotations(
  opts: { vni?: number; mac?: string; ip?: string; prefix?: string; type?: string } = {},
): Record<string, string> {
  const p = opts.prefix ?? 'flannel.alpha.coreos.com';
  return {
    [`${p}/backend-type`]: opts.type ?? 'vxlan',
    [`${p}/backend-data`]: JSON.stringify({ VNI: opts.vni ?? 1, VtepMAC: opts.mac ?? '0a:00:00:00:00:01' }),
    [`${p}/kube-subnet-manager`]: 'true',
    [`${p}/public-ip`]: opts.ip ?? '198.51.100.10',
  };
}

export function clone<T>(o: T): T {
  return structuredClone(o);
}
