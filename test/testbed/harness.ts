/**
 * The test bed: a real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)
 * with kwok playing the nodes' kubelets, started by kwokctl's binary runtime from binaries built by
 * test/testbed/build-binaries.sh. Every e2e test starts its own cluster with startTestbed() and stops
 * it with down(). Deliberately independent of the product's code: it drives the cluster with kubectl
 * only, so a bug in src/ cannot make the test bed lie.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';
import YAML from 'yaml';

// ---------------------------------------------------------------------------------------------
// Locations

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'flannel2calico')
      return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find the flannel2calico repository above ${from}`);
  }
}

/** The repository (found by walking up, so this works both from test/testbed and compiled into .testbed/build). */
export const repoRoot = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));
/** Real upstream manifests and node state; FIXTURES_DIR overrides `<repo>/test/fixtures`. */
export const fixturesDir = process.env.FIXTURES_DIR ?? path.join(repoRoot, 'test', 'fixtures');
export const K8S_VERSION = 'v1.34.4';
/** Where build-binaries.sh puts the control plane; TESTBED_BIN overrides, as it does for the build. */
export const binDir = process.env.TESTBED_BIN ?? `/var/cache/flannel2calico-testbed/${K8S_VERSION}`;
/** All run-time state of test beds lives here (git-ignored). */
export const testbedDir = path.join(repoRoot, '.testbed');
const kwokWorkdir = path.join(testbedDir, 'kwok');
const clustersDir = path.join(testbedDir, 'clusters');
const testbedSources = path.join(repoRoot, 'test', 'testbed');
const BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'etcd', 'kwok', 'kwokctl'];

export const LABEL_NEVER_READY = 'testbed.flannel2calico.io/never-ready';
export const LABEL_FAIL = 'testbed.flannel2calico.io/fail';
/** The product's host Jobs: the label and the roles that the netns node agent runs instead of kwok. */
export const HOST_ROLE_LABEL = 'flannel2calico.io/role';
export const AGENT_ROLES = ['host-cleanup', 'host-revert', 'host-check'];
export const DEFAULT_ANNOTATION_PREFIX = 'flannel.alpha.coreos.com';
export const CONTROL_PLANE_ROLE = 'node-role.kubernetes.io/control-plane';

// ---------------------------------------------------------------------------------------------
// Types

export interface TestbedOptions {
  /** Cluster name; unique per call by default so that test files and people can run side by side. */
  name?: string;
  /** Total number of nodes, control-plane nodes included. */
  nodes: number;
  /** The first M nodes (cp-0 …) are control-plane nodes: labelled and tainted NoSchedule. Default 0. */
  controlPlane?: number;
  /** IPv4 cluster CIDR the controller-manager carves node podCIDRs from. Default 10.244.0.0/16. */
  podCidr?: string;
  /** Prefix length of each node's IPv4 podCIDR. Default 24. */
  nodeCidrMask?: number;
  /** IPv6 cluster CIDR; makes the cluster dual-stack (IPv4 first). */
  podCidrV6?: string;
  /** Prefix length of each node's IPv6 podCIDR. Default 64. */
  nodeCidrMaskV6?: number;
  /** Kept when its creating process exits (for `npm run testbed:up`); otherwise a later start removes it. */
  persistent?: boolean;
  /**
   * Nodes whose host Jobs (pods labelled flannel2calico.io/role=host-cleanup|host-revert|host-check)
   * kwok leaves alone, for the netns node agent to run (netns-nodes.ts). Every other pod stays with kwok.
   */
  agentNodes?: string[];
  /**
   * Turns on kube-apiserver's audit log (Metadata level for every request, Request level for
   * PodDisruptionBudget status writes, none for Leases); Testbed.auditLogPath names the file.
   * For the benchmark: request counts per client, and when each PDB allowed a disruption again.
   */
  auditLog?: boolean;
  /**
   * Client-side QPS / burst of kube-controller-manager and kube-scheduler. Default: theirs (20/30 and
   * 50/100) below 100 nodes, 100/200 from 100 nodes on, so that the test bed's own controllers
   * (ReplicaSet, DaemonSet, disruption, Job, scheduler) keep up with thousands of pods instead of
   * becoming the bottleneck that a benchmark would then blame on the tool.
   */
  controllerQps?: { qps: number; burst: number };
  /**
   * How long a deleted pod stays Terminating before kwok removes it (default 0: at once). With 0, a
   * StatefulSet pod evicted and recreated under the same name is never seen terminating by the
   * disruption controller, which then holds its PDB at 0 disruptions for its 2-minute timeout: a
   * kwok artefact that real kubelets, which take time to stop containers, do not show.
   */
  podDeletionDelayMs?: number;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  status: number;
}

export interface Testbed {
  name: string;
  /** Nodes whose host Jobs kwok leaves to the netns node agent (TestbedOptions.agentNodes). */
  agentNodes: string[];
  /** kube-apiserver's audit log (NDJSON, one audit.k8s.io/v1 Event a line), with TestbedOptions.auditLog. */
  auditLogPath?: string;
  /** Admin kubeconfig of the cluster. */
  kubeconfig: string;
  /** Node names in creation order: cp-0 … then worker-0 … */
  nodeNames: string[];
  /** Runs the cached kubectl against this cluster. */
  kubectl(args: string[], input?: string): CommandResult;
  /** Runs `node bin/flannel2calico.js --kubeconfig <kc> ...args` (NO_COLOR=1, XDG_STATE_HOME inside the test bed). */
  cli(args: string[], opts?: { env?: Record<string, string>; input?: string; timeoutMs?: number }): CommandResult;
  /**
   * cli() without blocking the event loop, for tests that run something in-process meanwhile (the netns node agent).
   */
  cliAsync(args: string[], opts?: { env?: Record<string, string>; timeoutMs?: number }): Promise<CommandResult>;
  /** Stops every process of the cluster and removes its files. Safe to call twice. */
  down(): Promise<void>;
}

export interface FlannelOptions {
  /**
   * Replaces net-conf.json in the ConfigMap (default: the manifest's
   * `{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}`).
   */
  netConf?: Record<string, unknown>;
  /** Namespace to install into (default kube-flannel; kube-system for Canal). */
  namespace?: string;
  /** DaemonSet name (default kube-flannel-ds; canal for Canal). */
  name?: string;
  /** Install Canal (calico-v3.32.1/canal.yaml) instead of flannel. */
  canal?: boolean;
  /** flanneld's --kube-annotation-prefix (default flannel.alpha.coreos.com). */
  annotationPrefix?: string;
  /** false removes --ip-masq from flanneld (flannel) or sets masquerade "false" (Canal). */
  ipMasq?: boolean;
  /** Canal's veth_mtu. Plain flannel has no MTU setting (flanneld takes its interface's MTU): rejected there. */
  mtu?: number;
  /** Nodes whose flanneld never ran: no flannel annotations are written on them. */
  skipNodes?: string[];
}

export interface FlannelInstall {
  namespace: string;
  daemonSet: string;
  configMap: string;
  annotationPrefix: string;
  netConf: Record<string, unknown>;
  /** The flannel annotations written, per node. */
  annotations: Record<string, Record<string, string>>;
}

/** Minimal shapes of the objects read back through kubectl. */
export interface KubeMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  generation?: number;
  deletionTimestamp?: string;
  ownerReferences?: Array<{ kind: string; name: string }>;
}
export interface NodeJson {
  metadata: KubeMeta;
  spec: {
    podCIDR?: string;
    podCIDRs?: string[];
    unschedulable?: boolean;
    taints?: Array<{ key: string; effect: string; value?: string }>;
  };
  status?: {
    conditions?: Array<{ type: string; status: string }>;
    addresses?: Array<{ type: string; address: string }>;
  };
}
export interface PodJson {
  metadata: KubeMeta;
  spec: { nodeName?: string; hostNetwork?: boolean };
  status?: {
    phase?: string;
    podIP?: string;
    podIPs?: Array<{ ip: string }>;
    conditions?: Array<{ type: string; status: string }>;
    containerStatuses?: Array<{ name: string; state?: { terminated?: { exitCode: number } } }>;
  };
}
interface WorkloadJson {
  metadata: KubeMeta;
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    availableReplicas?: number;
    readyReplicas?: number;
    updatedReplicas?: number;
    desiredNumberScheduled?: number;
    numberReady?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
    conditions?: Array<{ type: string; status: string }>;
  };
}
interface KubeList<T> {
  items: T[];
}

export class TestbedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TestbedError';
  }
}

// ---------------------------------------------------------------------------------------------
// Small utilities

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `fn` until it returns something other than undefined/false/null and returns that.
 * Throws after `timeoutMs`, naming `what` and the last error `fn` threw.
 */
export async function waitFor<T>(
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs: number,
  what = 'condition',
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      if (err instanceof ComponentStoppedError) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError ? `: ${(lastError as Error).message ?? String(lastError)}` : '';
      throw new TestbedError(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

/** Runs a command synchronously; never throws (a spawn error or timeout comes back as status 124). */
export function runCommand(
  command: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): CommandResult {
  const result = spawnSync(command, args, {
    input: opts.input,
    env: opts.env ?? process.env,
    cwd: opts.cwd ?? repoRoot,
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
    timeout: opts.timeoutMs,
    killSignal: 'SIGKILL',
  });
  if (result.error) {
    const timedOut = (result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    return {
      stdout: result.stdout ?? '',
      stderr: `${result.stderr ?? ''}${timedOut ? `\n${command} killed after ${opts.timeoutMs} ms` : `\n${result.error.message}`}`,
      status: 124,
    };
  }
  return { stdout: result.stdout, stderr: result.stderr, status: result.status ?? 128 };
}

const run = runCommand;

/** runCommand() without blocking the event loop. */
export function runAsync(
  command: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', (err) => {
      stderr += `\n${err.message}`;
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({
        stdout,
        stderr: timedOut ? `${stderr}\n${command} killed after ${opts.timeoutMs} ms` : stderr,
        status: timedOut ? 124 : (code ?? 128),
      });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export function must(result: CommandResult, what: string): string {
  if (result.status !== 0)
    throw new TestbedError(`${what} failed (exit ${result.status}): ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout;
}

/** `kubectl get … -o json`, parsed. */
export function kubectlJson<T>(tb: Pick<Testbed, 'kubectl'>, args: string[]): T {
  return JSON.parse(must(tb.kubectl([...args, '-o', 'json']), `kubectl ${args.join(' ')}`)) as T;
}

/** Runs kubectl and throws a TestbedError with its stderr when it fails. */
export function kubectlOk(tb: Pick<Testbed, 'kubectl'>, args: string[], input?: string): string {
  return must(tb.kubectl(args, input), `kubectl ${args.join(' ')}`);
}

function yamlStream(objects: unknown[]): string {
  return objects.map((o) => YAML.stringify(o)).join('---\n');
}

function assertBinaries(): void {
  const missing = BINARIES.filter((b) => {
    try {
      fs.accessSync(path.join(binDir, b), fs.constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new TestbedError(
      `test-bed binaries missing in ${binDir}: ${missing.join(', ')}. Build them once with ` +
        `\`npm run testbed:build\` (about 8 to 13 minutes cold).`,
    );
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------------
// Cluster lifecycle

let clusterCounter = 0;

function defaultName(): string {
  clusterCounter += 1;
  return `f2c-${process.pid}-${clusterCounter}-${Math.random().toString(36).slice(2, 6)}`;
}

function kwokEnv(): NodeJS.ProcessEnv {
  // kwokctl has no flag for kubectl; with every binary given, nothing is downloaded.
  return { ...process.env, KWOK_WORKDIR: kwokWorkdir, KWOK_KUBECTL_BINARY: path.join(binDir, 'kubectl') };
}

function kwokctl(args: string[], timeoutMs = 180_000): CommandResult {
  return run(path.join(binDir, 'kwokctl'), args, { env: kwokEnv(), timeoutMs });
}

function prefixLength(cidr: string, what: string): number {
  if (!ipaddr.isValidCIDR(cidr)) throw new TestbedError(`${what} ${cidr} is not a CIDR`);
  return ipaddr.parseCIDR(cidr)[1];
}

function checkCidrCapacity(cidr: string, mask: number, nodes: number, what: string): void {
  const prefix = prefixLength(cidr, what);
  const family = ipaddr.parseCIDR(cidr)[0].kind();
  if (mask <= prefix || mask > (family === 'ipv4' ? 32 : 128))
    throw new TestbedError(`node CIDR mask /${mask} does not fit in ${what} ${cidr}`);
  if (mask - prefix < 31 && 2 ** (mask - prefix) < nodes) {
    throw new TestbedError(
      `${what} ${cidr} holds only ${2 ** (mask - prefix)} node subnets of /${mask}, but ${nodes} nodes were asked for`,
    );
  }
}

/** The kwokctl configuration: controller-manager and apiserver flags, plus our kwok Stages. */
function kwokctlConfig(
  o: Required<Pick<TestbedOptions, 'podCidr' | 'nodeCidrMask' | 'nodeCidrMaskV6' | 'agentNodes'>> & {
    podCidrV6?: string;
    controllerQps?: { qps: number; burst: number };
    podDeletionDelayMs?: number;
  },
): string {
  const dualStack = Boolean(o.podCidrV6);
  const serviceRange = dualStack ? '10.96.0.0/12,fd00:10:96::/112' : '10.96.0.0/12';
  const kcm = [
    { key: 'allocate-node-cidrs', value: 'true' },
    { key: 'cluster-cidr', value: dualStack ? `${o.podCidr},${o.podCidrV6}` : o.podCidr },
    ...(dualStack
      ? [
          { key: 'node-cidr-mask-size-ipv4', value: String(o.nodeCidrMask) },
          { key: 'node-cidr-mask-size-ipv6', value: String(o.nodeCidrMaskV6) },
        ]
      : [{ key: 'node-cidr-mask-size', value: String(o.nodeCidrMask) }]),
    { key: 'service-cluster-ip-range', value: serviceRange },
    // One instance: no leader election, so an API server restart (fault injection) does not make it exit.
    { key: 'leader-elect', value: 'false' },
    ...qpsArgs(o.controllerQps),
  ];
  const apiserver = [
    { key: 'service-cluster-ip-range', value: serviceRange },
    { key: 'allow-privileged', value: 'true' },
  ];
  const config = {
    apiVersion: 'config.kwok.x-k8s.io/v1alpha1',
    kind: 'KwokctlConfiguration',
    options: {},
    // In a config file rather than --extra-args: kwokctl v0.8.0 mis-indexes --extra-args for a second component.
    componentsPatches: [
      { name: 'kube-controller-manager', extraArgs: kcm },
      { name: 'kube-apiserver', extraArgs: apiserver },
      { name: 'kube-scheduler', extraArgs: [{ key: 'leader-elect', value: 'false' }, ...qpsArgs(o.controllerQps)] },
    ],
  };
  return `${YAML.stringify(config)}---\n${kwokStages(o.agentNodes, o.podDeletionDelayMs)}`;
}

function qpsArgs(limits: { qps: number; burst: number } | undefined): Array<{ key: string; value: string }> {
  return limits
    ? [
        { key: 'kube-api-qps', value: String(limits.qps) },
        { key: 'kube-api-burst', value: String(limits.burst) },
      ]
    : [];
}

/** The audit policy of TestbedOptions.auditLog. */
export const AUDIT_POLICY = {
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [
    // The body of a PDB status write says when the budget allows a disruption again.
    { level: 'Request', resources: [{ group: 'policy', resources: ['poddisruptionbudgets/status'] }] },
    // kwok renews every node's Lease: thousands of lines that no benchmark figure uses.
    { level: 'None', resources: [{ group: 'coordination.k8s.io', resources: ['leases'] }] },
    { level: 'Metadata' },
  ],
};

/**
 * kwok-stages.yaml; with agent nodes, every pod stage but deletion also requires that the pod is not
 * a host Job bound to one of them (one jq expression: kwok's matchExpressions are ANDed, this is an OR).
 */
export function kwokStages(agentNodes: string[], podDeletionDelayMs = 0): string {
  const text = fs.readFileSync(path.join(testbedSources, 'kwok-stages.yaml'), 'utf8');
  if (agentNodes.length === 0 && podDeletionDelayMs <= 0) return text;
  const key =
    `(.metadata.labels[${JSON.stringify(HOST_ROLE_LABEL)}] // "") as $role | (.spec.nodeName // "") as $node` +
    ` | if (${JSON.stringify(AGENT_ROLES)} | any(.[]; . == $role)) and (${JSON.stringify(agentNodes)} ` +
    `| any(.[]; . == $node))` +
    ' then "netns-node-agent" else "kwok" end';
  const docs = YAML.parseAllDocuments(text);
  for (const doc of docs) {
    const stage = doc.toJS() as { spec?: { resourceRef?: { kind?: string }; next?: { delete?: boolean } } } | null;
    if (stage?.spec?.resourceRef?.kind === 'Pod' && stage.spec.next?.delete && podDeletionDelayMs > 0) {
      doc.setIn(['spec', 'delay'], doc.createNode({ durationMilliseconds: podDeletionDelayMs }));
    }
    if (agentNodes.length === 0 || stage?.spec?.resourceRef?.kind !== 'Pod' || stage.spec.next?.delete) continue;
    const expressions = doc.getIn(['spec', 'selector', 'matchExpressions']) as YAML.YAMLSeq;
    expressions.add(doc.createNode({ key, operator: 'In', values: ['kwok'] }));
  }
  return docs.map((d) => d.toString().replace(/^---\n/, '')).join('---\n');
}

function nodeNamesFor(nodes: number, controlPlane: number): string[] {
  return Array.from({ length: nodes }, (_, i) => (i < controlPlane ? `cp-${i}` : `worker-${i - controlPlane}`));
}

/** Distinct documentation/benchmark-range addresses per node index: 198.51.100.10 …, then 198.18.0.0/15. */
export function nodeInternalIp(index: number): string {
  if (index < 240) return `198.51.100.${10 + index}`;
  const n = index - 240 + 1;
  return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

export function nodeInternalIpV6(index: number): string {
  return `2001:db8::${(10 + index).toString(16)}`;
}

export function nodeObject(name: string, controlPlane: boolean): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        type: 'kwok',
        ...(controlPlane ? { [CONTROL_PLANE_ROLE]: '' } : {}),
      },
    },
    spec: controlPlane ? { taints: [{ key: CONTROL_PLANE_ROLE, effect: 'NoSchedule' }] } : {},
  };
}

/**
 * kubectl failed only because a write met 409 Conflict (the object changed since it was read): read again and retry.
 */
export function isConflict(result: CommandResult): boolean {
  return (
    result.status !== 0 &&
    /\bConflict\b|the object has been modified/i.test(result.stderr) &&
    result.stderr
      .split('\n')
      .filter((l) => /^error|Error from server/i.test(l))
      .every((l) => /Conflict|the object has been modified/i.test(l))
  );
}

function isReady(conditions: Array<{ type: string; status: string }> | undefined): boolean {
  return conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

interface ClusterFiles {
  dir: string;
  kubeconfig: string;
  config: string;
  owner: string;
}

function clusterFiles(name: string): ClusterFiles {
  const dir = path.join(clustersDir, name);
  return {
    dir,
    kubeconfig: path.join(dir, 'kubeconfig'),
    config: path.join(dir, 'kwokctl.yaml'),
    owner: path.join(dir, 'owner.json'),
  };
}

/** PIDs of the cluster's processes, as kwokctl recorded them. */
export function clusterPids(name: string): number[] {
  const dir = path.join(kwokWorkdir, 'clusters', name, 'pids');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((f) => Number(fs.readFileSync(path.join(dir, f), 'utf8').trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

function belongsToCluster(pid: number, name: string): boolean {
  try {
    return fs
      .readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .includes(path.join(kwokWorkdir, 'clusters', name) + path.sep);
  } catch {
    return false;
  }
}

/**
 * Fault injection: kills the cluster's kube-apiserver by its PID (SIGKILL), waits `downMs`, and starts
 * it again from its own command line, working directory and environment. The new PID replaces the old
 * one in the cluster's pids dir, so down() stops it; it is returned for the caller to track as well.
 * Resolves once the API server answers /readyz again.
 */
export async function restartApiServer(tb: Testbed, downMs: number): Promise<number> {
  const pidFile = path.join(kwokWorkdir, 'clusters', tb.name, 'pids', 'kube-apiserver.pid');
  const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  if (!isAlive(pid) || !belongsToCluster(pid, tb.name))
    throw new TestbedError(`kube-apiserver of ${tb.name} (pid ${pid}) is not running`);
  const [command, ...args] = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
  const env = Object.fromEntries(
    fs
      .readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !isAlive(pid), 10_000, `kube-apiserver pid ${pid} to exit`);
  await sleep(downMs);
  const log = fs.openSync(path.join(clusterFiles(tb.name).dir, `kube-apiserver-restarted-${Date.now()}.log`), 'a');
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  child.unref();
  const newPid = child.pid!;
  fs.writeFileSync(pidFile, String(newPid));
  await waitFor(
    () => tb.kubectl(['get', '--raw', '/readyz']).status === 0,
    60_000,
    'the restarted kube-apiserver to be ready',
  );
  return newPid;
}

/** Deletes a cluster by name: kwokctl delete, then SIGKILL by PID whatever of it survived, then its files. */
export async function deleteCluster(name: string): Promise<void> {
  const files = clusterFiles(name);
  const pids = clusterPids(name);
  const kubeconfigArgs = fs.existsSync(files.kubeconfig) ? ['--kubeconfig', files.kubeconfig] : [];
  kwokctl(['delete', 'cluster', '--name', name, ...kubeconfigArgs], 60_000);
  for (const pid of pids) {
    if (isAlive(pid) && belongsToCluster(pid, name)) process.kill(pid, 'SIGKILL');
  }
  await waitFor(
    () => pids.every((pid) => !isAlive(pid) || !belongsToCluster(pid, name)),
    10_000,
    `processes of cluster ${name} to exit`,
  );
  fs.rmSync(path.join(kwokWorkdir, 'clusters', name), { recursive: true, force: true });
  fs.rmSync(files.dir, { recursive: true, force: true });
}

/** Removes clusters whose owning test process died without calling down(). */
async function reapAbandonedClusters(): Promise<void> {
  if (!fs.existsSync(clustersDir)) return;
  for (const name of fs.readdirSync(clustersDir)) {
    const owner = clusterFiles(name).owner;
    if (!fs.existsSync(owner)) continue;
    let pid: number | undefined;
    try {
      pid = (JSON.parse(fs.readFileSync(owner, 'utf8')) as { pid?: number | null }).pid ?? undefined;
    } catch {
      continue;
    }
    if (pid !== undefined && pid !== process.pid && !isAlive(pid)) await deleteCluster(name);
  }
}

/** Where kwokctl's binary runtime has kube-apiserver write its audit log. */
function auditLogFile(name: string): string {
  return path.join(kwokWorkdir, 'clusters', name, 'logs', 'audit.log');
}

function makeTestbed(name: string, nodeNames: string[], agentNodes: string[], auditLog = false): Testbed {
  const files = clusterFiles(name);
  const kubectlPath = path.join(binDir, 'kubectl');
  /** The CLI's environment: plain output, and its audit log and local state inside the cluster's folder. */
  const cliEnv = (extra?: Record<string, string | undefined>) => ({
    ...process.env,
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    XDG_STATE_HOME: path.join(files.dir, 'state'),
    ...extra,
  });
  let stopped = false;
  return {
    name,
    ...(auditLog ? { auditLogPath: auditLogFile(name) } : {}),
    kubeconfig: files.kubeconfig,
    nodeNames,
    agentNodes,
    kubectl(args, input) {
      return run(kubectlPath, ['--kubeconfig', files.kubeconfig, ...args], { input, timeoutMs: 300_000 });
    },
    cli(args, opts = {}) {
      const env = cliEnv(opts.env);
      return run(
        process.execPath,
        [path.join(repoRoot, 'bin', 'flannel2calico.js'), '--kubeconfig', files.kubeconfig, ...args],
        {
          env,
          input: opts.input ?? '',
          timeoutMs: opts.timeoutMs ?? 600_000,
        },
      );
    },
    cliAsync(args, opts = {}) {
      const env = cliEnv(opts.env);
      return runAsync(
        process.execPath,
        [path.join(repoRoot, 'bin', 'flannel2calico.js'), '--kubeconfig', files.kubeconfig, ...args],
        {
          env,
          timeoutMs: opts.timeoutMs ?? 600_000,
        },
      );
    },
    async down() {
      if (stopped) return;
      stopped = true;
      await deleteCluster(name);
    },
  };
}

/** A handle on a cluster started earlier (by another process, e.g. `npm run testbed:up`). */
export function attachTestbed(name: string): Testbed {
  const files = clusterFiles(name);
  if (!fs.existsSync(files.kubeconfig))
    throw new TestbedError(`no test bed named ${name} (no ${files.kubeconfig}); start one with \`npm run testbed:up\``);
  const nodes = kubectlJson<KubeList<NodeJson>>(makeTestbed(name, [], []), ['get', 'nodes']).items.map(
    (n) => n.metadata.name,
  );
  const agentFile = path.join(files.dir, 'agent-nodes.json');
  const agentNodes = fs.existsSync(agentFile) ? (JSON.parse(fs.readFileSync(agentFile, 'utf8')) as string[]) : [];
  return makeTestbed(name, nodes, agentNodes, fs.existsSync(auditLogFile(name)));
}

/**
 * Starts a cluster and waits until every node is Ready with its podCIDR(s) from the controller-manager,
 * has its distinct InternalIP(s), and ServiceAccount default/default exists.
 */
export async function startTestbed(opts: TestbedOptions): Promise<Testbed> {
  try {
    return await startTestbedOnce(opts);
  } catch (err) {
    if (!(err instanceof ComponentStoppedError)) throw err;
    process.stderr.write(`test bed: ${err.message}; starting it again\n`);
    return startTestbedOnce(opts);
  }
}

async function startTestbedOnce(opts: TestbedOptions): Promise<Testbed> {
  const controlPlane = opts.controlPlane ?? 0;
  const podCidr = opts.podCidr ?? '10.244.0.0/16';
  const nodeCidrMask = opts.nodeCidrMask ?? 24;
  const nodeCidrMaskV6 = opts.nodeCidrMaskV6 ?? 64;
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1)
    throw new TestbedError(`nodes must be a positive integer, got ${opts.nodes}`);
  if (!Number.isInteger(controlPlane) || controlPlane < 0 || controlPlane > opts.nodes)
    throw new TestbedError(`controlPlane must be between 0 and nodes (${opts.nodes}), got ${controlPlane}`);
  checkCidrCapacity(podCidr, nodeCidrMask, opts.nodes, 'podCidr');
  if (ipaddr.parseCIDR(podCidr)[0].kind() !== 'ipv4')
    throw new TestbedError(`podCidr must be IPv4 (use podCidrV6 for IPv6), got ${podCidr}`);
  if (opts.podCidrV6) {
    checkCidrCapacity(opts.podCidrV6, nodeCidrMaskV6, opts.nodes, 'podCidrV6');
    if (ipaddr.parseCIDR(opts.podCidrV6)[0].kind() !== 'ipv6')
      throw new TestbedError(`podCidrV6 must be IPv6, got ${opts.podCidrV6}`);
  }
  assertBinaries();
  await reapAbandonedClusters();

  const name = opts.name ?? defaultName();
  const files = clusterFiles(name);
  if (fs.existsSync(files.dir) || fs.existsSync(path.join(kwokWorkdir, 'clusters', name))) await deleteCluster(name);
  fs.mkdirSync(files.dir, { recursive: true });
  fs.writeFileSync(
    files.owner,
    JSON.stringify({ pid: opts.persistent ? null : process.pid, createdAt: new Date().toISOString() }),
  );
  const nodeNames = nodeNamesFor(opts.nodes, controlPlane);
  const agentNodes = opts.agentNodes ?? [];
  const unknown = agentNodes.filter((n) => !nodeNames.includes(n));
  if (unknown.length > 0)
    throw new TestbedError(`agentNodes ${unknown.join(', ')} are not among the nodes ${nodeNames.join(', ')}`);
  const controllerQps = opts.controllerQps ?? (opts.nodes >= 100 ? { qps: 100, burst: 200 } : undefined);
  fs.writeFileSync(
    files.config,
    kwokctlConfig({
      podCidr,
      nodeCidrMask,
      nodeCidrMaskV6,
      podCidrV6: opts.podCidrV6,
      agentNodes,
      controllerQps,
      podDeletionDelayMs: opts.podDeletionDelayMs,
    }),
  );
  fs.writeFileSync(path.join(files.dir, 'agent-nodes.json'), JSON.stringify(agentNodes));
  const auditPolicy = path.join(files.dir, 'audit-policy.yaml');
  if (opts.auditLog) fs.writeFileSync(auditPolicy, YAML.stringify(AUDIT_POLICY));

  const tb = makeTestbed(name, nodeNames, agentNodes, opts.auditLog);
  try {
    const createArgs = [
      'create',
      'cluster',
      '--name',
      name,
      '--runtime',
      'binary',
      '--config',
      files.config,
      '--kubeconfig',
      files.kubeconfig,
      '--wait',
      '2m',
      '--kube-apiserver-binary',
      path.join(binDir, 'kube-apiserver'),
      '--kube-controller-manager-binary',
      path.join(binDir, 'kube-controller-manager'),
      '--kube-scheduler-binary',
      path.join(binDir, 'kube-scheduler'),
      '--etcd-binary',
      path.join(binDir, 'etcd'),
      '--kwok-controller-binary',
      path.join(binDir, 'kwok'),
      ...(opts.auditLog ? ['--kube-audit-policy', auditPolicy] : []),
    ];
    let created = kwokctl(createArgs);
    if (created.status !== 0) {
      // kwokctl picks free ports when it starts; a cluster starting at the same moment can take one first.
      kwokctl(['delete', 'cluster', '--name', name, '--kubeconfig', files.kubeconfig], 60_000);
      created = kwokctl(createArgs);
    }
    must(created, `kwokctl create cluster ${name}`);

    // Nodes come from the API, not `kwokctl scale`, so that their podCIDRs are allocated by the controller-manager.
    kubectlOk(tb, ['create', '-f', '-'], yamlStream(nodeNames.map((n, i) => nodeObject(n, i < controlPlane))));
    const dualStack = Boolean(opts.podCidrV6);
    await waitFor(
      () => {
        const stopped = stoppedComponents(name);
        if (stopped.length > 0)
          throw new ComponentStoppedError(`${stopped.join(', ')} stopped while the nodes started`);
        const nodes = kubectlJson<KubeList<NodeJson>>(tb, ['get', 'nodes']).items;
        return (
          nodes.length === nodeNames.length &&
          nodes.every((n) => isReady(n.status?.conditions) && (n.spec.podCIDRs?.length ?? 0) === (dualStack ? 2 : 1))
        );
      },
      60_000 + opts.nodes * 500,
      `${opts.nodes} nodes Ready with podCIDRs`,
    );

    // Addresses are status, which kwok's node-initialize leaves alone; set them once nodes are Ready.
    // A status update, not an apply: server-side apply refuses two InternalIP entries (dual-stack).
    // kwok writes node status meanwhile, so a write can meet 409 Conflict: write again what is missing.
    const addressesOf = (i: number) => [
      { type: 'InternalIP', address: nodeInternalIp(i) },
      ...(dualStack ? [{ type: 'InternalIP', address: nodeInternalIpV6(i) }] : []),
      { type: 'Hostname', address: nodeNames[i] },
    ];
    await waitFor(
      () => {
        const nodes = kubectlJson<KubeList<NodeJson & { metadata: { resourceVersion?: string } }>>(tb, [
          'get',
          'nodes',
        ]);
        const missing = nodes.items.filter(
          (n) =>
            !n.status?.addresses?.some(
              (a) => a.type === 'InternalIP' && a.address === nodeInternalIp(nodeNames.indexOf(n.metadata.name)),
            ),
        );
        if (missing.length === 0) return true;
        for (const node of missing)
          node.status = { ...node.status, addresses: addressesOf(nodeNames.indexOf(node.metadata.name)) };
        const result = tb.kubectl(
          ['replace', '--subresource=status', '-f', '-'],
          JSON.stringify({ ...nodes, items: missing }),
        );
        if (result.status !== 0 && !isConflict(result))
          must(result, 'kubectl replace --subresource=status (node addresses)');
        return false;
      },
      60_000 + opts.nodes * 100,
      'node InternalIPs',
      500,
    );
    await waitFor(
      () => tb.kubectl(['get', 'serviceaccount', 'default', '-n', 'default']).status === 0,
      30_000,
      'ServiceAccount default/default',
    );
    return tb;
  } catch (err) {
    await tb.down().catch(() => undefined);
    throw err;
  }
}

/**
 * A control-plane component that exited during start-up (another cluster starting at the same moment took its port).
 */
class ComponentStoppedError extends TestbedError {}

function stoppedComponents(name: string): string[] {
  const dir = path.join(kwokWorkdir, 'clusters', name, 'pids');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => !isAlive(Number(fs.readFileSync(path.join(dir, f), 'utf8').trim())))
    .map((f) => f.replace(/\.pid$/, ''));
}

// ---------------------------------------------------------------------------------------------
// flannel / Canal

interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: KubeMeta & Record<string, unknown>;
  data?: Record<string, string>;
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
  spec?: any;
}

export function readManifest(file: string): ManifestObject[] {
  return YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as ManifestObject | null)
    .filter((o): o is ManifestObject => o !== null && typeof o === 'object' && typeof o.kind === 'string');
}

/** A stable locally-administered unicast MAC derived from the node name, as flannel.<VNI> would have. */
export function vtepMac(node: string, family: 4 | 6 = 4): string {
  const bytes = createHash('sha256').update(`${node}/ipv${family}`).digest().subarray(0, 6);
  bytes[0] = (bytes[0] | 0x02) & 0xfe;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * The annotations flanneld --kube-subnet-mgr writes on its node (format from fixtures/flanneld-v0.28.10-node-state).
 */
export function flannelAnnotations(
  node: NodeJson,
  netConf: Record<string, unknown>,
  prefix = DEFAULT_ANNOTATION_PREFIX,
): Record<string, string> {
  const backend = (netConf.Backend ?? {}) as { Type?: string; VNI?: number };
  const type = (backend.Type ?? 'vxlan').toLowerCase();
  const vni = backend.VNI ?? 1;
  const name = node.metadata.name;
  const internal = (node.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address);
  const v4 = internal.find((a) => ipaddr.isValid(a) && ipaddr.parse(a).kind() === 'ipv4');
  const v6 = internal.find((a) => ipaddr.isValid(a) && ipaddr.parse(a).kind() === 'ipv6');
  const backendData = (family: 4 | 6) =>
    type === 'vxlan' ? JSON.stringify({ VNI: vni, VtepMAC: vtepMac(name, family) }) : 'null';
  const ipv4Enabled = netConf.EnableIPv4 !== false && typeof netConf.Network === 'string';
  const ipv6Enabled = netConf.EnableIPv6 === true;
  const annotations: Record<string, string> = {
    [`${prefix}/backend-type`]: type,
    [`${prefix}/kube-subnet-manager`]: 'true',
  };
  if (ipv4Enabled) {
    if (!v4) throw new TestbedError(`node ${name} has no IPv4 InternalIP for ${prefix}/public-ip`);
    annotations[`${prefix}/backend-data`] = backendData(4);
    annotations[`${prefix}/public-ip`] = v4;
  }
  if (ipv6Enabled) {
    if (!v6)
      throw new TestbedError(
        `node ${name} has no IPv6 InternalIP for ${prefix}/public-ipv6 (start the test bed with podCidrV6)`,
      );
    annotations[`${prefix}/backend-v6-data`] = backendData(6);
    annotations[`${prefix}/public-ipv6`] = v6;
  }
  return annotations;
}

function transformFlannelManifest(
  objects: ManifestObject[],
  o: {
    canal: boolean;
    fromNamespace: string;
    namespace: string;
    fromName: string;
    name: string;
    netConf?: Record<string, unknown>;
    prefix: string;
    ipMasq?: boolean;
    mtu?: number;
  },
): { objects: ManifestObject[]; configMap: ManifestObject; netConf: Record<string, unknown> } {
  const out = objects.map((obj) => structuredClone(obj));
  for (const obj of out) {
    if (obj.kind === 'Namespace' && obj.metadata.name === o.fromNamespace) obj.metadata.name = o.namespace;
    if (obj.metadata.namespace === o.fromNamespace) obj.metadata.namespace = o.namespace;
    for (const subject of obj.subjects ?? [])
      if (subject.namespace === o.fromNamespace) subject.namespace = o.namespace;
  }
  if (
    !out.some((obj) => obj.kind === 'Namespace' && obj.metadata.name === o.namespace) &&
    o.namespace !== 'kube-system'
  ) {
    out.unshift({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: o.namespace } });
  }
  const daemonSet = out.find((obj) => obj.kind === 'DaemonSet' && obj.metadata.name === o.fromName);
  const configMap = out.find((obj) => obj.kind === 'ConfigMap' && obj.data?.['net-conf.json'] !== undefined);
  if (!daemonSet || !configMap?.data)
    throw new TestbedError(`manifest has no DaemonSet ${o.fromName} or no ConfigMap with net-conf.json`);
  daemonSet.metadata.name = o.name;
  if (o.netConf) configMap.data['net-conf.json'] = `${JSON.stringify(o.netConf, null, 2)}\n`;
  const netConf = JSON.parse(configMap.data['net-conf.json']) as Record<string, unknown>;

  const flanneld = (
    daemonSet.spec.template.spec.containers as Array<{ name: string; command?: string[]; args?: string[] }>
  ).find((c) => c.name === 'kube-flannel');
  if (!flanneld) throw new TestbedError('DaemonSet has no kube-flannel container');
  // Canal passes flanneld's flags in `command`, flannel in `args`.
  const flagList = o.canal ? (flanneld.command ??= []) : (flanneld.args ??= []);
  if (o.prefix !== DEFAULT_ANNOTATION_PREFIX) flagList.push(`--kube-annotation-prefix=${o.prefix}`);
  if (o.canal) {
    if (o.ipMasq !== undefined) configMap.data.masquerade = String(o.ipMasq);
    if (o.mtu !== undefined) configMap.data.veth_mtu = String(o.mtu);
  } else {
    if (o.mtu !== undefined)
      throw new TestbedError(
        'mtu applies to Canal only: flannel has no MTU setting, flanneld takes the MTU of its interface',
      );
    if (o.ipMasq === false) flanneld.args = flagList.filter((a) => a !== '--ip-masq');
    if (o.ipMasq === true && !flagList.includes('--ip-masq')) flagList.push('--ip-masq');
  }
  return { objects: out, configMap, netConf };
}

/**
 * Installs flannel (or Canal) from the upstream manifest, waits for its DaemonSet to be Ready on every
 * node, and plays flanneld: writes the flannel annotations on each node.
 * subnet.env is not simulated: kwok runs no containers, so nothing can exec into a flannel pod.
 */
export async function installFlannel(tb: Testbed, opts: FlannelOptions = {}): Promise<FlannelInstall> {
  const canal = opts.canal ?? false;
  const fromNamespace = canal ? 'kube-system' : 'kube-flannel';
  const fromName = canal ? 'canal' : 'kube-flannel-ds';
  const namespace = opts.namespace ?? fromNamespace;
  const name = opts.name ?? fromName;
  const prefix = opts.annotationPrefix ?? DEFAULT_ANNOTATION_PREFIX;
  const manifest = canal
    ? path.join(fixturesDir, 'calico-v3.32.1', 'canal.yaml')
    : path.join(fixturesDir, 'flannel-v0.28.9', 'kube-flannel.yml');
  const { objects, configMap, netConf } = transformFlannelManifest(readManifest(manifest), {
    canal,
    fromNamespace,
    namespace,
    fromName,
    name,
    netConf: opts.netConf,
    prefix,
    ipMasq: opts.ipMasq,
    mtu: opts.mtu,
  });

  const namespaces = objects.filter((o) => o.kind === 'Namespace');
  if (namespaces.length > 0) {
    kubectlOk(tb, ['apply', '--server-side', '-f', '-'], yamlStream(namespaces));
    await waitFor(
      () => tb.kubectl(['get', 'serviceaccount', 'default', '-n', namespace]).status === 0,
      30_000,
      `ServiceAccount ${namespace}/default`,
    );
  }
  // Server-side: Canal's CRDs are too large for the last-applied annotation of a client-side apply.
  kubectlOk(
    tb,
    ['apply', '--server-side', '--force-conflicts', '-f', '-'],
    yamlStream(objects.filter((o) => o.kind !== 'Namespace')),
  );
  await waitForDaemonSet(tb, namespace, name);

  const skip = new Set(opts.skipNodes ?? []);
  const nodes = kubectlJson<KubeList<NodeJson>>(tb, ['get', 'nodes']).items.filter((n) => !skip.has(n.metadata.name));
  const annotations: Record<string, Record<string, string>> = {};
  for (const node of nodes) annotations[node.metadata.name] = flannelAnnotations(node, netConf, prefix);
  if (nodes.length > 0) {
    const patches = nodes.map((n) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: n.metadata.name, annotations: annotations[n.metadata.name] },
    }));
    kubectlOk(
      tb,
      ['apply', '--server-side', '--force-conflicts', '--field-manager=flanneld', '-f', '-'],
      yamlStream(patches),
    );
  }
  return {
    namespace,
    daemonSet: name,
    configMap: configMap.metadata.name,
    annotationPrefix: prefix,
    netConf,
    annotations,
  };
}

// ---------------------------------------------------------------------------------------------
// Workloads

function rolledOut(o: WorkloadJson): boolean {
  const s = o.status ?? {};
  return (s.observedGeneration ?? 0) >= (o.metadata.generation ?? 1);
}

export async function waitForDeployment(
  tb: Testbed,
  namespace: string,
  name: string,
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(
    () => {
      const d = kubectlJson<WorkloadJson>(tb, ['get', 'deployment', name, '-n', namespace]);
      const want = d.spec?.replicas ?? 1;
      const s = d.status ?? {};
      return rolledOut(d) && s.updatedReplicas === want && s.availableReplicas === want && s.replicas === want;
    },
    timeoutMs,
    `Deployment ${namespace}/${name} available`,
  );
}

export async function waitForStatefulSet(
  tb: Testbed,
  namespace: string,
  name: string,
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(
    () => {
      const s = kubectlJson<WorkloadJson>(tb, ['get', 'statefulset', name, '-n', namespace]);
      const want = s.spec?.replicas ?? 1;
      return rolledOut(s) && s.status?.readyReplicas === want && s.status?.availableReplicas === want;
    },
    timeoutMs,
    `StatefulSet ${namespace}/${name} ready`,
  );
}

export async function waitForDaemonSet(
  tb: Testbed,
  namespace: string,
  name: string,
  timeoutMs = 60_000 + 200 * tb.nodeNames.length,
): Promise<void> {
  await waitFor(
    () => {
      const d = kubectlJson<WorkloadJson>(tb, ['get', 'daemonset', name, '-n', namespace]);
      const s = d.status ?? {};
      const want = s.desiredNumberScheduled ?? -1;
      return (
        rolledOut(d) &&
        want > 0 &&
        s.numberReady === want &&
        s.updatedNumberScheduled === want &&
        s.numberAvailable === want
      );
    },
    timeoutMs,
    `DaemonSet ${namespace}/${name} ready on every node`,
  );
}

export async function waitForPodReady(
  tb: Testbed,
  namespace: string,
  name: string,
  timeoutMs = 60_000,
): Promise<PodJson> {
  return waitFor(
    () => {
      const pod = kubectlJson<PodJson>(tb, ['get', 'pod', name, '-n', namespace]);
      return isReady(pod.status?.conditions) ? pod : undefined;
    },
    timeoutMs,
    `Pod ${namespace}/${name} Ready`,
  );
}

/** Waits until the disruption controller has processed the PDB, so evictions get real answers. */
export async function waitForPdb(tb: Testbed, namespace: string, name: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    () => {
      const pdb = kubectlJson<WorkloadJson & { status?: { disruptionsAllowed?: number } }>(tb, [
        'get',
        'pdb',
        name,
        '-n',
        namespace,
      ]);
      return rolledOut(pdb) && pdb.status?.disruptionsAllowed !== undefined;
    },
    timeoutMs,
    `PodDisruptionBudget ${namespace}/${name} observed`,
  );
}

export async function scaleDeployment(tb: Testbed, namespace: string, name: string, replicas: number): Promise<void> {
  kubectlOk(tb, ['scale', `deployment/${name}`, '-n', namespace, `--replicas=${replicas}`]);
  await waitForDeployment(tb, namespace, name);
}

export async function ensureNamespace(tb: Testbed, namespace: string): Promise<void> {
  kubectlOk(
    tb,
    ['apply', '--server-side', '-f', '-'],
    YAML.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }),
  );
  await waitFor(
    () => tb.kubectl(['get', 'serviceaccount', 'default', '-n', namespace]).status === 0,
    30_000,
    `ServiceAccount ${namespace}/default`,
  );
}

/**
 * Namespace apps: Deployments web (3, PDB maxUnavailable 1), api (2, PDB minAvailable 2), cache (emptyDir),
 * StatefulSet db (2, headless Service, PDB maxUnavailable 1), a bare pod, DaemonSet node-agent;
 * kube-system: Deployment coredns (2, k8s-app=kube-dns) and Service kube-dns. Waits until all are available.
 */
export async function installWorkloads(tb: Testbed): Promise<void> {
  await ensureNamespace(tb, 'apps');
  kubectlOk(tb, ['apply', '--server-side', '-f', path.join(testbedSources, 'workloads.yaml')]);
  await Promise.all([
    waitForDeployment(tb, 'apps', 'web'),
    waitForDeployment(tb, 'apps', 'api'),
    waitForDeployment(tb, 'apps', 'cache'),
    waitForStatefulSet(tb, 'apps', 'db', 90_000),
    waitForDaemonSet(tb, 'apps', 'node-agent'),
    waitForPodReady(tb, 'apps', 'bare'),
    waitForDeployment(tb, 'kube-system', 'coredns'),
  ]);
  for (const pdb of ['web', 'api', 'db']) await waitForPdb(tb, 'apps', pdb);
}

// ---------------------------------------------------------------------------------------------
// Calico CRDs

/** Applies every CRD of fixtures/calico-v3.32.1/crds (server-side) and waits until all are Established. */
export async function installCalicoCrds(tb: Testbed): Promise<string[]> {
  const dir = path.join(fixturesDir, 'calico-v3.32.1', 'crds');
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  const names = files.flatMap((f) =>
    readManifest(path.join(dir, f))
      .filter((o) => o.kind === 'CustomResourceDefinition')
      .map((o) => o.metadata.name),
  );
  kubectlOk(tb, ['apply', '--server-side', '--force-conflicts', ...files.flatMap((f) => ['-f', path.join(dir, f)])]);
  kubectlOk(tb, ['wait', '--for=condition=Established', '--timeout=60s', ...names.map((n) => `crd/${n}`)]);
  return names;
}

// ---------------------------------------------------------------------------------------------
// Node helpers for tests

export function getNodes(tb: Testbed): NodeJson[] {
  return kubectlJson<KubeList<NodeJson>>(tb, ['get', 'nodes']).items;
}

export function getPods(tb: Testbed, namespace: string, selector?: string): PodJson[] {
  const args = [
    'get',
    'pods',
    ...(namespace === '*' ? ['--all-namespaces'] : ['-n', namespace]),
    ...(selector ? ['-l', selector] : []),
  ];
  return kubectlJson<KubeList<PodJson>>(tb, args).items;
}
