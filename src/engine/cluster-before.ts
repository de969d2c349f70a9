import type { KubeObject } from '../cluster/index.js';
import { CALICO_GROUP_VERSION as CALICO_GV } from '../names.js';
import type { ClusterPort } from './cluster-port.js';
import { isCalicoCrdInstalled } from './calico-setup.js';
import { readNodeState, type ClusterBefore } from './state.js';


/**
 * What the migration may change, as it is before the first change: which objects of the Calico
 * manifest do not exist yet (the install creates them), the IP pools and FelixConfiguration.
 * `revert --all` puts the cluster back to this.
 */
export async function captureClusterBefore(client: ClusterPort, manifest: KubeObject[]): Promise<ClusterBefore> {
  const createdByInstall: ClusterBefore['createdByInstall'] = [];
  for (const obj of manifest) {
    const ref = { apiVersion: obj.apiVersion!, kind: obj.kind!, name: obj.metadata!.name!, ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}) };
    const existing = await client.find(ref).catch(() => undefined);
    if (!existing) createdByInstall.push(ref);
  }
  let pools: ClusterBefore['pools'] = [];
  let felixConfiguration: ClusterBefore['felixConfiguration'] = null;
  if (await isCalicoCrdInstalled(client)) {
    pools = (await client.list(CALICO_GV, 'IPPool')).map((p) => ({ name: p.metadata!.name!, spec: p.spec ?? {} }));
    felixConfiguration = (await client.find({ apiVersion: CALICO_GV, kind: 'FelixConfiguration', name: 'default' }))?.spec ?? null;
  }
  return { capturedAt: new Date().toISOString(), createdByInstall, pools, felixConfiguration };
}

/**
 * Whether the operator had cordoned the node before the tool touched it: a move the other way that
 * stopped half-way recorded it, otherwise the node says it.
 */
export function wasUnschedulableBefore(node: KubeObject): boolean {
  const state = readNodeState(node);
  if (state && !state.completed.includes('done')) return state.wasUnschedulable;
  return node.spec?.unschedulable === true;
}
