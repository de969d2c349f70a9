// Migrates a whole test-bed cluster and measures where the time goes.
//
//   npm run bench:migrate -- --nodes 100 --max-parallel 10%
//
// Brings up N kwok nodes (node 0 the control plane) on the real control plane (test/testbed/harness.ts)
// with kube-apiserver's audit log on, installs flannel from test/fixtures and a workload of about 10
// pods per node (two Deployments of 3 per worker, each behind a PDB maxUnavailable 1; a StatefulSet of
// 3 behind a PDB maxUnavailable 1; DaemonSets node-agent and log-shipper; flannel itself), times
// `plan`, then runs `migrate --yes --finalize --max-parallel P` and prints: wall time; per node, the time
// split into inherent waits (PDB-held evictions, pod termination, host Job, calico-node Ready, probes)
// and the tool's own time; the CLI's API requests per node by verb (from the audit log, by user agent);
// the CLI's peak memory; Calico's controller modelled next to it. Writes bench.json and the per-node
// timeline (timeline.svg, by `flannel2calico report`) into --out (default .testbed/bench/N-P-TIME).
//
// Options: --nodes N (default 10), --max-parallel P (N or N%, default 1), --time-budget SECONDS (Ctrl-C
// the migration after that long and extrapolate from the nodes done), --out DIR, --keep (leave the test
// bed up). FLANNEL2CALICO_BIN=/path/to/bin/flannel2calico.js runs another build of the CLI (it must be
// built); the default is this checkout's, built here.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10' },
    'max-parallel': { type: 'string', default: '1' },
    parallel: { type: 'string' },
    'time-budget': { type: 'string' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const nodes = Number(values.nodes);
const maxParallel = values.parallel ?? values['max-parallel'];
if (!Number.isInteger(nodes) || nodes < 2)
  throw new Error(`--nodes must be an integer of at least 2, got ${values.nodes}`);
if (!/^\d+%?$/.test(maxParallel)) throw new Error(`--max-parallel must be N or N%, got ${maxParallel}`);
const timeBudgetMs = values['time-budget'] ? Number(values['time-budget']) * 1000 : undefined;

// Build what the bench needs: the test-bed control plane (cached), the harness, and the CLI.
const cliBin = process.env.FLANNEL2CALICO_BIN
  ? path.resolve(process.env.FLANNEL2CALICO_BIN)
  : path.join(repo, 'bin/flannel2calico.js');
execFileSync('bash', [path.join(repo, 'test/testbed/build-binaries.sh')], {
  cwd: repo,
  stdio: ['ignore', 'ignore', 'inherit'],
});
execFileSync(
  process.execPath,
  [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'test/testbed/tsconfig.json'],
  { cwd: repo, stdio: 'inherit' },
);
if (!process.env.FLANNEL2CALICO_BIN)
  execFileSync(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: repo,
    stdio: 'inherit',
  });
const harness = await import(path.join(repo, '.testbed/build/harness.js'));
const analysis = await import(path.join(repo, '.testbed/build/bench-analysis.js'));
const { startTestbed, installFlannel, kubectlOk, clusterPids, fixturesDir, sleep } = harness;

const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const outDir = path.resolve(
  values.out ?? path.join(repo, '.testbed/bench', `${nodes}-${maxParallel.replace('%', 'pct')}-${stamp}`),
);
fs.mkdirSync(outDir, { recursive: true });
const manifest = path.join(fixturesDir, 'calico-v3.32.1/flannel-migration-calico.yaml');
/**
 * The CLI's requests in kube-apiserver's audit log: @kubernetes/client-node's fetch, a user agent naming
 * the tool, or none at all (the CLI's own patch and apply requests send no User-Agent; every other
 * client of the test bed — kubectl, kwok, the controllers — sends one).
 */
const CLI_USER_AGENT = /^(flannel2calico|kubectl-flannel2calico|node-fetch|undici|kubernetes-client)|^$/i;
const workers = nodes - 1;
const log = (m) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const loadAverage = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/**
 * Pods take this long to terminate. kwok would remove them at once, so the disruption controller would
 * never see an evicted StatefulSet pod terminating before its same-name replacement appears, and would
 * hold the PDB at 0 for its 2-minute timeout: a kwok artefact, not what a real kubelet does. 1 s was
 * not enough on a loaded 2-core machine (the controller's sync came later); 3 s is.
 */
const POD_TERMINATION_MS = 3000;
// A /24 per node: /16 holds 256 nodes, /14 1,024.
const podCidr = nodes > 250 ? '10.128.0.0/14' : '10.244.0.0/16';

function workloadObjects() {
  const objects = [];
  const deployment = (name, namespace, replicas) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53' }] },
      },
    },
  });
  const pdb = (name, namespace) => ({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name, namespace },
    spec: { maxUnavailable: 1, selector: { matchLabels: { app: name } } },
  });
  const daemonSet = (name) => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace: 'apps' },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name, image: 'registry.k8s.io/e2e-test-images/agnhost:2.53' }] },
      },
    },
  });
  objects.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } });
  objects.push(daemonSet('node-agent'), daemonSet('log-shipper'));
  objects.push({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'db', namespace: 'apps' },
    spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ port: 5432 }] },
  });
  objects.push(
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db', namespace: 'apps' },
      spec: {
        replicas: 3,
        serviceName: 'db',
        selector: { matchLabels: { app: 'db' } },
        template: {
          metadata: { labels: { app: 'db' } },
          spec: { containers: [{ name: 'db', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53' }] },
        },
      },
    },
    pdb('db', 'apps'),
  );
  for (let i = 0; i < 2 * workers; i++) objects.push(deployment(`app-${i}`, 'apps', 3), pdb(`app-${i}`, 'apps'));
  return objects;
}

/** Waits until every Deployment, the StatefulSet and the DaemonSets are available and every PDB is observed. */
async function waitForWorkloads(tb, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const deploy = kubectlOk(tb, [
      'get',
      'deploy',
      '-n',
      'apps',
      '-o',
      'jsonpath={range .items[*]}{.status.availableReplicas}{" "}{end}',
    ])
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    const sts = Number(
      kubectlOk(tb, ['get', 'sts', 'db', '-n', 'apps', '-o', 'jsonpath={.status.readyReplicas}']) || 0,
    );
    const ds = kubectlOk(tb, [
      'get',
      'ds',
      '-n',
      'apps',
      '-o',
      'jsonpath={range .items[*]}{.status.numberReady}/{.status.desiredNumberScheduled}{" "}{end}',
    ])
      .trim()
      .split(/\s+/);
    const pdbs = kubectlOk(tb, [
      'get',
      'pdb',
      '-n',
      'apps',
      '-o',
      'jsonpath={range .items[*]}{.status.disruptionsAllowed}{" "}{end}',
    ])
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    const available = deploy.reduce((a, b) => a + b, 0);
    const dsReady =
      ds.length === 2 &&
      ds.every((d) => {
        const [r, w] = d.split('/').map(Number);
        return w === workers && r === w;
      });
    const ready =
      available === 6 * workers &&
      sts === 3 &&
      dsReady &&
      pdbs.length === 2 * workers + 1 &&
      pdbs.every((n) => n === 1);
    if (ready) return;
    if (Date.now() > deadline)
      throw new Error(
        `workloads not ready after ${timeoutMs / 1000} s: ${available}/${6 * workers} Deployment pods, ${sts}/3 StatefulSet pods, DaemonSets ${ds.join(' ')}, ${pdbs.filter((n) => n === 1).length}/${2 * workers + 1} PDBs allowing 1`,
      );
    await sleep(3000);
  }
}

function podCount(tb) {
  return kubectlOk(tb, ['get', 'pods', '-A', '--no-headers', '-o', 'custom-columns=N:.metadata.name'])
    .trim()
    .split('\n')
    .filter(Boolean).length;
}

/** Runs the CLI, sampling its peak resident memory (VmHWM); with a budget, Ctrl-C after that long. */
async function runCli(tb, args, { budgetMs, stdoutFile, stderrFile } = {}) {
  const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', XDG_STATE_HOME: path.join(outDir, 'state') };
  const out = fs.openSync(stdoutFile, 'w');
  const err = fs.openSync(stderrFile, 'w');
  const started = process.hrtime.bigint();
  const startedAt = Date.now();
  const child = spawn(process.execPath, [cliBin, '--kubeconfig', tb.kubeconfig, ...args], {
    cwd: repo,
    env,
    stdio: ['ignore', out, err],
  });
  cliChild = child;
  let peakKb = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      // exited
    }
  };
  const sampler = setInterval(sample, 100);
  let interrupted = false;
  const budget = budgetMs
    ? setTimeout(() => {
        interrupted = true;
        log(`time budget of ${budgetMs / 1000} s reached: Ctrl-C (SIGINT) to the migration`);
        child.kill('SIGINT');
      }, budgetMs)
    : undefined;
  const status = await new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  clearInterval(sampler);
  if (budget) clearTimeout(budget);
  fs.closeSync(out);
  fs.closeSync(err);
  return {
    status,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    startedAt,
    endedAt: Date.now(),
    peakMb: peakKb / 1024,
    // Exit 4: stopped at a safe point by Ctrl-C, the time budget's or someone else's (`kill -INT PID`).
    interrupted: interrupted || status === 4,
  };
}

function controlPlaneMemoryMb(tb) {
  let kb = 0;
  for (const pid of clusterPids(tb.name)) {
    try {
      kb += Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // not running
    }
  }
  return kb / 1024;
}

/** The API audit log can pass a gigabyte at 1,000 nodes: stream it, and parse only the lines the figures use. */
async function readApiAudit(file) {
  const events = [];
  const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.includes('poddisruptionbudgets') && !CLI_USER_AGENT.test(/"userAgent":"([^"]*)"/.exec(line)?.[1] ?? ''))
      continue;
    try {
      events.push(JSON.parse(line));
    } catch {
      // a partial last line
    }
  }
  return events;
}

function readNdjson(file) {
  return fs.existsSync(file) ? analysis.parseNdjson(fs.readFileSync(file, 'utf8')) : [];
}

const fmt = (s, d = 1) => (Number.isFinite(s) ? s.toFixed(d) : '-');
const result = {
  nodes,
  workers,
  maxParallel,
  cli: cliBin,
  startedAt: new Date().toISOString(),
  loadAverage: {},
  host: { cpus: os.cpus().length, memoryGb: Math.round(os.totalmem() / 2 ** 30) },
};

log(`starting a test bed of ${nodes} nodes (load average ${loadAverage()})`);
let t0 = Date.now();
let cliChild;
let testbed;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`${signal}: stopping the migration and the test bed`);
    cliChild?.kill('SIGINT');
    setTimeout(() => (values.keep ? Promise.resolve() : testbed?.down()).finally(() => process.exit(130)), 3000);
  });
}
const tb = await startTestbed({
  nodes,
  controlPlane: 1,
  auditLog: true,
  podCidr,
  podDeletionDelayMs: POD_TERMINATION_MS,
  persistent: values.keep,
});
testbed = tb;
try {
  result.setup = { testbedSeconds: (Date.now() - t0) / 1000 };
  t0 = Date.now();
  await installFlannel(
    tb,
    podCidr === '10.244.0.0/16' ? {} : { netConf: { Network: podCidr, Backend: { Type: 'vxlan' } } },
  );
  result.setup.flannelSeconds = (Date.now() - t0) / 1000;
  t0 = Date.now();
  const objects = workloadObjects();
  log(`creating ${objects.length} workload objects (${6 * workers + 3} Deployment and StatefulSet pods, 2 DaemonSets)`);
  kubectlOk(
    tb,
    ['create', '-f', '-'],
    objects
      .slice(0, 1)
      .map((o) => JSON.stringify(o))
      .join('\n'),
  );
  for (let i = 1; i < objects.length; i += 100)
    kubectlOk(
      tb,
      ['create', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects.slice(i, i + 100) }),
    );
  await waitForWorkloads(tb, 600_000 + workers * 2000);
  result.setup.workloadSeconds = (Date.now() - t0) / 1000;
  result.pods = podCount(tb);
  log(
    `${result.pods} pods on ${nodes} nodes (${fmt(result.pods / nodes)} per node) after ${fmt(result.setup.testbedSeconds + result.setup.flannelSeconds + result.setup.workloadSeconds, 0)} s of setup; control plane ${fmt(controlPlaneMemoryMb(tb), 0)} MB RSS`,
  );

  // plan, on the same cluster
  result.loadAverage.plan = loadAverage();
  const plan = await runCli(tb, ['plan', '-o', 'json', '--max-parallel', maxParallel], {
    stdoutFile: path.join(outDir, 'plan.json'),
    stderrFile: path.join(outDir, 'plan.stderr'),
  });
  if (plan.status !== 0 && plan.status !== 3)
    throw new Error(
      `plan failed (exit ${plan.status}): ${fs.readFileSync(path.join(outDir, 'plan.stderr'), 'utf8').slice(-2000)}`,
    );
  result.plan = { seconds: plan.seconds, exit: plan.status, peakMb: plan.peakMb };
  log(`plan: ${fmt(plan.seconds, 2)} s (exit ${plan.status})`);

  // migrate
  const cliLog = path.join(outDir, 'cli-audit.ndjson');
  result.loadAverage.migrateStart = loadAverage();
  log(
    `migrate --yes --finalize --max-parallel ${maxParallel}${timeBudgetMs ? ` (time budget ${timeBudgetMs / 1000} s)` : ''}`,
  );
  const migrate = await runCli(
    tb,
    [
      '--log-file',
      cliLog,
      'migrate',
      '--yes',
      '--finalize',
      '--max-parallel',
      maxParallel,
      '--calico-manifest',
      manifest,
    ],
    {
      budgetMs: timeBudgetMs,
      stdoutFile: path.join(outDir, 'migrate.stdout'),
      stderrFile: path.join(outDir, 'migrate.stderr'),
    },
  );
  result.loadAverage.migrateEnd = loadAverage();
  result.controlPlaneRssMb = controlPlaneMemoryMb(tb);
  result.apiServerReady = tb.kubectl(['get', '--raw', '/readyz']).status === 0;
  if (migrate.status !== 0 && !migrate.interrupted) {
    throw new Error(
      `migrate failed (exit ${migrate.status}): ${fs.readFileSync(path.join(outDir, 'migrate.stderr'), 'utf8').slice(-3000)}`,
    );
  }
  result.migrate = {
    seconds: migrate.seconds,
    exit: migrate.status,
    interrupted: migrate.interrupted,
    peakMb: migrate.peakMb,
  };

  // where the time went
  const cliEntries = readNdjson(cliLog).filter((e) => e.command === 'migrate');
  const apiEvents = await readApiAudit(tb.auditLogPath);
  result.apiAuditLogMb = fs.statSync(tb.auditLogPath).size / 2 ** 20;
  fs.copyFileSync(tb.auditLogPath, path.join(outDir, 'kube-apiserver-audit.log'));
  const pdbAllowed = analysis.pdbAllowedTimes(apiEvents);
  const splits = analysis.splitNodeTimes(cliEntries, pdbAllowed);
  const summary = analysis.summariseSplits(splits);
  const migrated = summary.finished;
  const firstBatch = Math.min(...splits.map((s) => s.startMs));
  const lastNode = Math.max(...splits.filter((s) => s.finished).map((s) => s.endMs));
  result.timeSplit = {
    ...summary,
    preparationSeconds: (firstBatch - migrate.startedAt) / 1000,
    afterLastNodeSeconds: (migrate.endedAt - lastNode) / 1000,
  };
  result.nodeSplits = splits.map(({ segments, ...rest }) => rest);
  const all = analysis.countRequests(apiEvents, CLI_USER_AGENT, migrate.startedAt, migrate.endedAt);
  const inBatches = analysis.countRequests(apiEvents, CLI_USER_AGENT, firstBatch, lastNode);
  const planRequests = analysis.countRequests(apiEvents, CLI_USER_AGENT, plan.startedAt, plan.endedAt);
  result.requests = {
    whole: all,
    nodeSteps: inBatches,
    plan: { total: planRequests.total, byVerb: planRequests.byVerb },
  };
  result.migratedNodes = migrated;
  if (migrate.interrupted)
    result.extrapolatedSeconds = migrated
      ? (firstBatch - migrate.startedAt) / 1000 + ((lastNode - firstBatch) / 1000) * (nodes / migrated)
      : undefined;
  result.calicoModelledSeconds = analysis.calicoModelledSeconds(nodes);

  // the timeline, rendered by the tool's own report from what the migration recorded
  const report = spawnSync(
    process.execPath,
    [cliBin, '--kubeconfig', tb.kubeconfig, '--log-file', cliLog, 'report', '--out-dir', path.join(outDir, 'report')],
    { cwd: repo, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
  );
  result.timelineSvg = report.status === 0 ? path.join(outDir, 'report', 'timeline.svg') : undefined;
  if (report.status !== 0) log(`report failed (exit ${report.status}): ${report.stderr.slice(-500)}`);
  fs.writeFileSync(path.join(outDir, 'bench.json'), `${JSON.stringify(result, null, 2)}\n`);

  // the tables
  const wall = migrate.seconds;
  const headline = new Table({ head: ['figure', 'value'], style: { head: [], border: [] } });
  headline.push(
    ['cluster', `${nodes} nodes (1 control plane), ${result.pods} pods (${fmt(result.pods / nodes)} per node)`],
    ['--max-parallel', maxParallel],
    [
      'workload',
      `${2 * workers} Deployments x 3 + StatefulSet x 3 (each behind a PDB maxUnavailable 1), 2 DaemonSets; pods terminate in ${POD_TERMINATION_MS / 1000} s`,
    ],
    [
      'migrate wall time',
      `${fmt(wall)} s${migrate.interrupted ? ` (stopped by the time budget after ${migrated} nodes)` : ''}`,
    ],
    ...(result.extrapolatedSeconds
      ? [
          [
            'extrapolated to all nodes',
            `${fmt(result.extrapolatedSeconds)} s (EXTRAPOLATED from ${migrated} nodes, not run)`,
          ],
        ]
      : []),
    ['  preparation (Calico install, IPAM, labels)', `${fmt(result.timeSplit.preparationSeconds)} s`],
    ['  after the last node (finalize)', `${fmt(result.timeSplit.afterLastNodeSeconds)} s`],
    ['per node (start of its batch to done)', `${fmt(summary.meanTotalMs / 1000, 2)} s mean over ${migrated} nodes`],
    ['  inherent waits', `${fmt(summary.meanInherentMs / 1000, 2)} s`],
    ...analysis.INHERENT_WAITS.map((w) => [
      `    ${analysis.WAIT_TITLES[w]}`,
      `${fmt(summary.meanWaitsMs[w] / 1000, 2)} s`,
    ]),
    ['  tool overhead', `${fmt(summary.meanOverheadMs / 1000, 2)} s`],
    ...(summary.meanSelfReported
      ? [
          [
            "  (the tool's own account: waiting / pausing)",
            `${fmt(summary.meanSelfReported.waitedMs / 1000, 2)} s / ${fmt(summary.meanSelfReported.pausedMs / 1000, 2)} s`,
          ],
        ]
      : []),
    [
      'batches',
      `${summary.batches.length}, mean wall ${fmt(summary.batches.reduce((a, b) => a + b.wallMs, 0) / Math.max(1, summary.batches.length) / 1000, 1)} s` +
        (summary.rolling
          ? `; then ${summary.rolling.nodes} nodes rolling, ${fmt(summary.rolling.wallMs / 1000, 1)} s from the first one's start to the last one's end`
          : ''),
    ],
    [
      'API requests per node (whole run)',
      `${fmt(all.total / nodes)} (${Object.entries(all.byVerb)
        .sort((a, b) => b[1] - a[1])
        .map(([v, n]) => `${v} ${fmt(n / nodes)}`)
        .join(', ')})`,
    ],
    ['write requests per node (whole run)', fmt(all.writes / nodes)],
    ['write requests per node (node steps only)', fmt(inBatches.writes / Math.max(1, migrated))],
    ['CLI peak memory (VmHWM)', `${fmt(migrate.peakMb, 0)} MB`],
    ['plan', `${fmt(plan.seconds, 2)} s (process wall, exit ${plan.status}), peak ${fmt(plan.peakMb, 0)} MB`],
    [
      'control plane after the run',
      `${fmt(result.controlPlaneRssMb, 0)} MB RSS, /readyz ${result.apiServerReady ? 'ok' : 'FAILING'}`,
    ],
    [
      'load average (1/5/15 min) start / end',
      `${result.loadAverage.migrateStart} / ${result.loadAverage.migrateEnd} on ${os.cpus().length} cores`,
    ],
  );
  const side = new Table({ head: ['', 'wall time', 'per node', 'how'], style: { head: [], border: [] } });
  side.push(
    [
      'flannel2calico',
      `${fmt(result.extrapolatedSeconds ?? wall)} s`,
      `${fmt((result.extrapolatedSeconds ?? wall) / nodes, 2)} s`,
      migrate.interrupted ? 'extrapolated from a partial run' : `measured, --max-parallel ${maxParallel}`,
    ],
    [
      "Calico's flannel-migration controller",
      `${fmt(result.calicoModelledSeconds)} s`,
      `${analysis.CALICO_SECONDS_PER_NODE} s`,
      'MODELLED, not run (its Go modules are refused by the proxy here): 15.4 s per node measured on this test bed, strictly serial (with 3-pod Deployments only; its kubectl drain waits on the same PDBs)',
    ],
  );
  const verbs = new Table({ head: ['request (whole run)', 'count', 'per node'], style: { head: [], border: [] } });
  for (const r of all.byResource.slice(0, 15)) verbs.push([r.key, r.count, fmt(r.count / nodes, 2)]);
  console.log(headline.toString());
  console.log(side.toString());
  console.log(verbs.toString());
  console.log(`bench.json, timeline.svg, logs: ${outDir}`);
} finally {
  if (!values.keep) await tb.down();
  else log(`test bed ${tb.name} kept (kubeconfig ${tb.kubeconfig})`);
}
