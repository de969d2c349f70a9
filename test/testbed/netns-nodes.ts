/**
 * Network-namespace nodes: test-bed Nodes made real enough for the node side of a migration.
 *
 * Each designated Node gets a Linux network namespace (eth0 on an isolated underlay bridge, with the
 * Node's InternalIP), a per-node root directory standing in for its filesystem (etc/cni/net.d,
 * run/flannel, var/lib/cni …), and two things the kubelet would run there:
 *  - flanneld v0.28.10, the real binary (build-flanneld.sh), with --kube-subnet-mgr against the test
 *    bed, started when flannel's (or Canal's) DaemonSet pod is on the node and stopped when it leaves,
 *    as the kubelet starts and kills its container. flanneld itself writes the Node's annotations,
 *    flannel.<VNI>, its routes, neighbour and FDB entries, its iptables chains and subnet.env. The
 *    CNI config is written as the DaemonSet's install-cni init container writes it, and for flannel a
 *    cni0 bridge with the node's gateway address stands in for the bridge CNI plugin.
 *  - the node agent: plays the kubelet for the product's host Jobs (pods labelled
 *    flannel2calico.io/role=host-cleanup|host-revert|host-check) bound to these nodes, which kwok
 *    leaves alone (startTestbed's agentNodes). It runs the container's command with the pod's env
 *    inside the node's namespace, with `env -i PATH=<the image's command set>`, and writes back the
 *    real phase, exit code and (on failure) the output's tail as the termination message.
 *
 * hostPath mounts are mapped, not mounted: a volumeMount at M of hostPath P becomes the per-node
 * directory <root>/P, and every env value equal to M or below it is rewritten to match (the host
 * scripts find the host's files through HOST_ROOT). Nothing is mounted on the machine. Commands the
 * scripts run by absolute path (iptables-legacy's /run/xtables.lock) see the machine's files.
 *
 * Everything here goes through kubectl and ip; nothing of the product's code is imported. The agent
 * and the flanneld supervisor run in this process's event loop: while they run, drive the CLI with
 * tb.cliAsync(), never the blocking tb.cli().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import YAML from 'yaml';
import {
  AGENT_ROLES,
  HOST_ROLE_LABEL,
  TestbedError,
  binDir,
  getNodes,
  must,
  nodeInternalIp,
  runAsync,
  runCommand,
  sleep,
  waitFor,
  type CommandResult,
  type Testbed,
} from './harness.js';
import { calicoNodeCommandDir } from './image-commands.js';
import { chainNames } from './iptables.js';

export const FLANNEL_VERSION = 'v0.28.10';
/** Where build-flanneld.sh puts flanneld; FLANNELD_BIN overrides, as it does for the build. */
export const flanneldDir = process.env.FLANNELD_BIN ?? `/var/cache/flannel2calico-testbed/flanneld-${FLANNEL_VERSION}`;
/** The helper image the product uses by default, and the pattern of images that have its command set. */
export const CALICO_NODE_IMAGE = /^quay\.io\/calico\/node:/;

/** The underlay: node i has eth0 = its InternalIP (198.51.100.10+i); the machine's one veth into it has .1. */
const UNDERLAY_CIDR = '198.51.100.0/24';
const HOST_UNDERLAY_IP = '198.51.100.1';
/** kubelet's FallbackToLogsOnError: the last 80 lines, at most 2 KiB. */
const MESSAGE_LINES = 80;
const MESSAGE_BYTES = 2048;

export type Flavour = 'flannel' | 'canal';

export interface NetnsNodesOptions {
  /** Nodes to make real; each must be among tb.agentNodes (so kwok leaves their host Jobs alone). */
  nodes: string[];
  /** flannel: kube-flannel.yml's DaemonSet; canal: canal.yaml's. */
  flavour: Flavour;
  /**
   * Namespace and name of the DaemonSet whose pods run flanneld (default kube-flannel/kube-flannel-ds, or
   * kube-system/canal).
   */
  namespace?: string;
  daemonSet?: string;
  /** How often the agent and the flanneld supervisor look at the cluster (ms, default 250). */
  intervalMs?: number;
}

export interface NetnsNode {
  name: string;
  /** `ip netns` name. */
  ns: string;
  /** The node's filesystem root: host path P is <root>/P. */
  root: string;
  /** eth0's address (the Node's InternalIP). */
  ip: string;
}

/** One host pod the agent handled. */
export interface AgentRun {
  pod: string;
  namespace: string;
  node: string;
  role: string;
  image: string;
  /** Succeeded / Failed, or ErrImagePull when the image is unknown (the pod stays Pending, then ImagePullBackOff). */
  outcome: 'Succeeded' | 'Failed' | 'ErrImagePull' | 'running';
  exitCode?: number;
  output: string;
}

interface PodJson {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
    resourceVersion?: string;
    ownerReferences?: Array<{ kind: string; name: string }>;
  };
  spec: {
    nodeName?: string;
    containers: ContainerJson[];
    initContainers?: ContainerJson[];
    volumes?: Array<{ name: string; hostPath?: { path: string; type?: string }; configMap?: { name: string } }>;
  };
  status?: { phase?: string; [key: string]: unknown };
}

interface ContainerJson {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{
    name: string;
    value?: string;
    valueFrom?: {
      fieldRef?: { fieldPath: string };
      configMapKeyRef?: { name: string; key: string; optional?: boolean };
    };
  }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

interface Flanneld {
  child: ChildProcess;
  pid: number;
  podUid: string;
  exited: Promise<void>;
}

let instances = 0;

/** `ip` with the arguments, throwing with its stderr on failure. */
function ip(...args: string[]): string {
  return must(runCommand('ip', args), `ip ${args.join(' ')}`);
}

function nowIso(): string {
  return new Date().toISOString();
}

/** The last lines of a container's output, as the kubelet puts them in a termination message. */
export function terminationMessage(output: string): string {
  const tail = output.replace(/\n$/, '').split('\n').slice(-MESSAGE_LINES).join('\n');
  const bytes = Buffer.from(tail, 'utf8');
  return bytes.length <= MESSAGE_BYTES ? tail : bytes.subarray(bytes.length - MESSAGE_BYTES).toString('utf8');
}

/**
 * Refuses to give the machine an underlay address unless the range is free here: the machine's own
 * network may sit in documentation ranges too (eth0 in 192.0.2.0/24 with its gateway at .1).
 */
function assertUnderlayIsFree(): void {
  const [net, bits] = ipaddr.parseCIDR(UNDERLAY_CIDR);
  const inRange = (a: string) =>
    ipaddr.isValid(a) && ipaddr.parse(a).kind() === 'ipv4' && ipaddr.parse(a).match(net, bits);
  const routeGet = runCommand('ip', ['-j', 'route', 'get', HOST_UNDERLAY_IP]);
  if (routeGet.status === 0) {
    const [route] = JSON.parse(routeGet.stdout) as Array<{
      type?: string;
      gateway?: string;
      dev?: string;
      prefsrc?: string;
    }>;
    if (
      route?.type === 'local' ||
      !route?.gateway ||
      inRange(route.gateway) ||
      (route.prefsrc && inRange(route.prefsrc))
    ) {
      throw new TestbedError(
        `${UNDERLAY_CIDR} is in use on this machine (ip route get ${HOST_UNDERLAY_IP}: ` +
          `${routeGet.stdout.trim()}); the netns nodes need it unrouted (another test bed running?)`,
      );
    }
  }
  const addresses = JSON.parse(ip('-j', 'addr', 'show')) as Array<{
    ifname: string;
    addr_info: Array<{ local: string }>;
  }>;
  const taken = addresses.flatMap((l) =>
    l.addr_info.filter((a) => inRange(a.local)).map((a) => `${a.local} on ${l.ifname}`),
  );
  const routes = (JSON.parse(ip('-j', 'route', 'show')) as Array<{ dst: string }>).filter(
    (r) =>
      r.dst !== 'default' &&
      (inRange(r.dst.split('/')[0]) ||
        (r.dst.includes('/') && ipaddr.parse(HOST_UNDERLAY_IP).match(ipaddr.parseCIDR(r.dst)))),
  );
  if (taken.length > 0 || routes.length > 0) {
    throw new TestbedError(
      `${UNDERLAY_CIDR} is in use on this machine ` +
        `(${[...taken, ...routes.map((r) => `route ${r.dst}`)].join(', ')}); the netns nodes need ` +
        `it unrouted (another test bed running?)`,
    );
  }
}

function probeVxlan(ns: string): void {
  const r = runCommand('ip', [
    '-n',
    ns,
    'link',
    'add',
    'vxprobe',
    'type',
    'vxlan',
    'id',
    '42',
    'dstport',
    '4789',
    'dev',
    'lo',
  ]);
  if (r.status !== 0)
    throw new TestbedError(
      `this kernel cannot create VXLAN devices in a network namespace (${r.stderr.trim()}); the ` +
        `netns nodes need the vxlan module`,
    );
  ip('-n', ns, 'link', 'del', 'vxprobe');
}

/**
 * A kubeconfig for flanneld inside the namespaces: the API server through the underlay, no CA (flanneld refuses a CA
 * with insecure-skip-tls-verify).
 */
function underlayKubeconfig(kubeconfig: string): string {
  const config = YAML.parse(fs.readFileSync(kubeconfig, 'utf8')) as {
    clusters: Array<{ cluster: Record<string, unknown> }>;
  };
  for (const { cluster } of config.clusters) {
    const server = new URL(String(cluster.server));
    server.hostname = HOST_UNDERLAY_IP;
    cluster.server = server.toString().replace(/\/$/, '');
    delete cluster['certificate-authority'];
    delete cluster['certificate-authority-data'];
    cluster['insecure-skip-tls-verify'] = true;
  }
  return YAML.stringify(config);
}

export class NetnsNodes {
  readonly nodes: NetnsNode[] = [];
  /** Every host pod the agent handled, in order. */
  readonly runs: AgentRun[] = [];
  /** flanneld starts and stops, in order: `start worker-0`, `stop worker-0`. */
  readonly flanneldEvents: string[] = [];
  private readonly prefix: string;
  private readonly underlay: string;
  private readonly hostVeth: string;
  private readonly dir: string;
  private readonly kubeconfig: string;
  private readonly flannelNamespace: string;
  private readonly flannelDaemonSet: string;
  private readonly images = new Map<string, string>();
  private readonly flanneld = new Map<string, Flanneld>();
  private readonly started = new Set<string>();
  private readonly running = new Map<string, ChildProcess>();
  /** runPod() calls not yet finished; down() waits for them. */
  private readonly inFlight = new Set<Promise<void>>();
  private calicoNodeDir?: string;
  private loop?: Promise<void>;
  private stopped = false;
  private lastError?: string;

  constructor(
    private readonly tb: Testbed,
    private readonly opts: NetnsNodesOptions,
  ) {
    instances += 1;
    // Short: interface names are at most 15 characters.
    this.prefix = `f2c${process.pid % 100000}${instances}`;
    this.underlay = `${this.prefix}-ul`;
    this.hostVeth = `${this.prefix}-h`;
    this.flannelNamespace = opts.namespace ?? (opts.flavour === 'canal' ? 'kube-system' : 'kube-flannel');
    this.flannelDaemonSet = opts.daemonSet ?? (opts.flavour === 'canal' ? 'canal' : 'kube-flannel-ds');
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-netns-'));
    this.kubeconfig = path.join(this.dir, 'flanneld.kubeconfig');
  }

  /** The namespace node called `name`. */
  node(name: string): NetnsNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new TestbedError(`${name} is not a namespace node (${this.nodes.map((n) => n.name).join(', ')})`);
    return node;
  }

  /**
   * Makes the agent run pods of `image` with the commands in `commandDir` (e.g. calicoNodeCommandDir({ without:
   * ['nft'] })).
   */
  registerImage(image: string, commandDir: string): void {
    this.images.set(image, commandDir);
  }

  /** The command directory for an image, or undefined when no such image "exists". */
  imageCommands(image: string): string | undefined {
    const registered = this.images.get(image);
    if (registered) return registered;
    if (CALICO_NODE_IMAGE.test(image)) {
      this.calicoNodeDir ??= calicoNodeCommandDir({ dir: path.join(this.dir, 'image-calico-node') });
      return this.calicoNodeDir;
    }
    return undefined;
  }

  async start(): Promise<void> {
    const wanted = this.opts.nodes;
    const notAgent = wanted.filter((n) => !this.tb.agentNodes.includes(n));
    if (notAgent.length > 0)
      throw new TestbedError(
        `start the test bed with agentNodes including ${notAgent.join(', ')}, so that kwok leaves ` +
          `their host Jobs to the agent`,
      );
    if (!fs.existsSync(path.join(flanneldDir, 'flanneld')))
      throw new TestbedError(
        `flanneld is missing in ${flanneldDir}; build it with \`bash test/testbed/build-flanneld.sh\``,
      );
    const nodes = getNodes(this.tb);
    const index = (name: string) => this.tb.nodeNames.indexOf(name);
    for (const name of wanted) {
      const node = nodes.find((n) => n.metadata.name === name);
      const address = node?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
      if (
        !address ||
        address !== nodeInternalIp(index(name)) ||
        !ipaddr.parse(address).match(ipaddr.parseCIDR(UNDERLAY_CIDR))
      ) {
        throw new TestbedError(`node ${name} has InternalIP ${address ?? 'none'}, not one in ${UNDERLAY_CIDR}`);
      }
    }
    assertUnderlayIsFree();

    ip('netns', 'add', this.underlay);
    ip('-n', this.underlay, 'link', 'set', 'lo', 'up');
    probeVxlan(this.underlay);
    ip('-n', this.underlay, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', this.underlay, 'link', 'set', 'br0', 'up');
    ip('link', 'add', this.hostVeth, 'type', 'veth', 'peer', 'name', 'host', 'netns', this.underlay);
    ip('-n', this.underlay, 'link', 'set', 'host', 'master', 'br0', 'up');
    ip('addr', 'add', `${HOST_UNDERLAY_IP}/24`, 'dev', this.hostVeth);
    ip('link', 'set', this.hostVeth, 'up');
    fs.writeFileSync(this.kubeconfig, underlayKubeconfig(this.tb.kubeconfig));

    for (const [i, name] of wanted.entries()) {
      const ns = `${this.prefix}-n${i}`;
      const address = nodeInternalIp(index(name));
      ip('netns', 'add', ns);
      const node: NetnsNode = { name, ns, root: path.join(this.dir, name), ip: address };
      this.nodes.push(node);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip(
        'link',
        'add',
        `${this.prefix}-p${i}`,
        'netns',
        this.underlay,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        ns,
      );
      ip('-n', this.underlay, 'link', 'set', `${this.prefix}-p${i}`, 'master', 'br0', 'up');
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      must(runCommand('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']), `ip_forward in ${ns}`);
      for (const dir of [
        'etc/cni/net.d',
        'etc/kube-flannel',
        'opt/cni/bin',
        'run/flannel',
        'var/lib/cni/networks',
        'var/log',
      ]) {
        fs.mkdirSync(path.join(node.root, dir), { recursive: true });
      }
    }
    // The API server must answer through the underlay before flanneld is pointed at it.
    const server = new URL(
      String(
        (YAML.parse(fs.readFileSync(this.kubeconfig, 'utf8')) as { clusters: Array<{ cluster: { server: string } }> })
          .clusters[0].cluster.server,
      ),
    );
    const first = this.nodes[0];
    if (first) {
      await waitFor(
        async () =>
          (
            await runAsync(
              'ip',
              ['netns', 'exec', first.ns, 'bash', '-c', `exec 3<>/dev/tcp/${server.hostname}/${server.port}`],
              { timeoutMs: 5000 },
            )
          ).status === 0,
        15_000,
        `the API server at ${server.host} from ${first.ns} (is it listening on all addresses?)`,
      );
    }
    this.loop = this.run();
  }

  /** Runs in the namespace of `node`: `ip netns exec <ns> cmd args`. */
  exec(node: string, cmd: string, args: string[], input?: string): CommandResult {
    return runCommand('ip', ['netns', 'exec', this.node(node).ns, cmd, ...args], { input, timeoutMs: 60_000 });
  }

  /** Host path `p` on `node` (in its root directory). */
  hostPath(node: string, p: string): string {
    return path.join(this.node(node).root, p);
  }

  links(node: string): Array<{ ifname: string; address?: string; linkinfo?: { info_kind?: string } }> {
    return JSON.parse(ip('-n', this.node(node).ns, '-d', '-j', 'link', 'show')) as Array<{
      ifname: string;
      address?: string;
    }>;
  }

  routes(node: string): string[] {
    return ip('-n', this.node(node).ns, 'route', 'show')
      .trim()
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  }

  neighbours(node: string, dev: string): string[] {
    const r = runCommand('ip', ['-n', this.node(node).ns, 'neigh', 'show', 'dev', dev]);
    return r.status === 0
      ? r.stdout
          .trim()
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)
      : [];
  }

  fdb(node: string, dev: string): string[] {
    const r = runCommand('bridge', ['-n', this.node(node).ns, 'fdb', 'show', 'dev', dev]);
    return r.status === 0
      ? r.stdout
          .trim()
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)
      : [];
  }

  /** Chain names in an iptables-save dump of the node (tool: iptables-nft-save, iptables-legacy-save, ip6tables-…). */
  chains(node: string, tool: string): string[] {
    return chainNames(must(this.exec(node, tool, []), `${tool} on ${node}`));
  }

  nftTables(node: string): string[] {
    return must(this.exec(node, 'nft', ['list', 'tables']), `nft list tables on ${node}`)
      .trim()
      .split('\n')
      .filter(Boolean);
  }

  /** Whether flanneld runs on the node now. */
  flanneldRunning(node: string): boolean {
    return this.flanneld.has(node);
  }

  /**
   * Waits until flanneld runs on every namespace node and has written its annotations, subnet.env and flannel.<VNI>.
   */
  async waitForFlanneld(vni = 1, timeoutMs = 60_000): Promise<void> {
    await waitFor(
      () => {
        this.throwIfFailed();
        const nodes = getNodes(this.tb);
        return this.nodes.every((n) => {
          const annotations = nodes.find((x) => x.metadata.name === n.name)?.metadata.annotations ?? {};
          return (
            this.flanneld.has(n.name) &&
            Object.keys(annotations).some((k) => k.endsWith('/backend-data')) &&
            fs.existsSync(this.hostPath(n.name, 'run/flannel/subnet.env')) &&
            this.links(n.name).some((l) => l.ifname === `flannel.${vni}`) &&
            (this.opts.flavour === 'canal' || this.links(n.name).some((l) => l.ifname === 'cni0'))
          );
        });
      },
      timeoutMs,
      'flanneld on every namespace node',
      500,
    );
  }

  /** Throws what stopped the agent loop, if anything did. */
  throwIfFailed(): void {
    if (this.lastError) throw new TestbedError(`netns node agent: ${this.lastError}`);
  }

  // -------------------------------------------------------------------------------------------
  // The loop: one look at the cluster, then act

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.tick();
        this.lastError = undefined;
      } catch (err) {
        this.lastError = (err as Error).message;
      }
      await sleep(this.opts.intervalMs ?? 250);
    }
  }

  /** tb.kubectl() blocks the event loop; the loop runs the same kubectl without blocking. */
  private kubectl(args: string[], input?: string): Promise<CommandResult> {
    return runAsync(path.join(binDir, 'kubectl'), ['--kubeconfig', this.tb.kubeconfig, ...args], {
      input,
      timeoutMs: 30_000,
    });
  }

  private async kubectlJson<T>(args: string[]): Promise<T> {
    return JSON.parse(must(await this.kubectl([...args, '-o', 'json']), `kubectl ${args.join(' ')}`)) as T;
  }

  private async tick(): Promise<void> {
    // Host pods first, flannel's pods second: a host pod seen here was created after its node's flannel
    // pod was gone, so flanneld is stopped below before that host pod runs (the kubelet would have
    // killed flanneld's container before the pod object went away).
    const selector = `${HOST_ROLE_LABEL} in (${AGENT_ROLES.join(',')})`;
    const hostPods = (await this.kubectlJson<{ items: PodJson[] }>(['get', 'pods', '--all-namespaces', '-l', selector]))
      .items;
    const flannelPods = (
      await this.kubectlJson<{ items: PodJson[] }>(['get', 'pods', '-n', this.flannelNamespace])
    ).items.filter((p) =>
      p.metadata.ownerReferences?.some((o) => o.kind === 'DaemonSet' && o.name === this.flannelDaemonSet),
    );
    await this.superviseFlanneld(flannelPods);

    const names = new Set(this.nodes.map((n) => n.name));
    for (const pod of hostPods) {
      if (!pod.spec.nodeName || !names.has(pod.spec.nodeName)) continue;
      if (
        this.started.has(pod.metadata.uid) ||
        pod.metadata.deletionTimestamp ||
        (pod.status?.phase ?? 'Pending') !== 'Pending'
      )
        continue;
      this.started.add(pod.metadata.uid);
      const done = this.runPod(pod).catch((err: Error) => {
        this.lastError = `pod ${pod.metadata.namespace}/${pod.metadata.name}: ${err.message}`;
      });
      this.inFlight.add(done);
      void done.finally(() => this.inFlight.delete(done));
    }
    // The kubelet kills the containers of a pod that is being deleted or is gone.
    const live = new Set(hostPods.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.uid));
    for (const [uid, child] of this.running) if (!live.has(uid) && child.pid) process.kill(child.pid, 'SIGKILL');
  }

  // -------------------------------------------------------------------------------------------
  // flanneld, following flannel's DaemonSet pod on each node

  private async superviseFlanneld(pods: PodJson[]): Promise<void> {
    for (const node of this.nodes) {
      const pod = pods.find(
        (p) =>
          p.spec.nodeName === node.name &&
          !p.metadata.deletionTimestamp &&
          !['Succeeded', 'Failed'].includes(p.status?.phase ?? ''),
      );
      const current = this.flanneld.get(node.name);
      if (current && (!pod || pod.metadata.uid !== current.podUid)) await this.stopFlanneld(node);
      if (pod && !this.flanneld.has(node.name)) await this.startFlanneld(node, pod);
      if (pod && this.opts.flavour === 'flannel') this.ensureBridge(node);
    }
  }

  private async configMapData(name: string, namespace: string): Promise<Record<string, string>> {
    return (
      (await this.kubectlJson<{ data?: Record<string, string> }>(['get', 'configmap', name, '-n', namespace])).data ??
      {}
    );
  }

  private async containerEnv(c: ContainerJson, pod: PodJson): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      const field = e.valueFrom?.fieldRef?.fieldPath;
      if (field === 'metadata.name') env[e.name] = pod.metadata.name;
      if (field === 'metadata.namespace') env[e.name] = pod.metadata.namespace;
      if (field === 'spec.nodeName') env[e.name] = pod.spec.nodeName ?? '';
      const ref = e.valueFrom?.configMapKeyRef;
      if (ref) {
        const value = (await this.configMapData(ref.name, pod.metadata.namespace))[ref.key];
        if (value !== undefined) env[e.name] = value;
      }
    }
    return env;
  }

  /** What the DaemonSet's init containers and flanneld's container would do on the node, with flanneld itself. */
  private async startFlanneld(node: NetnsNode, pod: PodJson): Promise<void> {
    const container = pod.spec.containers.find((c) => c.name === 'kube-flannel');
    if (!container) throw new TestbedError(`pod ${pod.metadata.name} has no kube-flannel container`);
    const configVolume = container.volumeMounts?.find((m) => m.mountPath.replace(/\/$/, '') === '/etc/kube-flannel');
    const configMap = pod.spec.volumes?.find((v) => v.name === configVolume?.name)?.configMap?.name;
    if (!configMap) throw new TestbedError(`pod ${pod.metadata.name} mounts no ConfigMap at /etc/kube-flannel`);
    const data = await this.configMapData(configMap, pod.metadata.namespace);
    const netConf = path.join(node.root, 'etc/kube-flannel/net-conf.json');
    fs.writeFileSync(netConf, data['net-conf.json']);
    await this.installCni(node, pod, data);

    const env: Record<string, string> = { ...(await this.containerEnv(container, pod)), NODE_NAME: node.name };
    const flags = [...(container.command ?? []), ...(container.args ?? [])].filter((a) => a.startsWith('--'));
    const args = [
      ...flags,
      `--kubeconfig-file=${this.kubeconfig}`,
      `--net-config-path=${netConf}`,
      `--subnet-file=${path.join(node.root, 'run/flannel/subnet.env')}`,
      ...(env.FLANNELD_IFACE || flags.some((f) => f.startsWith('--iface')) ? [] : ['--iface=eth0']),
    ];
    const log = fs.openSync(path.join(node.root, 'var/log/flanneld.log'), 'a');
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        node.ns,
        'env',
        ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
        path.join(flanneldDir, 'flanneld'),
        ...args,
      ],
      {
        stdio: ['ignore', log, log],
      },
    );
    fs.closeSync(log);
    if (!child.pid) throw new TestbedError(`could not start flanneld on ${node.name}`);
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const entry: Flanneld = { child, pid: child.pid, podUid: pod.metadata.uid, exited };
    void exited.then(() => {
      if (this.flanneld.get(node.name) === entry) this.flanneld.delete(node.name);
    });
    this.flanneld.set(node.name, entry);
    this.flanneldEvents.push(`start ${node.name}`);
  }

  /** Kills flanneld by PID (SIGTERM, then SIGKILL after 5 s) and waits until it is gone. */
  private async stopFlanneld(node: NetnsNode): Promise<void> {
    const entry = this.flanneld.get(node.name);
    if (!entry) return;
    this.flanneld.delete(node.name);
    try {
      process.kill(entry.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    let timer: NodeJS.Timeout | undefined;
    const killed = await Promise.race([
      entry.exited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), 5000);
      }),
    ]);
    clearTimeout(timer);
    if (!killed) {
      try {
        process.kill(entry.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await entry.exited;
    }
    this.flanneldEvents.push(`stop ${node.name}`);
  }

  /**
   * kube-flannel.yml's install-cni copies cni-conf.json; canal.yaml's (calico/cni install) fills in
   * cni_network_config.
   */
  private async installCni(node: NetnsNode, pod: PodJson, data: Record<string, string>): Promise<void> {
    const cniDir = path.join(node.root, 'etc/cni/net.d');
    if (this.opts.flavour === 'flannel') {
      fs.writeFileSync(path.join(cniDir, '10-flannel.conflist'), data['cni-conf.json']);
      return;
    }
    const install = pod.spec.initContainers?.find((c) => c.name === 'install-cni');
    if (!install) throw new TestbedError(`Canal pod ${pod.metadata.name} has no install-cni init container`);
    const env = await this.containerEnv(install, pod);
    const conf = (env.CNI_NETWORK_CONFIG ?? '')
      .replaceAll('__CNI_MTU__', env.CNI_MTU ?? '1450')
      .replaceAll('__KUBERNETES_NODE_NAME__', node.name)
      .replaceAll('__KUBECONFIG_FILEPATH__', '/etc/cni/net.d/calico-kubeconfig');
    fs.writeFileSync(path.join(cniDir, env.CNI_CONF_NAME ?? '10-canal.conflist'), conf);
    fs.writeFileSync(path.join(cniDir, 'calico-kubeconfig'), 'apiVersion: v1\nkind: Config\n');
  }

  /**
   * The bridge plugin's cni0: created with the node's gateway address (FLANNEL_SUBNET) when the first pod is
   * networked.
   */
  private ensureBridge(node: NetnsNode): void {
    const subnetEnv = path.join(node.root, 'run/flannel/subnet.env');
    if (!fs.existsSync(subnetEnv)) return;
    if (runCommand('ip', ['-n', node.ns, 'link', 'show', 'cni0']).status === 0) return;
    const env = Object.fromEntries(
      fs
        .readFileSync(subnetEnv, 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    if (!env.FLANNEL_SUBNET) return;
    ip('-n', node.ns, 'link', 'add', 'cni0', 'type', 'bridge');
    ip('-n', node.ns, 'addr', 'add', env.FLANNEL_SUBNET, 'dev', 'cni0');
    ip('-n', node.ns, 'link', 'set', 'cni0', 'mtu', env.FLANNEL_MTU ?? '1450', 'up');
  }

  // -------------------------------------------------------------------------------------------
  // The agent: the kubelet for the product's host Jobs

  private async runPod(pod: PodJson): Promise<void> {
    const node = this.node(pod.spec.nodeName!);
    const container = pod.spec.containers[0];
    const record: AgentRun = {
      pod: pod.metadata.name,
      namespace: pod.metadata.namespace,
      node: node.name,
      role: pod.metadata.labels?.[HOST_ROLE_LABEL] ?? '',
      image: container.image,
      outcome: 'running',
      output: '',
    };
    this.runs.push(record);
    const commands = this.imageCommands(container.image);
    if (!commands) {
      // The kubelet reports the failed pull, then backs off: ErrImagePull, then ImagePullBackOff. Never run.
      record.outcome = 'ErrImagePull';
      const waiting = (reason: string, message: string) => () => ({
        phase: 'Pending',
        conditions: [
          { type: 'PodScheduled', status: 'True' },
          { type: 'Ready', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: nowIso() },
        ],
        containerStatuses: [
          {
            name: container.name,
            image: container.image,
            imageID: '',
            ready: false,
            restartCount: 0,
            started: false,
            state: { waiting: { reason, message } },
          },
        ],
      });
      await this.writeStatus(
        pod,
        waiting('ErrImagePull', `failed to pull and unpack image "${container.image}": not found`),
      );
      await sleep(2000);
      await this.writeStatus(pod, waiting('ImagePullBackOff', `Back-off pulling image "${container.image}"`));
      return;
    }

    const startedAt = nowIso();
    await this.writeStatus(pod, () => ({
      phase: 'Running',
      startTime: startedAt,
      hostIP: node.ip,
      hostIPs: [{ ip: node.ip }],
      podIP: node.ip,
      podIPs: [{ ip: node.ip }],
      conditions: ['PodScheduled', 'Initialized', 'Ready', 'ContainersReady'].map((type) => ({
        type,
        status: 'True',
        lastTransitionTime: startedAt,
      })),
      containerStatuses: [
        {
          name: container.name,
          image: container.image,
          imageID: '',
          ready: true,
          restartCount: 0,
          started: true,
          state: { running: { startedAt } },
        },
      ],
    }));

    const { argv, env } = this.mapContainer(node, pod, container);
    const executable = path.join(commands, path.basename(argv[0] ?? ''));
    let exitCode: number;
    let reason: string;
    if (!argv[0] || !fs.existsSync(executable)) {
      exitCode = 128;
      reason = 'StartError';
      record.output = `exec: "${argv[0]}": stat ${argv[0]}: no such file or directory`;
    } else {
      const child = spawn(
        'ip',
        [
          'netns',
          'exec',
          node.ns,
          'env',
          '-i',
          `PATH=${commands}`,
          ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
          executable,
          ...argv.slice(1),
        ],
        {
          cwd: '/',
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      this.running.set(pod.metadata.uid, child);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        record.output += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        record.output += d;
      });
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.on('close', (c, s) => resolve([c, s])),
      );
      this.running.delete(pod.metadata.uid);
      exitCode = code ?? (signal === 'SIGKILL' ? 137 : 143);
      reason = exitCode === 0 ? 'Completed' : 'Error';
    }
    record.exitCode = exitCode;
    record.outcome = exitCode === 0 ? 'Succeeded' : 'Failed';
    const finishedAt = nowIso();
    const failed = exitCode !== 0;
    await this.writeStatus(pod, () => ({
      phase: failed ? 'Failed' : 'Succeeded',
      startTime: startedAt,
      hostIP: node.ip,
      hostIPs: [{ ip: node.ip }],
      podIP: node.ip,
      podIPs: [{ ip: node.ip }],
      conditions: [
        { type: 'PodScheduled', status: 'True' },
        { type: 'Initialized', status: 'True', lastTransitionTime: startedAt },
        {
          type: 'Ready',
          status: 'False',
          reason: failed ? 'PodFailed' : 'PodCompleted',
          lastTransitionTime: finishedAt,
        },
        {
          type: 'ContainersReady',
          status: 'False',
          reason: failed ? 'PodFailed' : 'PodCompleted',
          lastTransitionTime: finishedAt,
        },
      ],
      containerStatuses: [
        {
          name: container.name,
          image: container.image,
          imageID: '',
          containerID: `netns://${node.ns}/${pod.metadata.uid}`,
          ready: false,
          restartCount: 0,
          started: false,
          state: {
            terminated: {
              exitCode,
              reason,
              startedAt,
              finishedAt,
              ...(failed && record.output ? { message: terminationMessage(record.output) } : {}),
            },
          },
        },
      ],
    }));
  }

  /** The container's argv and env, with hostPath mount points mapped into the node's root directory. */
  private mapContainer(
    node: NetnsNode,
    pod: PodJson,
    container: ContainerJson,
  ): { argv: string[]; env: Record<string, string> } {
    const mounts: Array<[string, string]> = [];
    for (const m of container.volumeMounts ?? []) {
      const hostPath = pod.spec.volumes?.find((v) => v.name === m.name)?.hostPath;
      if (!hostPath) continue;
      const onNode = path.join(node.root, hostPath.path);
      if (hostPath.type === 'FileOrCreate' && !fs.existsSync(onNode)) {
        fs.mkdirSync(path.dirname(onNode), { recursive: true });
        fs.writeFileSync(onNode, '');
      } else if (hostPath.type === 'DirectoryOrCreate') {
        fs.mkdirSync(onNode, { recursive: true });
      }
      mounts.push([m.mountPath.replace(/\/$/, '') || '/', onNode.replace(/\/$/, '')]);
    }
    // Longest mount point first, so /host/run is not taken for /host.
    mounts.sort((a, b) => b[0].length - a[0].length);
    const mapValue = (value: string): string => {
      for (const [mountPath, onNode] of mounts) {
        if (value === mountPath) return onNode;
        if (mountPath !== '/' && value.startsWith(`${mountPath}/`)) return onNode + value.slice(mountPath.length);
      }
      return value;
    };
    const env: Record<string, string> = {};
    for (const e of container.env ?? []) {
      if (e.value !== undefined) env[e.name] = mapValue(e.value);
      if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env[e.name] = node.name;
    }
    return { argv: [...(container.command ?? []), ...(container.args ?? [])], env };
  }

  /** Replaces the pod's status as the kubelet does, through the status subresource, retrying on 409 Conflict. */
  private async writeStatus(pod: PodJson, status: () => Record<string, unknown>): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      if (this.stopped) return;
      const r0 = await this.kubectl(['get', 'pod', pod.metadata.name, '-n', pod.metadata.namespace, '-o', 'json']);
      if (r0.status !== 0 && /NotFound/.test(r0.stderr)) return;
      const current = JSON.parse(must(r0, `kubectl get pod ${pod.metadata.name}`)) as PodJson;
      if (current.metadata.uid !== pod.metadata.uid) return;
      current.status = { ...current.status, ...status() };
      const r = await this.kubectl(['replace', '--subresource=status', '-f', '-'], JSON.stringify(current));
      if (r.status === 0) return;
      if (/NotFound/.test(r.stderr)) return;
      if (!/Conflict|the object has been modified/i.test(r.stderr))
        throw new TestbedError(`writing the status of pod ${pod.metadata.name}: ${r.stderr.trim()}`);
      await sleep(50 * (attempt + 1));
    }
    throw new TestbedError(`writing the status of pod ${pod.metadata.name}: still conflicting after 20 attempts`);
  }

  // -------------------------------------------------------------------------------------------

  /**
   * Stops the loop, flanneld and running pods (by PID), then removes the namespaces, the veth and the files. Safe to
   * call twice.
   */
  async down(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.loop;
    for (const node of this.nodes) await this.stopFlanneld(node);
    for (const child of this.running.values())
      if (child.pid) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    await Promise.all(this.inFlight);
    const errors: string[] = [];
    for (const ns of [...this.nodes.map((n) => n.ns), this.underlay]) {
      const r = runCommand('ip', ['netns', 'del', ns]);
      if (r.status !== 0 && !/No such file/.test(r.stderr)) errors.push(r.stderr.trim());
    }
    // The host side of the veth goes with its peer's namespace; delete it in case the pair was half made.
    runCommand('ip', ['link', 'del', this.hostVeth]);
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (errors.length > 0) throw new TestbedError(`removing the netns nodes: ${errors.join('; ')}`);
  }

  /** Names of this instance's network namespaces and its host-side veth, for checking that down() removed them. */
  get resources(): { namespaces: string[]; hostVeth: string; dir: string } {
    return { namespaces: [...this.nodes.map((n) => n.ns), this.underlay], hostVeth: this.hostVeth, dir: this.dir };
  }
}

/** Makes `opts.nodes` namespace nodes and starts flanneld's supervisor and the node agent. */
export async function startNetnsNodes(tb: Testbed, opts: NetnsNodesOptions): Promise<NetnsNodes> {
  const nodes = new NetnsNodes(tb, opts);
  try {
    await nodes.start();
    return nodes;
  } catch (err) {
    await nodes.down().catch(() => undefined);
    throw err;
  }
}
