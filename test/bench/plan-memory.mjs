// Memory and time of reading a large cluster and planning it, as `plan` and `migrate` do: the real
// ClusterClient reads the synthetic 1,000-node / 30,000-pod cluster (synthetic-cluster.mjs, dressed
// as an API server returns it) page by page from a fake API server on 127.0.0.1, then buildPlan runs
// twice and both results are held, as migrate holds them. The reading and planning run in a child
// process (node --expose-gc), so its peak RSS is theirs alone.
// Runs against the compiled code: `npm run build` first. Usage: npm run bench:plan-memory
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { dressNode, dressPod, makeSnapshot } from './synthetic-cluster.mjs';

const MB = (bytes) => bytes / 1024 / 1024;

if (process.argv[2] === '--child') await child();
else await parent();

async function parent() {
  const { snapshot } = makeSnapshot();
  const lists = {
    '/api/v1/nodes': { apiVersion: 'v1', kind: 'NodeList', items: snapshot.nodes, dress: dressNode },
    '/api/v1/pods': { apiVersion: 'v1', kind: 'PodList', items: snapshot.pods, dress: dressPod },
    '/apis/policy/v1/poddisruptionbudgets': {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudgetList',
      items: snapshot.pdbs,
    },
    '/apis/apps/v1/daemonsets': { apiVersion: 'apps/v1', kind: 'DaemonSetList', items: snapshot.daemonSets },
  };
  const objects = {
    '/api/v1/namespaces/default/services/kubernetes': snapshot.kubernetesService,
    '/api/v1/namespaces/kube-flannel/configmaps/kube-flannel-cfg': snapshot.flannel.configMap,
  };
  const resource = (name, kind, namespaced) => ({ name, singularName: '', namespaced, kind, verbs: ['get', 'list'] });
  const discovery = {
    '/api/v1': [
      resource('nodes', 'Node', false),
      resource('pods', 'Pod', true),
      resource('services', 'Service', true),
      resource('configmaps', 'ConfigMap', true),
    ],
    '/apis/policy/v1': [resource('poddisruptionbudgets', 'PodDisruptionBudget', true)],
    '/apis/apps/v1': [resource('daemonsets', 'DaemonSet', true)],
    // Neither ServiceCIDRs nor Calico's CRDs are served.
    '/apis/networking.k8s.io/v1': [],
    '/apis/crd.projectcalico.org/v1': [],
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    res.setHeader('Content-Type', 'application/json');
    const send = (body) => res.end(JSON.stringify(body));
    if (discovery[url.pathname]) {
      const groupVersion = url.pathname.replace(/^\/apis?\//, '');
      return send({ kind: 'APIResourceList', groupVersion, resources: discovery[url.pathname] });
    }
    const list = lists[url.pathname];
    if (list) {
      const limit = Number(url.searchParams.get('limit') ?? list.items.length);
      const from = Number(url.searchParams.get('continue') ?? 0);
      const next = from + limit < list.items.length ? String(from + limit) : undefined;
      const items = list.items.slice(from, from + limit).map((o, i) => (list.dress ? list.dress(o, from + i) : o));
      return send({
        apiVersion: list.apiVersion,
        kind: list.kind,
        metadata: { resourceVersion: '1', ...(next ? { continue: next } : {}) },
        items,
      });
    }
    if (objects[url.pathname]) return send(objects[url.pathname]);
    res.statusCode = 404;
    send({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound', message: 'not found' });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-plan-memory-'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  fs.writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: c, cluster: {server: "http://127.0.0.1:${server.address().port}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: u, user: {token: t}}]',
      'contexts: [{name: x, context: {cluster: c, user: u}}]',
      'current-context: x',
      '',
    ].join('\n'),
  );
  console.log(
    `synthetic cluster: ${snapshot.nodes.length} nodes, ${snapshot.pods.length} pods ` +
      `(${(JSON.stringify(dressPod(snapshot.pods[0], 0)).length / 1024).toFixed(1)} KB a pod as listed), ` +
      `${snapshot.pdbs.length} PDBs, served from 127.0.0.1`,
  );
  try {
    const proc = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', kubeconfig], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (c) => (out += c));
    const code = await new Promise((resolve) => proc.on('close', resolve));
    if (code !== 0) throw new Error(`the measuring process exited with ${code}`);
    const r = JSON.parse(out);
    const rows = [
      ['modules loaded (RSS)', `${r.baselineRss.toFixed(0)} MB`],
      ['collectSnapshot', `${r.collectMs.toFixed(0)} ms`],
      ['snapshot held (heap after GC)', `${r.snapshotHeap.toFixed(1)} MB`],
      ['buildPlan (first)', `${r.planMs.toFixed(0)} ms`],
      ['snapshot + 2 plans held (heap after GC)', `${r.withPlansHeap.toFixed(1)} MB`],
      ['2 plans held, snapshot dropped (heap after GC)', `${r.plansHeap.toFixed(1)} MB`],
      ['heap after GC, nothing held', `${r.emptyHeap.toFixed(1)} MB`],
      ['peak RSS (VmHWM)', `${r.peakRss.toFixed(0)} MB`],
    ];
    for (const [k, v] of rows) console.log(`${k.padEnd(48)} ${v}`);
  } finally {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function child() {
  const kubeconfig = process.argv[3];
  const { ClusterClient } = await import('../../dist/cluster/client.js');
  const { collectSnapshot } = await import('../../dist/plan/snapshot.js');
  const { buildPlan } = await import('../../dist/plan/planner.js');
  let { detection } = makeSnapshot();
  // What a finished async call returned stays reachable until the next turn of the event loop.
  const heap = async () => {
    await new Promise((resolve) => setTimeout(resolve, 10));
    global.gc();
    return MB(process.memoryUsage().heapUsed);
  };
  await heap();
  const baselineRss = MB(process.memoryUsage().rss);
  const emptyHeapBefore = await heap();
  const client = ClusterClient.fromOptions({ kubeconfig });
  let started = performance.now();
  let snapshot = await collectSnapshot(client, detection);
  const collectMs = performance.now() - started;
  process.stderr.write(
    `read ${snapshot.nodes.length} nodes, ${snapshot.pods.length} pods, ${snapshot.pdbs.length} PDBs, ${snapshot.daemonSets.length} DaemonSets\n`,
  );
  const snapshotHeap = (await heap()) - emptyHeapBefore;
  const options = { maxParallel: '10%', force: true, deleteEmptyDirData: true };
  started = performance.now();
  let allNodes = buildPlan(snapshot, detection, options).nodes;
  const planMs = performance.now() - started;
  let plan = buildPlan(snapshot, detection, options);
  const withPlansHeap = (await heap()) - emptyHeapBefore;
  snapshot = undefined;
  const plansHeap = (await heap()) - emptyHeapBefore;
  if (!plan.nodes.length || !allNodes.length) throw new Error('empty plan');
  plan = allNodes = detection = undefined;
  const emptyHeap = (await heap()) - emptyHeapBefore;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  const peakRss = hwm ? Number(hwm[1]) / 1024 : MB(process.memoryUsage().rss);
  process.stdout.write(
    JSON.stringify({ baselineRss, collectMs, snapshotHeap, planMs, withPlansHeap, plansHeap, emptyHeap, peakRss }),
  );
}
