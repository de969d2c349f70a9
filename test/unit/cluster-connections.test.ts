/**
 * The client's connections to the API server (a fake one on 127.0.0.1): requests one after the other
 * reuse one kept-alive connection, whichever path they take (typed reads, raw list pages), instead of a
 * new connection (and TLS handshake) each.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type http from 'node:http';
import { startLocalApiServer, type LocalApiServer } from './local-api-server.js';
import { ClusterClient } from '../../src/cluster/client.js';

let server: LocalApiServer;

const configMap = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' } });

beforeAll(async () => {
  server = await startLocalApiServer((req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    res.setHeader('Content-Type', 'application/json');
    if (url.pathname === '/api/v1') {
      res.end(
        JSON.stringify({
          kind: 'APIResourceList',
          groupVersion: 'v1',
          resources: [
            { name: 'configmaps', singularName: 'configmap', namespaced: true, kind: 'ConfigMap', verbs: [] },
          ],
        }),
      );
      return;
    }
    if (url.pathname === '/api/v1/namespaces/default/configmaps/a') {
      res.end(JSON.stringify(configMap('a')));
      return;
    }
    if (url.pathname === '/api/v1/configmaps') {
      res.end(
        JSON.stringify({
          kind: 'ConfigMapList',
          metadata: { resourceVersion: '3' },
          items: [configMap('a'), configMap('b')],
        }),
      );
      return;
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound' }));
  });
});

afterAll(() => server.close());

describe('connections to the API server', () => {
  it('requests one after the other share one connection, reads and list pages alike', async () => {
    const client = ClusterClient.fromOptions({ kubeconfig: server.kubeconfig, qps: 0 });
    const before = server.connections();
    for (let i = 0; i < 5; i++) {
      expect(
        (await client.get({ apiVersion: 'v1', kind: 'ConfigMap', name: 'a', namespace: 'default' })).metadata?.name,
      ).toBe('a');
      expect(await client.list('v1', 'ConfigMap')).toHaveLength(2);
    }
    expect(client.usage.requests.get).toBe(5);
    expect(server.connections() - before).toBe(1);
  });

  it('two clients of the same kubeconfig keep their own connections', async () => {
    const before = server.connections();
    for (const client of [1, 2].map(() => ClusterClient.fromOptions({ kubeconfig: server.kubeconfig, qps: 0 })))
      await client.list('v1', 'ConfigMap');
    expect(server.connections() - before).toBe(2);
  });
});
