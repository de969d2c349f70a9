/**
 * The bad-input matrix: every kind of wrong input to detect, plan and migrate, against one real test
 * bed (3 nodes, flannel installed). Each row asserts the documented exit code, one clear message with
 * a fix, and that nothing in the cluster changed: the resourceVersion of every object of every
 * listable resource type is compared before and after the row.
 *
 * What the control plane itself renews is not a change made by the tool: an object whose
 * resourceVersion moved is a mutation only when a field manager other than the Kubernetes components
 * below (kube-controller-manager, kube-scheduler, kube-apiserver, the kubelet, and kwok, which plays
 * the kubelets) wrote it. Events are compared only for the tool's own (label
 * app.kubernetes.io/managed-by=flannel2calico); the control plane writes the others.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import {
  fixturesDir,
  installFlannel,
  kubectlJson,
  kubectlOk,
  repoRoot,
  startTestbed,
  type CommandResult,
  type Testbed,
} from '../testbed/harness.js';

const calicoManifest = path.join(fixturesDir, 'calico-v3.32.1/flannel-migration-calico.yaml');
const MANAGED_BY = 'app.kubernetes.io/managed-by=flannel2calico';
/** Field managers of the Kubernetes components (and kwok, the test bed's kubelets). */
const CONTROL_PLANE_MANAGERS =
  /^(kube-controller-manager|kube-scheduler|kube-apiserver|kubelet|kwok.*|kube-controller-manager\/.*)$/;

const SETTINGS_ENV = [
  'FLANNEL_NETWORK',
  'FLANNEL_IPV6_NETWORK',
  'FLANNEL_DAEMONSET_NAME',
  'FLANNEL_DAEMONSET_NAMESPACE',
  'FLANNEL_MTU',
  'FLANNEL_IP_MASQ',
  'FLANNEL_SUBNET_LEN',
  'FLANNEL_IPV6_SUBNET_LEN',
  'FLANNEL_ANNOTATION_PREFIX',
  'FLANNEL_VNI',
  'FLANNEL_PORT',
  'CALICO_DAEMONSET_NAME',
  'CNI_CONFIG_DIR',
];

interface ObjectState {
  rv: string;
  writers: string;
}
type Snapshot = Map<string, ObjectState>;

interface Row {
  name: string;
  args: string[];
  /** Replaces the test bed's admin kubeconfig; null: no --kubeconfig at all. */
  kubeconfig?: string | null;
  env?: Record<string, string>;
  exit: number;
  message: RegExp;
  /** The fix: a hint line or, for detection findings, a fix line. */
  fix: RegExp;
  /** Prepared before the row's "before" snapshot, undone after its "after" snapshot. */
  setup?: () => void;
  teardown?: () => void;
}

let tb: Testbed;
let work: string;
let listable: string[] = [];
let silentServer: net.Server;
/** In its own process: the test's own event loop is blocked while the CLI runs (spawnSync). */
let webServer: ChildProcess;
/** The last "after" snapshot, reused as the next row's "before" (nothing but the rows touches the cluster). */
let lastSnapshot: Snapshot | undefined;
let silentPort = 0;
let webPort = 0;
let closedPort = 0;
const tokens: Record<string, string> = {};
const kubeconfigs: Record<string, string> = {};
let rowsRun = 0;
let mutationsSeen = 0;

/** Runs the CLI with exactly these arguments (no implicit kubeconfig), settings variables cleared. */
function cli(
  args: string[],
  opts: { kubeconfig?: string | null; env?: Record<string, string>; timeoutMs?: number } = {},
): CommandResult {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !SETTINGS_ENV.includes(k) && k !== 'KUBECONFIG') env[k] = v;
  Object.assign(
    env,
    { NO_COLOR: '1', FORCE_COLOR: '0', XDG_STATE_HOME: path.join(work, 'state'), HOME: path.join(work, 'home') },
    opts.env ?? {},
  );
  const kc = opts.kubeconfig === undefined ? tb.kubeconfig : opts.kubeconfig;
  const r = spawnSync(
    process.execPath,
    [path.join(repoRoot, 'bin', 'flannel2calico.js'), ...(kc ? ['--kubeconfig', kc] : []), ...args],
    {
      cwd: repoRoot,
      env,
      input: '',
      encoding: 'utf8',
      timeout: opts.timeoutMs ?? 120_000,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return {
    stdout: r.stdout ?? '',
    stderr: `${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`,
    status: r.status ?? 124,
  };
}

function snapshot(): Snapshot {
  const out: Snapshot = new Map();
  const list = kubectlJson<{ items: any[] }>(tb, ['get', listable.join(','), '-A', '--show-managed-fields']).items;
  const events = kubectlJson<{ items: any[] }>(tb, [
    'get',
    'events',
    '-A',
    '-l',
    MANAGED_BY,
    '--show-managed-fields',
  ]).items;
  for (const o of [...list, ...events]) {
    const m = o.metadata ?? {};
    const writers = (m.managedFields ?? [])
      .filter((f: any) => !CONTROL_PLANE_MANAGERS.test(String(f.manager)))
      .map((f: any) => `${f.manager}/${f.operation}/${f.subresource ?? ''}@${f.time}`)
      .sort()
      .join(' ');
    out.set(`${o.apiVersion}/${o.kind}/${m.namespace ?? ''}/${m.name}`, { rv: String(m.resourceVersion), writers });
  }
  return out;
}

/** What changed between two snapshots, other than what the control plane renews. */
function mutations(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const [key, b] of before) {
    const a = after.get(key);
    if (!a) out.push(`removed ${key}`);
    else if (a.rv !== b.rv && a.writers !== b.writers) out.push(`changed ${key} (${a.writers})`);
  }
  for (const key of after.keys()) if (!before.has(key)) out.push(`added ${key}`);
  return out;
}

function listen<T extends net.Server>(server: T): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

/** A kubeconfig for the test bed's API server (or another server) with a bearer token. */
function tokenKubeconfig(name: string, token: string, server?: string): string {
  const admin = YAML.parse(fs.readFileSync(tb.kubeconfig, 'utf8'));
  const cluster = {
    ...admin.clusters[0].cluster,
    ...(server
      ? {
          server,
          'insecure-skip-tls-verify': true,
          'certificate-authority-data': undefined,
          'certificate-authority': undefined,
        }
      : {}),
  };
  for (const k of Object.keys(cluster)) if (cluster[k] === undefined) delete cluster[k];
  const file = path.join(work, `${name}.kubeconfig`);
  fs.writeFileSync(
    file,
    YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster }],
      users: [{ name: name, user: { token } }],
      contexts: [{ name, context: { cluster: 'c', user: name } }],
      'current-context': name,
    }),
    { mode: 0o600 },
  );
  return file;
}

function writeFile(name: string, text: string): string {
  const file = path.join(work, name);
  fs.writeFileSync(file, text);
  return file;
}

function serviceAccount(name: string, rules: object[] | 'cluster-admin' | undefined): string {
  kubectlOk(tb, ['create', 'serviceaccount', name, '-n', 'default']);
  if (rules === 'cluster-admin') {
    kubectlOk(tb, [
      'create',
      'clusterrolebinding',
      name,
      '--clusterrole=cluster-admin',
      `--serviceaccount=default:${name}`,
    ]);
  } else if (rules) {
    kubectlOk(
      tb,
      ['apply', '-f', '-'],
      YAML.stringify({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules }),
    );
    kubectlOk(tb, ['create', 'clusterrolebinding', name, `--clusterrole=${name}`, `--serviceaccount=default:${name}`]);
  }
  return kubectlOk(tb, ['create', 'token', name, '-n', 'default', '--duration=2h']).trim();
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-bad-input-'));
  fs.mkdirSync(path.join(work, 'home'));
  tb = await startTestbed({ nodes: 3, controlPlane: 1 });
  await installFlannel(tb);

  tokens.admin = serviceAccount('f2c-admin', 'cluster-admin');
  tokens.nobody = serviceAccount('f2c-nobody', undefined);
  tokens.reader = serviceAccount('f2c-reader', [
    { apiGroups: [''], resources: ['nodes', 'pods', 'configmaps', 'services'], verbs: ['get', 'list'] },
    { apiGroups: ['apps'], resources: ['daemonsets'], verbs: ['get', 'list'] },
    { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['list'] },
  ]);
  kubeconfigs.admin = tokenKubeconfig('admin', tokens.admin);
  kubeconfigs.nobody = tokenKubeconfig('nobody', tokens.nobody);
  kubeconfigs.reader = tokenKubeconfig('reader', tokens.reader);
  kubeconfigs.wrongToken = tokenKubeconfig('wrong-token', 'not-a-valid-token-0123456789');

  silentServer = net.createServer(() => undefined);
  silentPort = await listen(silentServer);
  webServer = spawn(
    process.execPath,
    [
      '-e',
      `
    const server = require('node:http').createServer((req, res) => { res.writeHead(404, { 'Content-Type': 'text/html' }); res.end('<html><body>Not Found</body></html>'); });
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  webPort = await new Promise<number>((resolve) =>
    webServer.stdout!.once('data', (d) => resolve(Number(String(d).trim()))),
  );
  const probe = net.createServer();
  closedPort = await listen(probe);
  await new Promise((resolve) => probe.close(resolve));
  kubeconfigs.closed = tokenKubeconfig('closed', 'x', `https://127.0.0.1:${closedPort}`);
  kubeconfigs.silentTls = tokenKubeconfig('silent-tls', 'x', `https://127.0.0.1:${silentPort}`);
  kubeconfigs.silentHttp = tokenKubeconfig('silent-http', 'x', `http://127.0.0.1:${silentPort}`);
  kubeconfigs.notKubernetes = tokenKubeconfig('not-kubernetes', 'x', `http://127.0.0.1:${webPort}`);

  listable = kubectlOk(tb, ['api-resources', '--verbs=list', '-o', 'name'])
    .split('\n')
    .map((s) => s.trim())
    .filter((r) => r && r !== 'events' && r !== 'events.events.k8s.io');
}, 300_000);

afterAll(async () => {
  silentServer?.close();
  webServer?.kill();
  await tb?.down();
  if (work) fs.rmSync(work, { recursive: true, force: true });
  // The report the issue asks for: how many bad inputs were tried and how many changed the cluster.
  process.stderr.write(`bad-input matrix: ${rowsRun} bad inputs tried, ${mutationsSeen} mutations observed\n`);
});

function checkRow(row: Row): void {
  if (row.setup) {
    row.setup();
    lastSnapshot = undefined;
  }
  const before = lastSnapshot ?? snapshot();
  let r: CommandResult;
  try {
    r = cli(row.args, { kubeconfig: row.kubeconfig, env: row.env });
  } finally {
    const after = snapshot();
    const changed = mutations(before, after);
    lastSnapshot = after;
    if (row.teardown) {
      row.teardown();
      lastSnapshot = undefined;
    }
    rowsRun++;
    mutationsSeen += changed.length;
    expect(changed).toEqual([]);
  }
  const context = `${row.name}: exit ${r.status}\nstdout: ${r.stdout.slice(0, 3000)}\nstderr: ${r.stderr.slice(0, 3000)}`;
  if (r.status !== row.exit) throw new Error(`expected exit ${row.exit}; ${context}`);
  const output = `${r.stderr}\n${r.stdout}`;
  if (!row.message.test(output)) throw new Error(`message ${row.message} not found; ${context}`);
  if (!row.fix.test(output)) throw new Error(`fix ${row.fix} not found; ${context}`);
  expect(output).not.toMatch(
    /TypeError|ReferenceError|Cannot read propert|undefined|\[object Object\]|forbidden: forbidden|\n\s+at .+\(.*\.js:\d+:\d+\)/,
  );
  if (r.status !== 3) expect(r.stderr.match(/^error: /gm)?.length ?? 0).toBe(1);
}

const HINT = /^hint: .+/m;
const migrate = (...args: string[]) => [
  'migrate',
  '--yes',
  '--no-finalize',
  '--calico-manifest',
  calicoManifest,
  ...args,
];

describe('bad input changes nothing', () => {
  describe('kubeconfig faults (exit 2)', () => {
    const rows: Array<[string, () => string | null, string[], RegExp]> = [
      [
        'missing file',
        () => path.join(work, 'no-such-kubeconfig'),
        ['detect'],
        /kubeconfig file .*no-such-kubeconfig does not exist/,
      ],
      [
        'no kubeconfig anywhere (no flag, no KUBECONFIG, no ~/.kube/config)',
        () => null,
        migrate(),
        /no kubeconfig found \(looked at .*\.kube\/config\)/,
      ],
      ['empty file', () => writeFile('empty.kubeconfig', ''), migrate(), /kubeconfig .*empty\.kubeconfig is empty/],
      ['a directory', () => work, ['plan'], /kubeconfig .* is a directory, not a file/],
      [
        'not YAML',
        () => writeFile('broken.kubeconfig', 'apiVersion: v1\nclusters: [\n  {name: c\n'),
        ['detect'],
        /is not valid YAML \(line \d+, column \d+\)/,
      ],
      [
        'no contexts',
        () =>
          writeFile('nocontexts.kubeconfig', 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n'),
        migrate(),
        /defines no contexts/,
      ],
      [
        'no current-context',
        () => {
          const kc = YAML.parse(fs.readFileSync(tb.kubeconfig, 'utf8'));
          delete kc['current-context'];
          return writeFile('nocurrent.kubeconfig', YAML.stringify(kc));
        },
        migrate(),
        /sets no current-context/,
      ],
    ];
    for (const [name, kubeconfig, args, message] of rows) {
      it(name, () =>
        checkRow({
          name,
          args,
          kubeconfig: kubeconfig(),
          exit: 2,
          message,
          fix: /hint: .*(--kubeconfig|--context|kubectl config)/,
        }),
      );
    }
    it('unknown --context', () =>
      checkRow({
        name: 'unknown context',
        args: ['--context', 'nope', ...migrate()],
        exit: 2,
        message: /context "nope" not found in the kubeconfig; known contexts: /,
        fix: /hint: Pick one of the known contexts/,
      }));
  });

  describe('servers and credentials', () => {
    it('unreachable server (closed port on 127.0.0.1): exit 1 naming host:port', () =>
      checkRow({
        name: 'unreachable',
        args: ['detect'],
        kubeconfig: kubeconfigs.closed,
        exit: 1,
        message: new RegExp(`cannot reach the API server at 127\\.0\\.0\\.1:${closedPort} \\(connection refused\\)`),
        fix: /hint: Check that the cluster is running/,
      }));
    it('silent server that never completes the TLS handshake: bounded, exit 1', () =>
      checkRow({
        name: 'silent tls',
        args: ['--request-timeout', '2s', ...migrate()],
        kubeconfig: kubeconfigs.silentTls,
        exit: 1,
        message: new RegExp(`no connection to the API server at 127\\.0\\.0\\.1:${silentPort} within 1 s`),
        fix: /hint: Check that 127\.0\.0\.1:\d+ is the address of the cluster's API server/,
      }));
    it('silent server that accepts the request and never answers: bounded, exit 1', () =>
      checkRow({
        name: 'silent http',
        args: ['--request-timeout', '2s', 'plan'],
        kubeconfig: kubeconfigs.silentHttp,
        exit: 1,
        // Progress first (plain lines without a terminal), then the error.
        message: new RegExp(
          `connecting to 127\\.0\\.0\\.1:${silentPort} \\(context silent-http\\) \\.\\.\\.\\nerror: ` +
            `the API server at 127\\.0\\.0\\.1:${silentPort} accepted the connection but did not ` +
            `answer within 2 s`,
        ),
        fix: /hint: .*raise --request-timeout/,
      }));
    it('a server that is not Kubernetes: the same message every run', () => {
      const row = {
        name: 'not kubernetes',
        args: ['detect'],
        kubeconfig: kubeconfigs.notKubernetes,
        exit: 1,
        message: new RegExp(
          `the server at 127\\.0\\.0\\.1:${webPort} is not a Kubernetes API server \\(GET /version ` +
            `answered HTTP 404 text/html`,
        ),
        fix: /hint: Point --kubeconfig\/--context at the cluster's API server/,
      };
      checkRow(row);
      checkRow({ ...row, args: migrate() });
    });
    it('401 (wrong token): exit 1 and one line, for detect, plan and migrate', () => {
      for (const args of [['detect'], ['plan'], migrate()]) {
        checkRow({
          name: `401 ${args[0]}`,
          args,
          kubeconfig: kubeconfigs.wrongToken,
          exit: 1,
          message: /error: the API server at 127\.0\.0\.1:\d+ rejected the credentials \(401 Unauthorized\)/,
          fix: /hint: The token or client certificate .* is wrong or expired/,
        });
      }
    });
    it('403, a user without any rights: detection fails (exit 3) naming every missing permission', () =>
      checkRow({
        name: '403 nobody',
        args: ['detect'],
        kubeconfig: kubeconfigs.nobody,
        exit: 3,
        message:
          /your permissions cover the migration: missing \d+ of \d+ permissions: get, list, patch nodes cluster-wide; .*create pods\/eviction cluster-wide/,
        fix: /fix: Bind a ClusterRole with these verbs/,
      }));
    it('403, a read-only user: migrate refuses before any change (exit 3), naming the missing write permissions', () =>
      checkRow({
        name: '403 reader',
        args: migrate(),
        kubeconfig: kubeconfigs.reader,
        exit: 3,
        message:
          /missing \d+ of \d+ permissions: patch nodes cluster-wide; patch, delete daemonsets\.apps in namespace kube-flannel/,
        fix: /fix: Bind a ClusterRole/,
      }));
  });

  describe('bad flag and environment values (exit 2)', () => {
    const rows: Array<[string, string[], RegExp, Record<string, string>?]> = [
      ['-o xml', ['-o', 'xml', 'detect'], /option '-o, --output <format>' argument 'xml' is invalid/],
      ['unknown option', ['plan', '--bogus'], /unknown option '--bogus'/],
      ['--dry-run=bogus', ['--dry-run=bogus', 'migrate'], /argument 'bogus' is invalid/],
      ['--request-timeout 0', ['--request-timeout', '0', 'detect'], /--request-timeout: must be longer than 0/],
      ['--request-timeout garbage', ['--request-timeout', 'soon', 'plan'], /--request-timeout: expected a duration/],
      ['plan --max-parallel 0', ['plan', '--max-parallel', '0'], /--max-parallel: must be at least 1/],
      ['migrate --max-parallel abc', migrate('--max-parallel', 'abc'), /--max-parallel: expected N or N%/],
      [
        'migrate --max-parallel 120%',
        migrate('--max-parallel', '120%'),
        /--max-parallel: a percentage must be at most 100%/,
      ],
      ['migrate --drain-timeout 0', migrate('--drain-timeout', '0'), /--drain-timeout: must be longer than 0/],
      ['migrate --drain-timeout -5s', migrate('--drain-timeout=-5s'), /--drain-timeout: expected a duration/],
      ['plan --drain-timeout 5x', ['plan', '--drain-timeout', '5x'], /--drain-timeout: expected a duration/],
      ['migrate --step-timeout 0', migrate('--step-timeout', '0'), /--step-timeout: must be longer than 0/],
      ['migrate --step-timeout garbage', migrate('--step-timeout', 'forever'), /--step-timeout: expected a duration/],
      ['migrate --grace-period -5', migrate('--grace-period=-5'), /--grace-period: expected -1 or a whole number/],
      ['migrate --nodes ","', migrate('--nodes', ','), /--nodes: expected a comma-separated list/],
      ['plan --nodes with an unknown node', ['plan', '--nodes', 'worker-0,nope'], /nope/],
      ['migrate --nodes with an unknown node', migrate('--nodes', 'nope'), /nope/],
      [
        'detect --flannel-vni seven',
        ['detect', '--flannel-vni', 'seven'],
        /--flannel-vni: expected a whole number \(got "seven"\)/,
      ],
      [
        'migrate FLANNEL_VNI=abc',
        migrate(),
        /FLANNEL_VNI: expected a whole number \(got "abc"\)/,
        { FLANNEL_VNI: 'abc' },
      ],
      [
        'plan FLANNEL_NETWORK=banana',
        ['plan'],
        /FLANNEL_NETWORK: expected an IPv4 CIDR/,
        { FLANNEL_NETWORK: 'banana' },
      ],
      [
        'migrate --flannel-daemonset a/b/c',
        migrate('--flannel-daemonset', 'a/b/c'),
        /expected NAME or NAMESPACE\/NAME/,
      ],
      [
        'migrate without a terminal and without --yes',
        ['migrate', '--calico-manifest', calicoManifest],
        /no terminal to ask on/,
      ],
    ];
    for (const [name, args, message, env] of rows) {
      it(name, () => checkRow({ name, args, env, exit: 2, message, fix: HINT }));
    }
  });

  describe('saved plan files (exit 2 before the cluster is read; drift: exit 3)', () => {
    let planFile = '';
    beforeAll(() => {
      planFile = path.join(work, 'plan.json');
      const r = cli(['plan', '--out', planFile]);
      // 3: a failing preflight finding; the plan is saved all the same.
      if (r.status !== 0 && r.status !== 3) throw new Error(`plan --out failed: ${r.stderr}`);
    });
    const fix = /hint: Make a new plan with `flannel2calico plan --out plan\.json`/;
    it('missing', () =>
      checkRow({
        name: 'plan missing',
        args: migrate('--plan', path.join(work, 'nope.json')),
        exit: 2,
        message: /cannot read the plan .*nope\.json: no such file/,
        fix: /hint: Create one with `flannel2calico plan --out plan\.json`/,
      }));
    it('corrupt JSON', () =>
      checkRow({
        name: 'plan corrupt',
        args: migrate('--plan', writeFile('corrupt.json', '{"apiVersion": "flannel2calico/v1", kind: Plan}')),
        exit: 2,
        message: /corrupt\.json is not a usable flannel2calico plan: it is not valid JSON/,
        fix,
      }));
    it('truncated', () => {
      const text = fs.readFileSync(planFile, 'utf8');
      checkRow({
        name: 'plan truncated',
        args: migrate('--plan', writeFile('truncated.json', text.slice(0, Math.floor(text.length * 0.6)))),
        exit: 2,
        message: /not valid JSON.*the file may be truncated/,
        fix,
      });
    });
    it('empty', () =>
      checkRow({
        name: 'plan empty',
        args: migrate('--plan', writeFile('empty.json', '')),
        exit: 2,
        message: /empty\.json is not a usable flannel2calico plan: the file is empty/,
        fix,
      }));
    it('right apiVersion and kind, no body', () =>
      checkRow({
        name: 'plan no body',
        args: migrate('--plan', writeFile('nobody.json', '{"apiVersion":"flannel2calico/v1","kind":"Plan"}')),
        exit: 2,
        message: /nobody\.json is not a usable flannel2calico plan: createdAt is missing; cluster is missing/,
        fix,
      }));
    it('edited by hand (fingerprint no longer matches its hash)', () => {
      const plan = JSON.parse(fs.readFileSync(planFile, 'utf8'));
      plan.cluster.fingerprint['node/worker-9'] = 'podCIDRs=0';
      checkRow({
        name: 'plan edited',
        args: migrate('--plan', writeFile('edited.json', JSON.stringify(plan))),
        exit: 2,
        message: /does not match cluster\.stateHash \(the file was edited\)/,
        fix,
      });
    });
    it('drifted: the cluster changed since the plan was made', () =>
      checkRow({
        name: 'plan drifted',
        args: migrate('--plan', planFile),
        exit: 3,
        message:
          /PodDisruptionBudget default\/drift was added[\s\S]*the cluster changed since the plan was made \(1 difference\); nothing was changed/,
        fix: /hint: Make a new plan/,
        setup: () => {
          kubectlOk(tb, [
            'create',
            'poddisruptionbudget',
            'drift',
            '-n',
            'default',
            '--selector=app=none',
            '--min-available=1',
          ]);
        },
        teardown: () => {
          kubectlOk(tb, ['delete', 'poddisruptionbudget', 'drift', '-n', 'default']);
        },
      }));
  });

  describe('Calico manifests (exit 2)', () => {
    it('missing', () =>
      checkRow({
        name: 'manifest missing',
        args: ['migrate', '--yes', '--calico-manifest', path.join(work, 'nope.yaml')],
        exit: 2,
        message: /cannot read the Calico manifest .*nope\.yaml: no such file/,
        fix: HINT,
      }));
    it('not YAML', () =>
      checkRow({
        name: 'manifest not yaml',
        args: ['migrate', '--yes', '--calico-manifest', writeFile('bad.yaml', 'kind: [DaemonSet\n  : :\n')],
        exit: 2,
        message: /the Calico manifest .*bad\.yaml is not valid YAML/,
        fix: HINT,
      }));
    it('YAML without a DaemonSet', () =>
      checkRow({
        name: 'manifest without DaemonSet',
        args: [
          'migrate',
          '--yes',
          '--calico-manifest',
          writeFile('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: default}\n'),
        ],
        exit: 2,
        message: /the Calico manifest .*cm\.yaml has no DaemonSet/,
        fix: HINT,
      }));
    it('unreachable URL', () =>
      checkRow({
        name: 'manifest unreachable',
        args: ['migrate', '--yes', '--calico-manifest', `http://127.0.0.1:${closedPort}/calico.yaml`],
        exit: 2,
        message: /cannot download the Calico manifest .*: ECONNREFUSED/,
        fix: /hint: Download it yourself/,
      }));
    it('URL of a server that never answers: bounded', () =>
      checkRow({
        name: 'manifest silent',
        args: [
          '--request-timeout',
          '2s',
          'migrate',
          '--yes',
          '--calico-manifest',
          `http://127.0.0.1:${silentPort}/calico.yaml`,
        ],
        exit: 2,
        message: /cannot download the Calico manifest .*: no answer within 2 s/,
        fix: /hint: Download it yourself/,
      }));
  });

  describe('audit log that cannot be written (exit 2, before the first change)', () => {
    it('a path under a regular file', () =>
      checkRow({
        name: 'log under a file',
        args: migrate('--log-file', path.join(writeFile('a-file', 'x'), 'audit.ndjson')),
        exit: 2,
        message: /cannot write the audit log .*a part of its path is a file, not a directory; nothing was changed/,
        fix: /hint: Choose a writable file with --log-file/,
      }));
    it('a directory', () =>
      checkRow({
        name: 'log is a directory',
        args: migrate('--log-file', work),
        exit: 2,
        message: /cannot write the audit log .*: it is a directory; nothing was changed/,
        fix: /hint: Choose a writable file with --log-file/,
      }));
  });

  describe('errors with -o json|yaml are documents on stdout too', () => {
    it('json: the error, its kind, hint and exit code; stderr keeps the human line', () => {
      const r = cli(['-o', 'json', 'detect'], { kubeconfig: kubeconfigs.wrongToken });
      expect(r.status).toBe(1);
      const doc = JSON.parse(r.stdout) as { error: { kind: string; message: string; hint: string; exitCode: number } };
      expect(doc.error).toMatchObject({ kind: 'unauthorized', exitCode: 1 });
      expect(doc.error.message).toMatch(/401 Unauthorized/);
      expect(doc.error.hint).toMatch(/wrong or expired/);
      expect(r.stderr).toMatch(/^error: .*401 Unauthorized/m);
    });
    it('yaml, for a bad flag value caught by the option parser', () => {
      const r = cli(['-o', 'yaml', 'plan', '--max-parallel']);
      expect(r.status).toBe(2);
      expect(YAML.parse(r.stdout)).toMatchObject({ error: { kind: 'usage', exitCode: 2 } });
    });
    it('json, for a bad plan file', () => {
      const r = cli([
        '-o',
        'json',
        ...migrate('--plan', writeFile('nobody2.json', '{"apiVersion":"flannel2calico/v1","kind":"Plan"}')),
      ]);
      expect(r.status).toBe(2);
      expect(JSON.parse(r.stdout).error).toMatchObject({ kind: 'usage', exitCode: 2 });
    });
  });

  describe('--dry-run before or after the command (client dry run: exit 0, nothing changed)', () => {
    for (const args of [
      ['--dry-run', 'migrate', '--calico-manifest', calicoManifest],
      ['migrate', '--dry-run', '--calico-manifest', calicoManifest],
    ]) {
      it(args.join(' '), () => {
        const before = lastSnapshot ?? snapshot();
        const r = cli(args);
        expect(mutations(before, snapshot())).toEqual([]);
        expect(r.stderr).not.toMatch(/^error:/m);
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(/Dry run \(client\): nothing is changed/);
      });
    }
    it('--dry-run server sends the writes with dryRun=All (the mode after a space is kept)', () => {
      const log = path.join(work, 'server-dry-run.ndjson');
      const r = cli(
        [
          '--dry-run',
          'server',
          'migrate',
          '--yes',
          '--no-finalize',
          '--nodes',
          'worker-0',
          '--calico-manifest',
          calicoManifest,
          '--log-file',
          log,
        ],
        { timeoutMs: 240_000 },
      );
      expect(r.stderr).not.toMatch(/^error:/m);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/Server dry run/);
      const entries = fs
        .readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; dryRun?: boolean });
      expect(entries.filter((e) => e.type === 'mutation').length).toBeGreaterThan(0);
      expect(entries.filter((e) => e.type === 'mutation').every((e) => e.dryRun === true)).toBe(true);
    }, 300_000);
  });
});

describe('least privilege and secrets', () => {
  it('no token is printed or logged, with -v, by detect, plan and both dry runs of migrate (token kubeconfig)', () => {
    const state = path.join(work, 'secrets-state');
    const env = { XDG_STATE_HOME: state };
    const runs = [
      cli(['-v', 'detect'], { kubeconfig: kubeconfigs.admin, env }),
      cli(['-v', 'plan'], { kubeconfig: kubeconfigs.admin, env }),
      cli(['-v', '--dry-run', 'migrate', '--calico-manifest', calicoManifest], { kubeconfig: kubeconfigs.admin, env }),
      cli(
        [
          '-v',
          '--dry-run=server',
          'migrate',
          '--yes',
          '--no-finalize',
          '--nodes',
          'worker-0',
          '--calico-manifest',
          calicoManifest,
        ],
        { kubeconfig: kubeconfigs.admin, env, timeoutMs: 240_000 },
      ),
      cli(['-v', '-o', 'json', 'detect'], { kubeconfig: kubeconfigs.wrongToken, env }),
    ];
    expect(runs.map((r) => r.status)).toEqual([0, 0, 0, 0, 1]);
    const log = fs.readFileSync(path.join(state, 'flannel2calico', 'audit.ndjson'), 'utf8');
    expect(log.split('\n').filter(Boolean).length).toBeGreaterThan(5);
    const admin = YAML.parse(fs.readFileSync(tb.kubeconfig, 'utf8'));
    const secrets = [
      tokens.admin,
      'not-a-valid-token-0123456789',
      admin.users[0].user['client-key-data'],
      admin.users[0].user['client-certificate-data'],
    ].filter(Boolean) as string[];
    const everything = [...runs.flatMap((r) => [r.stdout, r.stderr]), log].join('\n');
    for (const secret of secrets) {
      expect(everything.includes(secret)).toBe(false);
      expect(everything.includes(secret.slice(0, 24))).toBe(false);
    }
    expect(everything).not.toMatch(/BEGIN (RSA |EC )?PRIVATE KEY|Authorization: Bearer/i);
  }, 400_000);

  it('the audit log is created 0600 in a directory created 0700', () => {
    const state = path.join(work, 'mode-state');
    const r = cli(
      [
        '--dry-run=server',
        'migrate',
        '--yes',
        '--no-finalize',
        '--nodes',
        'worker-0',
        '--calico-manifest',
        calicoManifest,
      ],
      { env: { XDG_STATE_HOME: state }, timeoutMs: 240_000 },
    );
    expect(r.status).toBe(0);
    expect(fs.statSync(path.join(state, 'flannel2calico')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(state, 'flannel2calico', 'audit.ndjson')).mode & 0o777).toBe(0o600);
  }, 300_000);

  it(
    'everything a real run creates is labelled app.kubernetes.io/managed-by=flannel2calico ' +
      "(except Calico's own manifest)",
    () => {
      const before = snapshot();
      lastSnapshot = undefined;
      const r = cli(migrate('--nodes', 'worker-0', '--skip-probe'), { timeoutMs: 300_000 });
      expect(`${r.status}\n${r.stderr}`).toMatch(/^0\n/);
      const manifestNames = new Set(
        YAML.parseAllDocuments(fs.readFileSync(calicoManifest, 'utf8'))
          .map((d) => d.toJS())
          .filter(Boolean)
          .map((o: any) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`),
      );
      const created: any[] = [
        ...kubectlJson<{ items: any[] }>(tb, [
          'get',
          [
            ...listable,
            ...kubectlOk(tb, ['api-resources', '--verbs=list', '-o', 'name', '--api-group=crd.projectcalico.org'])
              .split('\n')
              .filter(Boolean),
          ].join(','),
          '-A',
          '--show-managed-fields',
        ]).items,
        ...kubectlJson<{ items: any[] }>(tb, ['get', 'events', '-A', '--show-managed-fields']).items,
      ].filter(
        (o) =>
          !before.has(`${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`) &&
          (o.metadata?.managedFields ?? []).some(
            (f: any) => f.manager === 'flannel2calico' && (f.operation === 'Update' || f.operation === 'Apply'),
          ) &&
          !manifestNames.has(`${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`),
      );
      expect(created.length).toBeGreaterThan(0);
      const unlabelled = created
        .filter((o) => o.metadata?.labels?.['app.kubernetes.io/managed-by'] !== 'flannel2calico')
        .map((o) => `${o.kind} ${o.metadata?.namespace ?? ''}/${o.metadata?.name}`);
      expect(unlabelled).toEqual([]);
    },
    400_000,
  );
});
