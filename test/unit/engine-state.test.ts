/**
 * The records a rerun resumes from: per node on the Node, cluster-wide in a ConfigMap; written through 409 Conflicts.
 */
import { describe, expect, it } from '@jest/globals';
import { STATE_CONFIGMAP, STATE_NAMESPACE } from '../../src/names.js';
import {
  readMigrationRecord,
  readNodeState,
  writeMigrationRecord,
  writeNodeState,
  type MigrationRecord,
  type NodeMigrationState,
} from '../../src/engine/state.js';
import { nodeObject } from './engine-fixtures.js';
import { conflict, FakeCluster } from './fake-cluster.js';

const STATE: NodeMigrationState = {
  operation: 'migrate',
  step: 'drain',
  completed: ['cordon'],
  wasUnschedulable: false,
  startedAt: 't0',
  updatedAt: 't1',
};

const RECORD: MigrationRecord = {
  phase: 'migrating',
  planHash: 'h',
  flavour: 'flannel',
  flannelDaemonSet: { name: 'kube-flannel-ds', namespace: 'kube-flannel' },
  calicoDaemonSet: 'calico-node',
  settings: {},
  nodeOrder: ['a'],
  startedAt: 't0',
  updatedAt: 't1',
};

const writes = {
  'node state': {
    kind: 'Node',
    write: (c: FakeCluster) => writeNodeState(c, 'a', STATE),
    read: async (c: FakeCluster) => readNodeState(c.peek('Node', 'a')!),
    expected: STATE,
  },
  'migration record': {
    kind: 'ConfigMap',
    write: (c: FakeCluster) => writeMigrationRecord(c, RECORD),
    read: (c: FakeCluster) => readMigrationRecord(c),
    expected: RECORD,
  },
};

describe.each(Object.entries(writes))('writing the %s', (_what, { kind, write, read, expected }) => {
  it.each([0, 1, 4])('retries %i 409 Conflict(s) and writes it', async (conflicts) => {
    const cluster = new FakeCluster([nodeObject('a')]);
    if (conflicts) cluster.fail({ kind }, () => conflict(), conflicts);
    await write(cluster);
    expect(await read(cluster)).toEqual(expected);
    expect(cluster.writes(kind)).toHaveLength(conflicts + 1);
  });

  it('gives up after 5 conflicts in a row, with the conflict', async () => {
    const cluster = new FakeCluster([nodeObject('a')]);
    cluster.fail({ kind }, () => conflict(), 5);
    await expect(write(cluster)).rejects.toMatchObject({ kind: 'conflict' });
    expect(await read(cluster)).toBeUndefined();
  });

  it('does not retry other errors', async () => {
    const cluster = new FakeCluster([nodeObject('a')]);
    cluster.fail({ kind }, () => Object.assign(conflict(), { kind: 'forbidden' }), 1);
    await expect(write(cluster)).rejects.toMatchObject({ kind: 'forbidden' });
    expect(cluster.writes(kind)).toHaveLength(1);
  });
});

describe('reading a node state', () => {
  it.each([
    ['a whole state', JSON.stringify(STATE), STATE],
    ['a state cut off half-way', JSON.stringify(STATE).slice(0, 30), undefined],
    ['a state without its completed steps', JSON.stringify({ step: 'drain' }), undefined],
    ['no state', undefined, undefined],
  ])('%s', (_what, raw, expected) => {
    const node = nodeObject('a', raw === undefined ? {} : { state: raw });
    expect(readNodeState(node)).toEqual(expected);
  });

  it('clearing the state removes the annotation', async () => {
    const cluster = new FakeCluster([nodeObject('a', { state: STATE })]);
    await writeNodeState(cluster, 'a', null);
    expect(cluster.peek('Node', 'a')?.metadata?.annotations).toEqual({});
  });

  it('the migration record lives in one ConfigMap', async () => {
    const cluster = new FakeCluster();
    await writeMigrationRecord(cluster, RECORD);
    await writeMigrationRecord(cluster, { ...RECORD, phase: 'finalized' });
    expect(cluster.all('ConfigMap').map((c) => `${c.metadata!.namespace}/${c.metadata!.name}`)).toEqual([
      `${STATE_NAMESPACE}/${STATE_CONFIGMAP}`,
    ]);
    expect((await readMigrationRecord(cluster))?.phase).toBe('finalized');
  });
});
