/**
 * The cluster client against servers on 127.0.0.1 that misbehave: one that accepts connections and
 * never answers (TLS handshake or HTTP request), a closed port, and an HTTP server that is not
 * Kubernetes. No request may hang; each error names the server.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ClusterClient } from '../../src/cluster/client.js';
import { ClusterError } from '../../src/cluster/errors.js';

let dir: string;
let silent: net.Server;
const silentSockets = new Set<net.Socket>();
let web: http.Server;
let silentPort = 0;
let webPort = 0;
let closedPort = 0;

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

function client(server: string, requestTimeoutMs = 1500): ClusterClient {
  const file = path.join(dir, `${encodeURIComponent(server)}.yaml`);
  fs.writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`,
  );
  return ClusterClient.fromOptions({ kubeconfig: file, requestTimeoutMs });
}

async function failure(p: Promise<unknown>): Promise<ClusterError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ClusterError) return err;
    throw err;
  }
  throw new Error('the request succeeded');
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-timeouts-'));
  silent = net.createServer((socket) => {
    silentSockets.add(socket);
    socket.on('close', () => silentSockets.delete(socket));
  });
  silentPort = await listen(silent);
  web = http.createServer((_req, res) => {
    res.writeHead(404, { 'Content-Type': 'text/html' });
    res.end('<html>nope</html>');
  });
  webPort = await listen(web);
  const probe = net.createServer();
  closedPort = await listen(probe);
  await new Promise((resolve) => probe.close(resolve));
});

afterAll(async () => {
  for (const socket of silentSockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
  web.closeAllConnections();
  await new Promise((resolve) => web.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('bounded requests', () => {
  it('a TLS handshake that never completes fails with the connect timeout, naming host:port', async () => {
    const c = client(`https://127.0.0.1:${silentPort}`);
    expect(c.timeouts).toEqual({ requestTimeoutMs: 1500, connectTimeoutMs: 750 });
    for (const p of [c.verifyServer(), c.list('v1', 'Node'), c.get({ apiVersion: 'v1', kind: 'Node', name: 'x' })]) {
      const err = await failure(p);
      expect(err.kind).toBe('timeout');
      expect(err.message).toContain(`no connection to the API server at 127.0.0.1:${silentPort} within 0.8 s`);
    }
  });

  it('a request that is never answered fails with the request timeout', async () => {
    const c = client(`http://127.0.0.1:${silentPort}`);
    const errors = await Promise.all([
      failure(c.verifyServer()),
      failure(c.list('v1', 'Node')),
      failure(c.canI('list', 'nodes')),
    ]);
    for (const err of errors) {
      expect(err.kind).toBe('timeout');
      expect(err.message).toContain(
        `the API server at 127.0.0.1:${silentPort} accepted the connection but did not answer within 1.5 s`,
      );
      expect(err.hint).toMatch(/--request-timeout/);
    }
  });

  it('a closed port is unreachable at once', async () => {
    const err = await failure(client(`https://127.0.0.1:${closedPort}`).verifyServer());
    expect(err.kind).toBe('unreachable');
    expect(err.message).toBe(`cannot reach the API server at 127.0.0.1:${closedPort} (connection refused)`);
  });

  it('a server that is not Kubernetes is recognised by GET /version', async () => {
    const err = await failure(client(`http://127.0.0.1:${webPort}`).verifyServer());
    expect(err.kind).toBe('not-kubernetes');
    expect(err.message).toBe(
      `the server at 127.0.0.1:${webPort} is not a Kubernetes API server (GET /version answered ` +
        `HTTP 404 text/html, not a Kubernetes version)`,
    );
  });
});

describe('API error messages', () => {
  it("403 names the verb, the resource and the API server's reason once", async () => {
    const { toClusterError } = await import('../../src/cluster/errors.js');
    const body = JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'Forbidden',
      code: 403,
      message:
        'nodes is forbidden: User "system:serviceaccount:default:x" cannot list resource "nodes" ' +
        'in API group "" at the cluster scope',
    });
    const err = toClusterError({ code: 403, body }, { verb: 'list', resource: 'Node' }, 'https://10.0.0.1:6443');
    expect(err.kind).toBe('forbidden');
    expect(err.message).toBe(
      'not allowed to list Node: nodes is forbidden: User "system:serviceaccount:default:x" ' +
        'cannot list resource "nodes" in API group "" at the cluster scope',
    );
    expect(err.message).not.toMatch(/forbidden: forbidden/);
    expect(err.hint).toMatch(/Grant the user the "list" verb on Node/);
  });

  it('401 is one line naming the server, with what to do', async () => {
    const { toClusterError } = await import('../../src/cluster/errors.js');
    const err = toClusterError(
      { code: 401, body: '{"kind":"Status","code":401,"message":"Unauthorized"}' },
      { verb: 'list', resource: 'Node' },
      'https://10.0.0.1:6443',
    );
    expect(err.kind).toBe('unauthorized');
    expect(err.message).toBe(
      'the API server at 10.0.0.1:6443 rejected the credentials (401 Unauthorized) trying to list Node',
    );
    expect(err.hint).toMatch(/wrong or expired/);
  });
});
