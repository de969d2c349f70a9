import { isClusterError, type KubeObject } from '../cluster/index.js';
import type { ClusterPort } from './cluster-port.js';
import type { Plan } from '../plan/types.js';
import { CALICO_GROUP_VERSION as CALICO_GV, MANAGED_BY, MANAGED_BY_LABEL, MIGRATION_LABEL } from '../names.js';
import type { EventSink } from './events.js';

/**
 * Labels an object the migration itself creates as its own. Objects of Calico's manifest are not
 * labelled: they are Calico's installation, which stays after the migration.
 */
export function owned<T extends KubeObject>(obj: T): T {
  return { ...obj, metadata: { ...obj.metadata, labels: { ...obj.metadata?.labels, [MANAGED_BY_LABEL]: MANAGED_BY } } };
}

export interface PreparedManifest {
  objects: KubeObject[];
  /** What we changed in the upstream manifest, for the operator to review. */
  changes: string[];
}

function calicoDaemonSet(objects: KubeObject[], name: string): KubeObject | undefined {
  return objects.find((o) => o.kind === 'DaemonSet' && o.metadata?.name === name);
}

/**
 * Checks and adjusts Calico's flannel-migration manifest for this cluster: calico-node must run
 * only on nodes labelled network=calico, and the pod MTU must be flannel's (calico-config veth_mtu),
 * exactly what Calico's own migration controller ensures.
 */
export function prepareCalicoManifest(
  objects: KubeObject[],
  calicoDaemonSetName: string,
  mtu: number,
): PreparedManifest {
  const out = structuredClone(objects);
  const changes: string[] = [];
  const ds = calicoDaemonSet(out, calicoDaemonSetName);
  if (!ds)
    throw new Error(
      `the Calico manifest has no DaemonSet named "${calicoDaemonSetName}" (found: ${
        out
          .filter((o) => o.kind === 'DaemonSet')
          .map((o) => o.metadata?.name)
          .join(', ') || 'none'
      }); use the flannel-migration calico.yaml or pass --calico-daemonset`,
    );
  const selector = (ds.spec.template.spec.nodeSelector ??= {});
  if (selector[MIGRATION_LABEL] !== 'calico') {
    selector[MIGRATION_LABEL] = 'calico';
    changes.push(
      `DaemonSet ${calicoDaemonSetName}: added nodeSelector ${MIGRATION_LABEL}=calico so ` +
        `calico-node starts only on migrated nodes`,
    );
  }
  const config = out.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === 'calico-config');
  if (config) {
    if (config.data?.veth_mtu !== String(mtu)) {
      changes.push(
        `ConfigMap calico-config: veth_mtu ${config.data?.veth_mtu ?? '(unset)'} -> ${mtu} ` +
          `(flannel's MTU, so pods keep their MTU across the overlay)`,
      );
      config.data = { ...config.data, veth_mtu: String(mtu) };
    }
  } else {
    changes.push(
      'no calico-config ConfigMap in the manifest: the CNI MTU could not be set; check it after the install',
    );
  }
  return { objects: out, changes };
}

/** Applies a manifest server-side: CRDs first (waiting until Established), then everything else. */
export async function applyManifest(client: ClusterPort, objects: KubeObject[], onEvent: EventSink): Promise<void> {
  const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
  const rest = objects.filter((o) => o.kind !== 'CustomResourceDefinition');
  for (const crd of crds) await client.apply(crd);
  if (crds.length && !client.serverDryRun) {
    onEvent({ type: 'info', message: `waiting for ${crds.length} CustomResourceDefinitions to be established` });
    for (const crd of crds) {
      await client.watchUntil<KubeObject>(
        'apiextensions.k8s.io/v1',
        'CustomResourceDefinition',
        { fieldSelector: `metadata.name=${crd.metadata!.name}`, timeoutMs: 60_000 },
        (_t, o) => (o.status?.conditions ?? []).some((c: any) => c.type === 'Established' && c.status === 'True'),
      );
    }
  }
  for (const obj of rest) await client.apply(obj);
}

/** Checks that an already installed calico-node DaemonSet is in migration mode. */
export function calicoDaemonSetProblems(ds: KubeObject): string[] {
  const selector = ds.spec?.template?.spec?.nodeSelector ?? {};
  if (selector[MIGRATION_LABEL] === 'calico') return [];
  return [
    `DaemonSet ${ds.metadata?.namespace}/${ds.metadata?.name} has no nodeSelector ` +
      `${MIGRATION_LABEL}=calico: it would start calico-node on nodes still running flannel`,
  ];
}

function sameObjectSpec(a: KubeObject, b: KubeObject, keys: string[]): string[] {
  return keys.filter((k) => JSON.stringify(a.spec?.[k]) !== JSON.stringify(b.spec?.[k]));
}

/**
 * Creates the IP pools, or checks the existing ones match; the plan's replacePools (Canal's non-VXLAN default pool)
 * are replaced.
 */
export async function ensurePools(client: ClusterPort, plan: Plan, onEvent: EventSink): Promise<void> {
  for (const name of plan.calico.replacePools ?? []) {
    const ref = { apiVersion: CALICO_GV, kind: 'IPPool', name };
    const existing = await client.find(ref);
    if (existing && existing.spec?.vxlanMode !== 'Always') {
      onEvent({
        type: 'info',
        message: `replacing Canal's default IPPool ${name} (${existing.spec?.cidr}, no VXLAN) with a VXLAN pool`,
      });
      await client.delete(ref);
    }
  }
  for (const pool of plan.calico.pools) {
    const ref = { apiVersion: CALICO_GV, kind: 'IPPool', name: pool.metadata!.name! };
    const existing = await client.find(ref);
    if (!existing) {
      await client.create(owned(pool));
      continue;
    }
    const differs = sameObjectSpec(existing, pool, ['cidr', 'blockSize', 'vxlanMode', 'natOutgoing']);
    if (differs.length) {
      throw new Error(
        `IPPool ${ref.name} exists with a different ${differs.join(', ')} ` +
          `(${differs.map((k) => `${JSON.stringify(existing.spec?.[k])} instead of ${JSON.stringify(pool.spec[k])}`).join(', ')}); ` +
          `delete or fix it, then rerun`,
      );
    }
  }
}

export async function ensureFelixConfiguration(client: ClusterPort, patch: object): Promise<void> {
  const ref = { apiVersion: CALICO_GV, kind: 'FelixConfiguration', name: 'default' };
  if (await client.find(ref)) await client.mergePatch(ref, patch);
  else
    await client.create(
      owned({ apiVersion: CALICO_GV, kind: 'FelixConfiguration', metadata: { name: 'default' }, ...(patch as object) }),
    );
}

const IPAM_IDENTITY_FIELDS: Record<string, string[]> = {
  IPAMBlock: ['cidr', 'affinity'],
  BlockAffinity: ['cidr', 'node'],
  IPAMHandle: ['handleID'],
};

/**
 * Creates a node's IPAM objects; an object that already exists must describe the same thing
 * (a rerun), otherwise the node's podCIDR is claimed by something else and we stop.
 */
export async function ensureNodeIpam(client: ClusterPort, objects: KubeObject[]): Promise<void> {
  for (const obj of objects) {
    const { object: existing, created } = await client.ensure(owned(obj));
    if (created) continue;
    const differs = sameObjectSpec(existing, obj, IPAM_IDENTITY_FIELDS[obj.kind!] ?? []);
    if (differs.length) {
      throw new Error(
        `${obj.kind} ${obj.metadata!.name} already exists with a different ${differs.join(', ')}: ` +
          `the podCIDR is claimed by something else; inspect it with kubectl get ` +
          `${obj.kind!.toLowerCase()}s.crd.projectcalico.org ${obj.metadata!.name} -o yaml`,
      );
    }
    if (obj.kind === 'IPAMBlock') {
      const tunnelOrdinal = (obj.spec.allocations as Array<number | null>).findIndex((a) => a !== null);
      if (tunnelOrdinal >= 0) {
        const wanted = obj.spec.attributes[obj.spec.allocations[tunnelOrdinal]]?.handle_id;
        const held = existing.spec?.allocations?.[tunnelOrdinal];
        const holder = held === null || held === undefined ? undefined : existing.spec?.attributes?.[held]?.handle_id;
        if (holder !== wanted) {
          throw new Error(
            `the tunnel address of block ${obj.spec.cidr} is ${holder ? `allocated to ${holder}` : 'not allocated'} ` +
              `instead of ${wanted}; release it (calicoctl ipam release) and rerun`,
          );
        }
      }
    }
  }
}

export async function isCalicoCrdInstalled(client: ClusterPort): Promise<boolean> {
  try {
    await client.list(CALICO_GV, 'IPPool');
    return true;
  } catch (err) {
    if (isClusterError(err, 'not-found')) return false;
    throw err;
  }
}
