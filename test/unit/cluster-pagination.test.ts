/**
 * Lists are read in pages (limit/continue) from a fake API server on 127.0.0.1: a whole list joins
 * every page; findInList stops reading at the first page with a match.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type http from 'node:http';
import { startLocalApiServer, type LocalApiServer } from './local-api-server.js';
import { ClusterClient } from '../../src/cluster/client.js';

const NODES = ['n-0', 'n-1', 'n-2', 'n-3', 'n-4'];
const requests: string[] = [];
let server: LocalApiServer;
let kubeconfig: string;

beforeAll(async () => {
  server = await startLocalApiServer((req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push(`${url.pathname}${url.search}`);
    res.setHeader('Content-Type', 'application/json');
    if (url.pathname === '/api/v1') {
      res.end(
        JSON.stringify({
          kind: 'APIResourceList',
          groupVersion: 'v1',
          resources: [
            { name: 'nodes', singularName: 'node', namespaced: false, kind: 'Node', verbs: ['get', 'list', 'watch'] },
          ],
        }),
      );
      return;
    }
    if (url.pathname === '/api/v1/nodes') {
      const limit = Number(url.searchParams.get('limit') ?? NODES.length);
      const from = Number(url.searchParams.get('continue') ?? 0);
      const items = NODES.slice(from, from + limit).map((name) => ({
        metadata: { name, labels: { idx: name.slice(2) } },
      }));
      const next = from + limit < NODES.length ? String(from + limit) : undefined;
      res.end(
        JSON.stringify({
          kind: 'NodeList',
          apiVersion: 'v1',
          metadata: { resourceVersion: '42', ...(next ? { continue: next } : {}) },
          items,
        }),
      );
      return;
    }
    res.statusCode = 404;
    res.end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        code: 404,
        reason: 'NotFound',
        message: 'not found',
      }),
    );
  });
  kubeconfig = server.kubeconfig;
});

afterAll(() => server.close());

const pageRequests = () => requests.filter((r) => r.startsWith('/api/v1/nodes'));

describe('paginated lists', () => {
  it('list reads every page with limit and continue, and keeps the list resourceVersion', async () => {
    requests.length = 0;
    const client = ClusterClient.fromOptions({ kubeconfig, pageSize: 2 });
    const pages: Array<[number, boolean]> = [];
    const listed = await ClusterClient.fromOptions({
      kubeconfig,
      pageSize: 2,
      onListPage: (_kind, n, done) => pages.push([n, done]),
    }).listWithVersion('v1', 'Node');
    expect(listed.items.map((n) => n.metadata?.name)).toEqual(NODES);
    expect(listed.resourceVersion).toBe('42');
    expect(pages).toEqual([
      [2, false],
      [4, false],
      [5, true],
    ]);
    expect(pageRequests()).toEqual([
      '/api/v1/nodes?limit=2',
      '/api/v1/nodes?limit=2&continue=2',
      '/api/v1/nodes?limit=2&continue=4',
    ]);
    expect((await client.list('v1', 'Node')).every((n) => n.kind === 'Node' && n.apiVersion === 'v1')).toBe(true);
  });

  it('findInList stops at the first page that has what it looks for', async () => {
    const client = ClusterClient.fromOptions({ kubeconfig, pageSize: 2 });
    requests.length = 0;
    const found = await client.findInList(
      'v1',
      'Node',
      {},
      (items) => items.find((n) => n.metadata?.labels?.idx === '3')?.metadata?.name,
    );
    expect(found).toBe('n-3');
    expect(pageRequests()).toHaveLength(2);
    requests.length = 0;
    expect(await client.findInList('v1', 'Node', {}, () => undefined)).toBeUndefined();
    expect(pageRequests()).toHaveLength(3);
  });
});
