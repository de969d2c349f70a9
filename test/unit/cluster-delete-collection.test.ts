/**
 * deleteCollection against a fake API server on 127.0.0.1: one DELETE on the collection with the
 * label selector and background propagation (dryRun=All under --dry-run=server), counted as one
 * request and recorded in the audit log like every other write; nothing to delete is no error.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type http from 'node:http';
import { startLocalApiServer, type LocalApiServer } from './local-api-server.js';
import { ClusterClient, type Mutation } from '../../src/cluster/client.js';

const SELECTOR = 'app.kubernetes.io/managed-by=flannel2calico';
const requests: Array<{ method: string; path: string; query: Record<string, string> }> = [];
let jobs = ['cleanup-a', 'cleanup-b', 'other'];
let server: LocalApiServer;
let kubeconfig: string;

beforeAll(async () => {
  server = await startLocalApiServer((req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams) });
    res.setHeader('Content-Type', 'application/json');
    if (url.pathname === '/apis/batch/v1') {
      res.end(
        JSON.stringify({
          kind: 'APIResourceList',
          groupVersion: 'batch/v1',
          resources: [
            { name: 'jobs', singularName: 'job', namespaced: true, kind: 'Job', verbs: ['deletecollection'] },
          ],
        }),
      );
      return;
    }
    if (url.pathname === '/apis/batch/v1/namespaces/kube-system/jobs' && req.method === 'DELETE') {
      const matched = url.searchParams.get('labelSelector') === SELECTOR ? jobs.filter((j) => j !== 'other') : [];
      if (url.searchParams.get('dryRun') !== 'All') jobs = jobs.filter((j) => !matched.includes(j));
      res.end(
        JSON.stringify({
          kind: 'JobList',
          apiVersion: 'batch/v1',
          metadata: { resourceVersion: '7' },
          items: matched.map((name) => ({ metadata: { name, namespace: 'kube-system' } })),
        }),
      );
      return;
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound' }));
  });
  kubeconfig = server.kubeconfig;
});

afterAll(() => server.close());

const deletes = () => requests.filter((r) => r.method === 'DELETE');
const opts = { namespace: 'kube-system', labelSelector: SELECTOR };

describe('deleteCollection', () => {
  it('sends one DELETE on the collection; under server dry run with dryRun=All, and nothing is deleted', async () => {
    requests.length = 0;
    const mutations: Mutation[] = [];
    const dry = ClusterClient.fromOptions({ kubeconfig, serverDryRun: true, onMutation: (m) => mutations.push(m) });
    expect(await dry.deleteCollection('batch/v1', 'Job', opts)).toBe(2);
    expect(jobs).toEqual(['cleanup-a', 'cleanup-b', 'other']);
    expect(deletes()).toEqual([
      {
        method: 'DELETE',
        path: '/apis/batch/v1/namespaces/kube-system/jobs',
        query: { labelSelector: SELECTOR, propagationPolicy: 'Background', dryRun: 'All' },
      },
    ]);
    expect(mutations).toEqual([
      expect.objectContaining({ verb: 'deletecollection', kind: 'Job', namespace: 'kube-system', dryRun: true }),
    ]);

    requests.length = 0;
    mutations.length = 0;
    const client = ClusterClient.fromOptions({ kubeconfig, onMutation: (m) => mutations.push(m) });
    expect(await client.deleteCollection('batch/v1', 'Job', opts)).toBe(2);
    expect(jobs).toEqual(['other']);
    expect(deletes()).toHaveLength(1);
    expect(deletes()[0].query).toEqual({ labelSelector: SELECTOR, propagationPolicy: 'Background' });
    expect(client.usage.requests.deletecollection).toBe(1);
    expect(mutations).toEqual([
      {
        verb: 'deletecollection',
        apiVersion: 'batch/v1',
        kind: 'Job',
        name: `-l ${SELECTOR}`,
        namespace: 'kube-system',
        dryRun: false,
        outcome: 'ok',
        detail: '2 deleted',
      },
    ]);
  });

  it('nothing left to delete is not an error (a rerun)', async () => {
    const mutations: Mutation[] = [];
    const client = ClusterClient.fromOptions({ kubeconfig, onMutation: (m) => mutations.push(m) });
    expect(await client.deleteCollection('batch/v1', 'Job', opts)).toBe(0);
    expect(mutations).toEqual([expect.objectContaining({ verb: 'deletecollection', outcome: 'not-found' })]);
  });
});
