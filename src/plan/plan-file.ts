import { fingerprintHash } from './fingerprint.js';
import type { Plan } from './types.js';

/** A saved plan that cannot be applied as it is: what is wrong with it, field by field. */
export class PlanFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(
      `${file} is not a usable flannel2calico plan: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`,
    );
    this.name = 'PlanFileError';
  }
}

type Json = unknown;
const isObject = (v: Json): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: any): v is string => typeof v === 'string' && v.length > 0;
const shown = (v: Json): string => (v === undefined ? 'missing' : `got ${JSON.stringify(v)}`);
const isStringArray = (v: Json): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * Checks every field of a saved plan that `migrate` reads, so that a truncated, hand-edited or
 * foreign file is refused before the cluster is read, never half-applied. Returns the problems
 * (empty when the plan can be used).
 */
export function planProblems(doc: Json): string[] {
  const problems: string[] = [];
  const need = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
    return ok;
  };
  if (!need(isObject(doc), 'the file holds no JSON object')) return problems;
  const plan = doc as Record<string, any>;
  if (
    !need(
      plan.apiVersion === 'flannel2calico/v1' && plan.kind === 'Plan',
      `apiVersion/kind must be flannel2calico/v1 Plan (apiVersion ${shown(plan.apiVersion)}, kind ${shown(plan.kind)})`,
    )
  )
    return problems;
  need(isString(plan.createdAt), 'createdAt is missing');

  if (need(isObject(plan.cluster), 'cluster is missing')) {
    need(isString(plan.cluster.server), 'cluster.server is missing');
    need(isString(plan.cluster.context), 'cluster.context is missing');
    const hashOk = need(
      typeof plan.cluster.stateHash === 'string' && /^[0-9a-f]{64}$/.test(plan.cluster.stateHash),
      'cluster.stateHash is not a sha256',
    );
    const fpOk = need(
      isObject(plan.cluster.fingerprint) && Object.values(plan.cluster.fingerprint).every((v) => typeof v === 'string'),
      'cluster.fingerprint is missing or not a map of strings',
    );
    if (hashOk && fpOk)
      need(
        fingerprintHash(plan.cluster.fingerprint) === plan.cluster.stateHash,
        'cluster.fingerprint does not match cluster.stateHash (the file was edited)',
      );
  }
  need(
    plan.flavour === 'flannel' || plan.flavour === 'canal',
    `flavour must be flannel or canal (${shown(plan.flavour)})`,
  );
  need(
    isObject(plan.flannelDaemonSet) &&
      isString(plan.flannelDaemonSet.name) &&
      isString(plan.flannelDaemonSet.namespace),
    'flannelDaemonSet.name/namespace is missing',
  );
  if (need(isObject(plan.settings), 'settings is missing')) {
    for (const [key, setting] of Object.entries(plan.settings))
      need(
        isObject(setting) && 'value' in setting && typeof setting.source === 'string',
        `settings.${key} needs a value and a source`,
      );
  }
  if (need(isObject(plan.calico), 'calico is missing')) {
    const pools = plan.calico.pools;
    if (need(Array.isArray(pools) && pools.length > 0, 'calico.pools is missing or empty')) {
      pools.forEach((p: any, i: number) =>
        need(
          isObject(p) &&
            isString(p.apiVersion) &&
            isString(p.kind) &&
            isString(p.metadata?.name) &&
            isString(p.spec?.cidr),
          `calico.pools[${i}] needs apiVersion, kind, metadata.name and spec.cidr`,
        ),
      );
    }
    need(isStringArray(plan.calico.replacePools), 'calico.replacePools is missing');
    need(isObject(plan.calico.felixConfigurationPatch), 'calico.felixConfigurationPatch is missing');
    need(Number.isInteger(plan.calico.blockSizeV4), 'calico.blockSizeV4 is missing');
  }
  if (need(isObject(plan.drain), 'drain is missing')) {
    need(
      typeof plan.drain.force === 'boolean' && typeof plan.drain.deleteEmptyDirData === 'boolean',
      'drain.force/deleteEmptyDirData must be true or false',
    );
    need(
      Number.isInteger(plan.drain.timeoutSeconds) && plan.drain.timeoutSeconds > 0,
      'drain.timeoutSeconds must be a whole number of seconds above 0',
    );
    need(
      Number.isInteger(plan.drain.gracePeriodSeconds) && plan.drain.gracePeriodSeconds >= -1,
      'drain.gracePeriodSeconds must be -1 or more',
    );
  }
  need(isString(plan.maxParallel), 'maxParallel is missing');
  const names = new Set<string>();
  if (need(Array.isArray(plan.nodes) && plan.nodes.length > 0, 'nodes is missing or empty')) {
    plan.nodes.forEach((n: any, i: number) => {
      const where = `nodes[${i}]${isString(n?.name) ? ` (${n.name})` : ''}`;
      if (!need(isObject(n) && isString(n.name), `nodes[${i}].name is missing`)) return;
      names.add(n.name);
      need(n.role === 'worker' || n.role === 'control-plane', `${where}.role must be worker or control-plane`);
      need(
        Number.isInteger(n.batch) && n.batch >= 0 && (!Array.isArray(plan.batches) || n.batch < plan.batches.length),
        `${where}.batch is not an index into batches`,
      );
      need(isStringArray(n.podCidrs), `${where}.podCidrs is missing`);
      need(isObject(n.identity) && n.identity.node === n.name, `${where}.identity is missing or names another node`);
      need(
        isObject(n.ipam) &&
          ['blocks', 'affinities', 'handles'].every(
            (k) =>
              Array.isArray(n.ipam[k]) &&
              n.ipam[k].every((o: any) => isObject(o) && isString(o.kind) && isString(o.metadata?.name)),
          ),
        `${where}.ipam needs blocks, affinities and handles (objects with kind and metadata.name)`,
      );
      need(
        isObject(n.annotations) && Object.values(n.annotations).every((v) => typeof v === 'string'),
        `${where}.annotations must be a map of strings`,
      );
      need(
        Array.isArray(n.pods) &&
          n.pods.every(
            (p: any) =>
              isObject(p) &&
              isString(p.name) &&
              isString(p.namespace) &&
              ['evict', 'skip', 'refuse'].includes(p.action) &&
              Array.isArray(p.blockingPdbs),
          ),
        `${where}.pods must list pods with namespace, name, action (evict, skip or refuse) and blockingPdbs`,
      );
      need(typeof n.currentState === 'string', `${where}.currentState is missing`);
    });
  }
  if (
    need(
      Array.isArray(plan.batches) &&
        plan.batches.length > 0 &&
        plan.batches.every((b: Json) => isStringArray(b) && b.length > 0),
      'batches must be a list of non-empty lists of node names',
    )
  ) {
    const batched = (plan.batches as string[][]).flat();
    for (const name of batched) need(names.has(name), `batches names node ${name}, which nodes does not plan`);
    need(new Set(batched).size === batched.length, 'batches names a node twice');
    for (const name of names) need(batched.includes(name), `node ${name} is in no batch`);
  }
  need(
    Array.isArray(plan.preflight) &&
      plan.preflight.every(
        (f: any) => isObject(f) && ['pass', 'warn', 'fail'].includes(f.level) && typeof f.message === 'string',
      ),
    'preflight must list findings with a level (pass, warn, fail) and a message',
  );
  return problems;
}

/** Parses a saved plan's text; throws PlanFileError naming every problem. */
export function parsePlanFile(text: string, file: string): Plan {
  if (!text.trim()) throw new PlanFileError(file, ['the file is empty']);
  let doc: Json;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new PlanFileError(file, [
      `it is not valid JSON (${(err as Error).message.replace(/^.*?: /, '')}); the file may be truncated`,
    ]);
  }
  const problems = planProblems(doc);
  if (problems.length) throw new PlanFileError(file, problems);
  return doc as Plan;
}
