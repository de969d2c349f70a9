/**
 * The host scripts on real Linux devices: fake nodes are network namespaces joined by an isolated
 * underlay bridge (in a namespace of its own; nothing is added on the host side). Each node gets
 * the state a real flanneld v0.28.10 leaves (test/fixtures/flanneld-v0.28.10-node-state), plus
 * Calico and unrelated state that must survive, and the scripts run inside it with
 * `ip netns exec NS env -i PATH=<dir> HOST_ROOT=<per-node dir> …`, where <dir> holds only the
 * commands of the helper image quay.io/calico/node:v3.32.1 (test/testbed/image-commands.ts), as
 * the Job runs them. Needs root, VXLAN, iptables (nft and legacy) and nft.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { hostScriptJob, loadHostScript, type HostScriptJobOptions } from '../../src/host/pods.js';
import { calicoNodeCommandDir, type CommandSetOptions } from '../testbed/image-commands.js';
import { FELIX_RULES, chainNames } from '../testbed/iptables.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixturesDir = process.env.FIXTURES_DIR ?? path.join(repoRoot, 'test', 'fixtures');
const nodeStateDir = path.join(fixturesDir, 'flanneld-v0.28.10-node-state');
const cleanupScript = path.join(repoRoot, 'src/host/cleanup.sh');
const revertScript = path.join(repoRoot, 'src/host/revert.sh');

const prefix = `f2c-${process.pid}`;
const createdNamespaces: string[] = [];
const createdDirs: string[] = [];
const startedProcesses: ChildProcess[] = [];

// ---------------------------------------------------------------------------------------------
// Running commands

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input?: string): Result {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function must(cmd: string, args: string[], input?: string): string {
  const r = run(cmd, args, input);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

const inNs = (ns: string, cmd: string, args: string[], input?: string): string =>
  must('ip', ['netns', 'exec', ns, cmd, ...args], input);
const ipn = (ns: string, ...args: string[]): string => must('ip', ['-n', ns, ...args]);

function addNamespace(suffix: string): string {
  const ns = `${prefix}-${suffix}`;
  must('ip', ['netns', 'add', ns]);
  createdNamespaces.push(ns);
  ipn(ns, 'link', 'set', 'lo', 'up');
  return ns;
}

function tempRoot(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `f2c-host-${name}-`));
  createdDirs.push(dir);
  return dir;
}

/** A directory with only the commands of calico/node v3.32.1 (its `sh` is bash), removed after the suite. */
function imageCommands(options: Omit<CommandSetOptions, 'dir'> = {}): string {
  const dir = calicoNodeCommandDir({ ...options, dir: path.join(tempRoot('image'), 'bin') });
  return dir;
}

/** Every output of a script run in this suite, for the check that no command was ever missing. */
const scriptOutputs: string[] = [];
function recordRun(r: Result): Result {
  scriptOutputs.push(r.stdout, r.stderr);
  return r;
}

function have(cmd: string): boolean {
  return run('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

// ---------------------------------------------------------------------------------------------
// Fixtures: what flanneld left on node n1 of a two-node cluster

const fixture = (name: string): string => fs.readFileSync(path.join(nodeStateDir, name), 'utf8');

function manifestConfigMap(file: string, name: string): Record<string, string> {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(fixturesDir, file), 'utf8')).map((d) => d.toJS());
  const cm = docs.find((d) => d?.kind === 'ConfigMap' && d.metadata?.name === name);
  if (!cm) throw new Error(`no ConfigMap ${name} in ${file}`);
  return cm.data;
}

const flannelState = (() => {
  const annotations = JSON.parse(fixture('node-annotations.json'));
  const link = fixture('ip-link-flannel.1.txt');
  const vxlan = /(vxlan id (\d+) local (\S+) dev (\S+) .*dstport (\d+) (nolearning) ttl auto ageing \d+)/.exec(link);
  const mac = /link\/ether ([0-9a-f:]{17})/.exec(link);
  const neigh = /^(\S+) lladdr (\S+) PERMANENT/m.exec(fixture('ip-neigh-flannel.1.txt'));
  const fdb = /^(\S+) dst (\S+) self permanent/m.exec(fixture('bridge-fdb-flannel.1.txt'));
  const peerRoute = /^(\S+) via (\S+) dev flannel\.1 onlink/m.exec(fixture('ip-route.txt'));
  if (!vxlan || !mac || !neigh || !fdb || !peerRoute) throw new Error(`unexpected content in ${nodeStateDir}`);
  const backendData = JSON.parse(annotations.annotations['flannel.alpha.coreos.com/backend-data']);
  return {
    vxlanDetails: vxlan[1],
    vni: Number(vxlan[2]),
    port: Number(vxlan[5]),
    routes: fixture('ip-route.txt')
      .trim()
      .split('\n')
      .map((l) => l.trim()),
    iptables: fixture('iptables-save.txt'),
    subnetEnv: fixture('subnet.env'),
    n1: {
      publicIp: annotations.annotations['flannel.alpha.coreos.com/public-ip'] as string,
      podCidr: annotations.podCIDR as string,
      vtepMac: backendData.VtepMAC as string,
    },
    n2: { publicIp: fdb[2], podCidr: peerRoute[1], vtepMac: neigh[2] },
    flannelConflist: manifestConfigMap('flannel-v0.28.9/kube-flannel.yml', 'kube-flannel-cfg')['cni-conf.json'],
    canalConflist: manifestConfigMap('calico-v3.32.1/canal.yaml', 'canal-config').cni_network_config,
    calicoConflist: manifestConfigMap('calico-v3.32.1/flannel-migration-calico.yaml', 'calico-config')
      .cni_network_config,
  };
})();

/** "10.244.1.0/24" -> "10.244.1." (the fixtures use /24 node subnets of a /16). */
const base24 = (cidr: string): string => cidr.replace(/0\/24$/, '');

// ---------------------------------------------------------------------------------------------
// Building fake nodes

interface NodeSpec {
  name: string;
  publicIp: string;
  podCidr: string;
  vtepMac: string;
}

interface FakeNode extends NodeSpec {
  ns: string;
  root: string;
  vni: number;
}

function addUnderlay(tag: string): string {
  const ul = addNamespace(`${tag}-ul`);
  ipn(ul, 'link', 'add', 'br0', 'type', 'bridge');
  ipn(ul, 'link', 'set', 'br0', 'up');
  return ul;
}

function addNode(tag: string, underlay: string, spec: NodeSpec, vni: number): FakeNode {
  const ns = addNamespace(`${tag}-${spec.name}`);
  const port = `${spec.name}-ul`;
  ipn(underlay, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
  ipn(underlay, 'link', 'set', port, 'master', 'br0', 'up');
  ipn(ns, 'addr', 'add', `${spec.publicIp}/24`, 'dev', 'eth0');
  ipn(ns, 'link', 'set', 'eth0', 'up');
  inNs(ns, 'sh', ['-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
  return { ...spec, ns, root: tempRoot(`${tag}-${spec.name}`), vni };
}

function writeFile(node: FakeNode, hostPath: string, content: string): void {
  const file = path.join(node.root, hostPath);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

const fileExists = (node: FakeNode, hostPath: string): boolean => fs.existsSync(path.join(node.root, hostPath));
const readFile = (node: FakeNode, hostPath: string): string => fs.readFileSync(path.join(node.root, hostPath), 'utf8');

/** flanneld's iptables rules of the fixture, rewritten for this node's subnet. */
function flannelRules(node: NodeSpec): string {
  return flannelState.iptables.split('10.244.0.0/24').join(node.podCidr);
}

/** The same rules as flanneld writes them for IPv6. */
function flannelRulesV6(): string {
  return flannelState.iptables
    .split('10.244.0.0/24')
    .join('fd00:10:244::/64')
    .split('10.244.0.0/16')
    .join('fd00:10:244::/56')
    .split('224.0.0.0/4')
    .join('ff00::/8');
}

/** What flanneld (and flannel's CNI config and the bridge plugin) leave on a node. */
function installFlannel(
  node: FakeNode,
  peers: NodeSpec[],
  opts: { flavour: 'flannel' | 'canal'; ipv6?: boolean },
): void {
  const dev = `flannel.${node.vni}`;
  const base = base24(node.podCidr);
  ipn(
    node.ns,
    'link',
    'add',
    dev,
    'address',
    node.vtepMac,
    'type',
    'vxlan',
    'id',
    String(node.vni),
    'local',
    node.publicIp,
    'dev',
    'eth0',
    'dstport',
    String(flannelState.port),
    'nolearning',
  );
  ipn(node.ns, 'addr', 'add', `${base}0/32`, 'dev', dev);
  ipn(node.ns, 'link', 'set', dev, 'mtu', '1450', 'up');
  if (opts.flavour === 'flannel') {
    ipn(node.ns, 'link', 'add', 'cni0', 'type', 'bridge');
    ipn(node.ns, 'addr', 'add', `${base}1/24`, 'dev', 'cni0');
    ipn(node.ns, 'link', 'set', 'cni0', 'mtu', '1450', 'up');
  }
  for (const peer of peers) {
    const peerBase = base24(peer.podCidr);
    ipn(node.ns, 'route', 'add', peer.podCidr, 'via', `${peerBase}0`, 'dev', dev, 'onlink');
    ipn(node.ns, 'neigh', 'replace', `${peerBase}0`, 'lladdr', peer.vtepMac, 'dev', dev, 'nud', 'permanent');
    must('bridge', [
      '-n',
      node.ns,
      'fdb',
      'append',
      peer.vtepMac,
      'dev',
      dev,
      'dst',
      peer.publicIp,
      'self',
      'permanent',
    ]);
  }
  if (opts.ipv6) {
    const dev6 = `flannel-v6.${node.vni}`;
    ipn(
      node.ns,
      'link',
      'add',
      dev6,
      'type',
      'vxlan',
      'id',
      String(node.vni),
      'local',
      node.publicIp,
      'dev',
      'eth0',
      'dstport',
      String(flannelState.port + 1),
      'nolearning',
    );
    ipn(node.ns, 'addr', 'add', 'fd00:10:244::/128', 'dev', dev6, 'nodad');
    ipn(node.ns, 'link', 'set', dev6, 'up');
    ipn(node.ns, 'route', 'add', 'fd00:10:244:1::/64', 'via', 'fd00:10:244:1::', 'dev', dev6, 'onlink');
    inNs(node.ns, 'ip6tables-nft-restore', ['--noflush'], flannelRulesV6());
  }
  inNs(node.ns, 'iptables-nft-restore', ['--noflush'], flannelRules(node));

  const conf =
    opts.flavour === 'flannel'
      ? flannelState.flannelConflist
      : flannelState.canalConflist
          .replace('__CNI_MTU__', '1450')
          .replace('__KUBERNETES_NODE_NAME__', node.name)
          .replace('__KUBECONFIG_FILEPATH__', '/etc/cni/net.d/calico-kubeconfig');
  writeFile(node, `/etc/cni/net.d/${opts.flavour === 'flannel' ? '10-flannel.conflist' : '10-canal.conflist'}`, conf);
  if (opts.flavour === 'canal') writeFile(node, '/etc/cni/net.d/calico-kubeconfig', 'apiVersion: v1\nkind: Config\n');
  writeFile(node, '/run/flannel/subnet.env', flannelState.subnetEnv.replace('10.244.0.1/24', `${base}1/24`));
  const network = opts.flavour === 'flannel' ? 'cbr0' : 'k8s-pod-network';
  writeFile(node, `/var/lib/cni/networks/${network}/${base}2`, 'c0ffee\neth0');
  writeFile(node, `/var/lib/cni/networks/${network}/last_reserved_ip.0`, `${base}2`);
  writeFile(node, `/var/lib/cni/networks/${network}/lock`, '');
}

const UNRELATED_RULES = `*filter
:KUBE-FIREWALL - [0:0]
:NOT-FLANNEL-FWD - [0:0]
-A INPUT -j KUBE-FIREWALL
-A FORWARD -s 10.244.0.0/16 -m comment --comment "unrelated accept" -j ACCEPT
-A FORWARD -j NOT-FLANNEL-FWD
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -j DROP
COMMIT
*nat
:KUBE-POSTROUTING - [0:0]
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
COMMIT
`;

/** State of Calico and of the rest of the node that cleanup.sh must leave alone. */
function installSurvivors(node: FakeNode): void {
  const base = base24(node.podCidr);
  ipn(
    node.ns,
    'link',
    'add',
    'vxlan.calico',
    'type',
    'vxlan',
    'id',
    '4096',
    'local',
    node.publicIp,
    'dev',
    'eth0',
    'dstport',
    '4789',
    'nolearning',
  );
  ipn(node.ns, 'link', 'set', 'vxlan.calico', 'up');
  ipn(
    node.ns,
    'route',
    'add',
    '10.244.200.0/26',
    'via',
    '10.244.200.0',
    'dev',
    'vxlan.calico',
    'onlink',
    'proto',
    '80',
  );
  ipn(node.ns, 'route', 'add', 'blackhole', `${base}0/26`, 'proto', '80');
  ipn(node.ns, 'link', 'add', 'cali1234', 'type', 'veth', 'peer', 'name', 'podside0');
  ipn(node.ns, 'link', 'set', 'cali1234', 'up');
  ipn(node.ns, 'link', 'set', 'podside0', 'up');
  ipn(node.ns, 'route', 'add', `${base}66`, 'dev', 'cali1234', 'scope', 'link');
  inNs(node.ns, 'iptables-nft-restore', ['--noflush'], UNRELATED_RULES + FELIX_RULES);
  writeFile(node, '/etc/cni/net.d/10-calico.conflist', calicoConflist(node));
  writeFile(node, '/etc/cni/net.d/calico-kubeconfig', 'apiVersion: v1\nkind: Config\n');
}

const calicoConflist = (node: NodeSpec): string =>
  flannelState.calicoConflist
    .replace('__CNI_MTU__', '1450')
    .replace('__KUBERNETES_NODE_NAME__', node.name)
    .replace('__KUBECONFIG_FILEPATH__', '/etc/cni/net.d/calico-kubeconfig');

// ---------------------------------------------------------------------------------------------
// Reading a node

const linkNames = (ns: string): string[] =>
  (JSON.parse(ipn(ns, '-j', 'link', 'show')) as Array<{ ifname: string }>).map((l) => l.ifname);
const routes = (ns: string, family = '-4'): string[] =>
  ipn(ns, family, 'route', 'show')
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
const addresses = (ns: string, dev: string): string[] =>
  (
    JSON.parse(ipn(ns, '-j', 'addr', 'show', 'dev', dev)) as Array<{
      addr_info: Array<{ local: string; prefixlen: number }>;
    }>
  ).flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
const saveRules = (ns: string, tool = 'iptables-nft-save'): string => inNs(ns, tool, []);
const nftTables = (ns: string): string[] => inNs(ns, 'nft', ['list', 'tables']).trim().split('\n').filter(Boolean);

let calicoBin = '';

/** Runs a script file as `sh script` with nothing but the image's commands on PATH. */
function runScript(node: FakeNode, script: string, env: Record<string, string>, bin = calicoBin): Result {
  const vars = Object.entries({ PATH: bin, HOST_ROOT: node.root, NODE_NAME: node.name, ...env }).map(
    ([k, v]) => `${k}=${v}`,
  );
  return recordRun(run('ip', ['netns', 'exec', node.ns, 'env', '-i', ...vars, 'sh', script]));
}

/**
 * Runs exactly the container command and environment of the Job that flannel2calico creates, with
 * HOST_ROOT pointing at the node's files and nothing but the image's commands on PATH. The image's
 * /bin/sh is bash: the command's /bin/sh is the image directory's sh (or `shell`, to try another).
 */
function runJobCommand(
  node: FakeNode,
  job: ReturnType<typeof hostScriptJob>,
  bin = calicoBin,
  shell = path.join(bin, 'sh'),
): Result {
  const container = job.spec.template.spec.containers[0];
  const vars = (container.env as Array<{ name: string; value: string }>).map(
    (e) => `${e.name}=${e.name === 'HOST_ROOT' ? node.root : e.value}`,
  );
  const [sh, ...args] = container.command as string[];
  expect(sh).toBe('/bin/sh');
  return recordRun(run('ip', ['netns', 'exec', node.ns, 'env', '-i', `PATH=${bin}`, ...vars, shell, ...args]));
}

const jobOptions = (node: FakeNode, more: Partial<HostScriptJobOptions> = {}): HostScriptJobOptions => ({
  script: 'cleanup',
  scriptText: loadHostScript(more.script ?? 'cleanup'),
  node: node.name,
  namespace: 'kube-system',
  vni: node.vni,
  cniConfigDir: '/etc/cni/net.d',
  flavour: 'flannel',
  image: 'quay.io/calico/node:v3.32.1',
  runId: 'e2e',
  ...more,
});

const lines = (out: string): string[] => out.trim().split('\n');

// ---------------------------------------------------------------------------------------------
// Pod-to-pod traffic over the VXLAN overlay

function addPod(tag: string, node: FakeNode, ip: string): string {
  const pod = addNamespace(`${tag}-${node.name}-pod`);
  const hostSide = `veth-${node.name}`;
  ipn(node.ns, 'link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod);
  ipn(node.ns, 'link', 'set', hostSide, 'master', 'cni0', 'up');
  ipn(pod, 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
  ipn(pod, 'link', 'set', 'eth0', 'mtu', '1450', 'up');
  ipn(pod, 'route', 'add', 'default', 'via', `${base24(node.podCidr)}1`);
  return pod;
}

async function startEchoServer(pod: string, ip: string, port: number): Promise<void> {
  const code = `require('net').createServer((c) => c.pipe(c)).listen(${port}, '${ip}', () => console.log('listening'))`;
  const child = spawn('ip', ['netns', 'exec', pod, process.execPath, '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  startedProcesses.push(child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('echo server did not start within 20 s')), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (c) => {
      clearTimeout(timer);
      reject(new Error(`echo server exited with ${c}`));
    });
  });
}

/** Connects from the pod to ip:port and expects its message echoed back. */
function echoFrom(pod: string, ip: string, port: number): Result {
  const code = `const c = require('net').connect({ host: '${ip}', port: ${port}, timeout: 3000 }, () => c.end('over vxlan'));
let d = ''; c.on('data', (x) => d += x); c.on('end', () => { console.log(d); process.exit(d === 'over vxlan' ? 0 : 1); });
c.on('timeout', () => { console.error('timeout'); process.exit(2); }); c.on('error', (e) => { console.error(e.message); process.exit(3); });`;
  return run('ip', ['netns', 'exec', pod, process.execPath, '-e', code]);
}

// ---------------------------------------------------------------------------------------------

beforeAll(() => {
  if (process.getuid?.() !== 0)
    throw new Error('the host-script tests need root (network namespaces, VXLAN devices, iptables)');
  const missing = ['ip', 'bridge', 'iptables-nft-save', 'iptables-nft-restore', 'ip6tables-nft-restore', 'nft'].filter(
    (c) => !have(c),
  );
  if (missing.length)
    throw new Error(`missing commands: ${missing.join(', ')} (Debian: apt-get install iproute2 iptables nftables)`);
  const probe = addNamespace('probe');
  const vxlan = run('ip', [
    '-n',
    probe,
    'link',
    'add',
    'f2cprobe',
    'type',
    'vxlan',
    'id',
    '42',
    'dstport',
    '4789',
    'dev',
    'lo',
  ]);
  if (vxlan.status !== 0) throw new Error(`VXLAN devices cannot be created here: ${vxlan.stderr}`);
  const nat = run('ip', ['netns', 'exec', probe, 'iptables-nft', '-t', 'nat', '-N', 'F2C-PROBE']);
  if (nat.status !== 0) throw new Error(`iptables (nft) does not work in a network namespace here: ${nat.stderr}`);
  calicoBin = imageCommands();
  const absent = ['awk', 'head', 'wc', 'tr', 'cut', 'dirname', 'mktemp', 'xargs'].filter((c) =>
    fs.existsSync(path.join(calicoBin, c)),
  );
  if (absent.length) throw new Error(`the calico/node command set must not hold ${absent.join(', ')}`);
});

afterAll(() => {
  for (const child of startedProcesses) if (child.exitCode === null && child.pid) process.kill(child.pid);
  for (const ns of [...createdNamespaces].reverse()) spawnSync('ip', ['netns', 'del', ns]);
  for (const dir of createdDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('cleanup.sh on a flannel node as flanneld v0.28.10 leaves it', () => {
  const tag = 's1';
  let n1: FakeNode;
  let n2: FakeNode;
  let pod1: string;
  let pod2: string;
  let first: Result;

  beforeAll(async () => {
    const underlay = addUnderlay(tag);
    n1 = addNode(tag, underlay, { name: 'n1', ...flannelState.n1 }, flannelState.vni);
    n2 = addNode(tag, underlay, { name: 'n2', ...flannelState.n2 }, flannelState.vni);
    installFlannel(n1, [n2], { flavour: 'flannel' });
    installFlannel(n2, [n1], { flavour: 'flannel' });
    pod1 = addPod(tag, n1, `${base24(n1.podCidr)}2`);
    pod2 = addPod(tag, n2, `${base24(n2.podCidr)}2`);
    await startEchoServer(pod2, `${base24(n2.podCidr)}2`, 8080);
  });

  it('reproduces the fixture: device, routes, neighbour, FDB entry and iptables rules', () => {
    expect(ipn(n1.ns, '-d', 'link', 'show', 'flannel.1')).toContain(flannelState.vxlanDetails);
    expect(ipn(n1.ns, '-d', 'link', 'show', 'flannel.1')).toContain(`link/ether ${n1.vtepMac}`);
    expect(routes(n1.ns).sort()).toEqual([...flannelState.routes].sort());
    expect(ipn(n1.ns, 'neigh', 'show', 'dev', 'flannel.1').trim()).toBe(fixture('ip-neigh-flannel.1.txt').trim());
    expect(must('bridge', ['-n', n1.ns, 'fdb', 'show', 'dev', 'flannel.1']).trim()).toBe(
      fixture('bridge-fdb-flannel.1.txt').trim(),
    );
    const saved = saveRules(n1.ns);
    for (const rule of flannelState.iptables.split('\n').filter((l) => l.startsWith('-A ')))
      expect(saved).toContain(rule);
  });

  it('carries pod-to-pod traffic between the nodes over VXLAN before the cleanup', () => {
    const r = echoFrom(pod1, `${base24(n2.podCidr)}2`, 8080);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('over vxlan');
  });

  it("removes flannel's devices, CNI config, subnet.env and chains, and says so line by line", () => {
    installSurvivors(n1);
    writeFile(
      n1,
      '/etc/cni/net.d/05-custom.conflist',
      JSON.stringify({
        name: 'custom',
        cniVersion: '0.3.1',
        plugins: [{ delegate: { type: 'bridge' }, type: 'flannel' }],
      }),
    );
    writeFile(
      n1,
      '/etc/cni/net.d/99-loopback.conf',
      JSON.stringify({ cniVersion: '0.3.1', name: 'lo', type: 'loopback' }),
    );
    first = runScript(n1, cleanupScript, {
      VNI: '1',
      FLAVOUR: 'flannel',
      CNI_CONFIG_DIR: '/etc/cni/net.d',
      CALICO_CNI_CONF: '10-calico.conflist',
    });
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    const out = lines(first.stdout);
    expect(out).toEqual(
      expect.arrayContaining([
        "kept: file /etc/cni/net.d/10-calico.conflist (Calico's CNI config)",
        'removed file /etc/cni/net.d/10-flannel.conflist',
        'removed file /etc/cni/net.d/05-custom.conflist',
        'removed file /run/flannel/subnet.env',
        'removed link flannel.1',
        'already absent: link flannel-v6.1',
        'removed link cni0',
        'removed rule iptables-nft filter FORWARD -> FLANNEL-FWD',
        'removed chain iptables-nft filter FLANNEL-FWD',
        'removed rule iptables-nft nat POSTROUTING -> FLANNEL-POSTRTG',
        'removed chain iptables-nft nat FLANNEL-POSTRTG',
        'already absent: nftables table ip flannel-ipv4',
        'kept: dir /var/lib/cni/networks/cbr0 (host-local IPAM ledger, 1 address(es) recorded)',
        'done: n1 is clean of flannel',
      ]),
    );
    expect(out.filter((l) => l.startsWith('error') || l.startsWith('warning'))).toEqual([]);
  });

  it('leaves no flannel device, route, neighbour, FDB entry, chain or file behind', () => {
    const links = linkNames(n1.ns);
    expect(links).not.toContain('flannel.1');
    expect(links).not.toContain('cni0');
    expect(routes(n1.ns).filter((r) => /flannel\.1|cni0/.test(r))).toEqual([]);
    expect(ipn(n1.ns, 'neigh', 'show')).not.toContain(n2.vtepMac);
    expect(must('bridge', ['-n', n1.ns, 'fdb', 'show'])).not.toContain(n2.vtepMac);
    const dump = saveRules(n1.ns);
    expect(chainNames(dump).filter((c) => c.startsWith('FLANNEL-'))).toEqual([]);
    expect(dump).not.toMatch(/-j FLANNEL-/);
    expect(fileExists(n1, '/etc/cni/net.d/10-flannel.conflist')).toBe(false);
    expect(fileExists(n1, '/etc/cni/net.d/05-custom.conflist')).toBe(false);
    expect(fileExists(n1, '/run/flannel/subnet.env')).toBe(false);
  });

  it("leaves Calico's state, eth0, other chains and other files alone", () => {
    const links = linkNames(n1.ns);
    expect(links).toEqual(expect.arrayContaining(['eth0', 'vxlan.calico', 'cali1234', 'podside0', 'veth-n1']));
    expect(addresses(n1.ns, 'eth0')).toContain(`${n1.publicIp}/24`);
    expect(routes(n1.ns)).toEqual(
      expect.arrayContaining([
        'blackhole 10.244.0.0/26 proto 80',
        '10.244.200.0/26 via 10.244.200.0 dev vxlan.calico proto 80 onlink',
        '10.244.0.66 dev cali1234 scope link',
        `198.51.100.0/24 dev eth0 proto kernel scope link src ${n1.publicIp}`,
      ]),
    );
    const dump = saveRules(n1.ns);
    expect(chainNames(dump)).toEqual(
      expect.arrayContaining([
        'KUBE-FIREWALL',
        'NOT-FLANNEL-FWD',
        'KUBE-POSTROUTING',
        'cali-FORWARD',
        'cali-INPUT',
        'cali-POSTROUTING',
      ]),
    );
    expect(dump).toContain('-A FORWARD -s 10.244.0.0/16 -m comment --comment "unrelated accept" -j ACCEPT');
    expect(dump).toContain('-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD');
    expect(dump).toContain('-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING');
    expect(readFile(n1, '/etc/cni/net.d/10-calico.conflist')).toBe(calicoConflist(n1));
    expect(fileExists(n1, '/etc/cni/net.d/calico-kubeconfig')).toBe(true);
    expect(fileExists(n1, '/etc/cni/net.d/99-loopback.conf')).toBe(true);
    expect(fileExists(n1, '/var/lib/cni/networks/cbr0/10.244.0.2')).toBe(true);
  });

  it('cuts the overlay: the pod on n1 no longer reaches the pod on n2', () => {
    const r = echoFrom(pod1, `${base24(n2.podCidr)}2`, 8080);
    expect(r.status).not.toBe(0);
  });

  it('touches only the network namespace it runs in: n2 keeps its flannel state', () => {
    expect(linkNames(n2.ns)).toEqual(expect.arrayContaining(['flannel.1', 'cni0']));
    expect(chainNames(saveRules(n2.ns))).toEqual(expect.arrayContaining(['FLANNEL-FWD', 'FLANNEL-POSTRTG']));
    expect(fileExists(n2, '/etc/cni/net.d/10-flannel.conflist')).toBe(true);
  });

  it('is idempotent: a second run exits 0 and finds everything already absent', () => {
    const again = runScript(n1, cleanupScript, { VNI: '1', FLAVOUR: 'flannel' });
    expect(again.status).toBe(0);
    const out = lines(again.stdout);
    expect(out.filter((l) => l.startsWith('removed') || l.startsWith('error'))).toEqual([]);
    expect(out).toEqual(
      expect.arrayContaining([
        'already absent: file /etc/cni/net.d/10-flannel.conflist',
        'already absent: file /run/flannel/subnet.env',
        'already absent: link flannel.1',
        'already absent: link cni0',
        'already absent: iptables-nft FLANNEL-* chains',
        'done: n1 is clean of flannel',
      ]),
    );
  });

  describe('then revert.sh on the same node', () => {
    let reverted: Result;

    beforeAll(() => {
      ipn(
        n1.ns,
        'link',
        'add',
        'vxlan-v6.calico',
        'type',
        'vxlan',
        'id',
        '4097',
        'local',
        n1.publicIp,
        'dev',
        'eth0',
        'dstport',
        '4790',
        'nolearning',
      );
      ipn(n1.ns, '-6', 'route', 'add', 'blackhole', 'fd00:10:244::/122', 'proto', '80');
      inNs(
        n1.ns,
        'ip6tables-nft-restore',
        ['--noflush'],
        '*filter\n:cali-FORWARD - [0:0]\n-A FORWARD -j cali-FORWARD\nCOMMIT\n',
      );
      inNs(n1.ns, 'nft', ['add', 'table', 'ip', 'calico']);
      inNs(n1.ns, 'nft', ['add', 'table', 'inet', 'unrelated']);
      reverted = runScript(n1, revertScript, { FLAVOUR: 'flannel', VNI: '1' });
    });

    it("removes Calico's CNI config, devices, blackhole routes, chains and nftables table", () => {
      expect(reverted.stderr).toBe('');
      expect(reverted.status).toBe(0);
      expect(lines(reverted.stdout)).toEqual(
        expect.arrayContaining([
          'removed file /etc/cni/net.d/10-calico.conflist',
          'removed file /etc/cni/net.d/calico-kubeconfig',
          'removed link vxlan.calico',
          'removed link vxlan-v6.calico',
          "kept: link cali1234 (a pod's interface; it goes when its pod is deleted)",
          'removed route blackhole 10.244.0.0/26 proto 80',
          'removed route blackhole fd00:10:244::/122 proto 80',
          'removed rule iptables-nft filter FORWARD -> cali-FORWARD',
          'removed rule iptables-nft filter INPUT -> cali-INPUT',
          'removed chain iptables-nft filter cali-from-hep-forward',
          'removed chain iptables-nft nat cali-nat-outgoing',
          'removed rule ip6tables-nft filter FORWARD -> cali-FORWARD',
          'removed nftables table ip calico',
          'already absent: nftables table ip6 calico',
          "done: n1 is clean of Calico's networking",
        ]),
      );
      const links = linkNames(n1.ns);
      expect(links).not.toContain('vxlan.calico');
      expect(links).not.toContain('vxlan-v6.calico');
      expect(routes(n1.ns).filter((r) => /proto 80|vxlan\.calico/.test(r))).toEqual([]);
      expect(routes(n1.ns, '-6').filter((r) => r.includes('proto 80'))).toEqual([]);
      expect(chainNames(saveRules(n1.ns)).filter((c) => c.startsWith('cali-'))).toEqual([]);
      expect(saveRules(n1.ns)).not.toMatch(/-j cali-/);
      expect(chainNames(saveRules(n1.ns, 'ip6tables-nft-save')).filter((c) => c.startsWith('cali-'))).toEqual([]);
      expect(nftTables(n1.ns)).not.toContain('table ip calico');
      expect(fileExists(n1, '/etc/cni/net.d/10-calico.conflist')).toBe(false);
      expect(fileExists(n1, '/etc/cni/net.d/calico-kubeconfig')).toBe(false);
    });

    it('keeps eth0, pod interfaces, other routes, chains and tables', () => {
      expect(addresses(n1.ns, 'eth0')).toContain(`${n1.publicIp}/24`);
      expect(linkNames(n1.ns)).toEqual(expect.arrayContaining(['cali1234', 'veth-n1']));
      expect(routes(n1.ns)).toContain('10.244.0.66 dev cali1234 scope link');
      expect(chainNames(saveRules(n1.ns))).toEqual(
        expect.arrayContaining(['KUBE-FIREWALL', 'NOT-FLANNEL-FWD', 'KUBE-POSTROUTING']),
      );
      expect(saveRules(n1.ns)).toContain(
        '-A FORWARD -s 10.244.0.0/16 -m comment --comment "unrelated accept" -j ACCEPT',
      );
      expect(nftTables(n1.ns)).toContain('table inet unrelated');
      expect(fileExists(n1, '/etc/cni/net.d/99-loopback.conf')).toBe(true);
    });

    it('is idempotent', () => {
      const again = runScript(n1, revertScript, {});
      expect(again.status).toBe(0);
      const out = lines(again.stdout);
      expect(out.filter((l) => l.startsWith('removed') || l.startsWith('error'))).toEqual([]);
      expect(out).toEqual(
        expect.arrayContaining([
          'already absent: file /etc/cni/net.d/10-calico.conflist',
          'already absent: link vxlan.calico',
          'already absent: blackhole routes of protocol 80',
          'already absent: iptables-nft cali-* chains',
          'already absent: nftables table ip calico',
        ]),
      );
    });
  });
});

describe('cleanup.sh on a Canal node with VNI 4096', () => {
  const tag = 's2';
  let node: FakeNode;
  let result: Result;

  beforeAll(() => {
    const underlay = addUnderlay(tag);
    const peer: NodeSpec = {
      name: 'c2',
      publicIp: '198.51.100.22',
      podCidr: '10.244.1.0/24',
      vtepMac: '8e:52:ca:3c:83:d8',
    };
    node = addNode(
      tag,
      underlay,
      { name: 'c1', publicIp: '198.51.100.21', podCidr: '10.244.0.0/24', vtepMac: 'ea:93:a6:da:1d:9a' },
      4096,
    );
    installFlannel(node, [peer], { flavour: 'canal' });
    // Canal networks pods with Calico's CNI plugin and runs Felix for policy: its cali* state stays.
    ipn(node.ns, 'link', 'add', 'cali5678', 'type', 'veth', 'peer', 'name', 'podside1');
    inNs(node.ns, 'iptables-nft-restore', ['--noflush'], FELIX_RULES);
    // A bridge of someone else's: Canal never made a cni0.
    ipn(node.ns, 'link', 'add', 'cni0', 'type', 'bridge');
    writeFile(
      node,
      '/etc/cni/net.d/00-other.conflist',
      JSON.stringify({ name: 'other', cniVersion: '0.3.1', plugins: [{ type: 'bridge' }] }),
    );
    result = runScript(node, cleanupScript, { VNI: '4096', FLAVOUR: 'canal' });
  });

  it("removes flannel.4096, 10-canal.conflist, subnet.env and flannel's chains, and keeps cni0", () => {
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(lines(result.stdout)).toEqual(
      expect.arrayContaining([
        'removed file /etc/cni/net.d/10-canal.conflist',
        'removed file /run/flannel/subnet.env',
        'removed link flannel.4096',
        'already absent: link flannel-v6.4096',
        'skipped: link cni0 (Canal does not use a bridge)',
        'removed chain iptables-nft nat FLANNEL-POSTRTG',
        'kept: dir /var/lib/cni/networks/k8s-pod-network (host-local IPAM ledger, 1 address(es) recorded)',
      ]),
    );
    const links = linkNames(node.ns);
    expect(links).not.toContain('flannel.4096');
    expect(links).toEqual(expect.arrayContaining(['cni0', 'cali5678', 'eth0']));
    expect(routes(node.ns).filter((r) => r.includes('flannel.4096'))).toEqual([]);
    expect(chainNames(saveRules(node.ns)).filter((c) => c.startsWith('FLANNEL-'))).toEqual([]);
    expect(chainNames(saveRules(node.ns))).toEqual(expect.arrayContaining(['cali-FORWARD', 'cali-nat-outgoing']));
    expect(fileExists(node, '/etc/cni/net.d/10-canal.conflist')).toBe(false);
    expect(fileExists(node, '/etc/cni/net.d/calico-kubeconfig')).toBe(true);
    expect(fileExists(node, '/var/lib/cni/networks/k8s-pod-network/10.244.0.2')).toBe(true);
  });

  it("puts a placeholder in Calico's CNI config slot until calico-node writes the real one", () => {
    expect(result.stdout).toContain(
      'wrote file /etc/cni/net.d/10-calico.conflist (placeholder until calico-node installs its CNI config)',
    );
    const placeholder = JSON.parse(readFile(node, '/etc/cni/net.d/10-calico.conflist'));
    expect(placeholder.plugins).toEqual([{ type: 'flannel2calico-migration-in-progress' }]);
  });

  it("warns about a CNI config that sorts before Calico's, and leaves it", () => {
    expect(result.stdout).toContain(
      'warning: /etc/cni/net.d/00-other.conflist sorts before 10-calico.conflist, so the ' +
        'container runtime would use it instead of Calico; remove or rename it',
    );
    expect(fileExists(node, '/etc/cni/net.d/00-other.conflist')).toBe(true);
  });

  it('is idempotent and keeps the placeholder on a second run', () => {
    const again = runScript(node, cleanupScript, { VNI: '4096', FLAVOUR: 'canal' });
    expect(again.status).toBe(0);
    expect(
      lines(again.stdout).filter((l) => l.startsWith('removed') || l.startsWith('wrote') || l.startsWith('error')),
    ).toEqual([]);
    expect(again.stdout).toContain(
      'kept: file /etc/cni/net.d/10-calico.conflist (placeholder until calico-node installs its CNI config)',
    );
    expect(again.stdout).toContain('already absent: link flannel.4096');
  });

  it(
    "revert.sh with POD_NETWORKS removes Felix's routes in the pool, the placeholder and the " +
      'chains, and nothing else',
    () => {
      ipn(node.ns, 'route', 'add', 'blackhole', '10.244.0.64/26', 'proto', '80');
      ipn(node.ns, 'route', 'add', '10.244.1.0/26', 'via', '198.51.100.22', 'dev', 'eth0', 'proto', '80');
      ipn(node.ns, 'route', 'add', '203.0.113.0/24', 'via', '198.51.100.22', 'dev', 'eth0', 'proto', '80');
      const r = runScript(node, revertScript, {
        FLAVOUR: 'canal',
        VNI: '4096',
        POD_NETWORKS: '10.244.0.0/16,fd00:10:244::/56',
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(lines(r.stdout)).toEqual(
        expect.arrayContaining([
          'removed file /etc/cni/net.d/10-calico.conflist',
          'removed route blackhole 10.244.0.64/26 proto 80',
          'removed route 10.244.1.0/26 proto 80',
          'already absent: link vxlan.calico',
          'removed chain iptables-nft filter cali-FORWARD',
        ]),
      );
      expect(routes(node.ns).filter((r) => r.includes('proto 80'))).toEqual([
        '203.0.113.0/24 via 198.51.100.22 dev eth0 proto 80',
      ]);
      expect(addresses(node.ns, 'eth0')).toContain('198.51.100.21/24');
      expect(fileExists(node, '/etc/cni/net.d/00-other.conflist')).toBe(true);
    },
  );
});

describe("the Job's own command on a dual-stack node with rules in every iptables backend", () => {
  const tag = 's3';
  let node: FakeNode;
  let result: Result;
  const legacy = have('iptables-legacy-restore') && have('ip6tables-legacy-restore');

  beforeAll(() => {
    const underlay = addUnderlay(tag);
    const peer: NodeSpec = {
      name: 'd2',
      publicIp: '198.51.100.32',
      podCidr: '10.244.1.0/24',
      vtepMac: '8e:52:ca:3c:83:d8',
    };
    node = addNode(
      tag,
      underlay,
      { name: 'd1', publicIp: '198.51.100.31', podCidr: '10.244.0.0/24', vtepMac: 'ea:93:a6:da:1d:9a' },
      1,
    );
    installFlannel(node, [peer], { flavour: 'flannel', ipv6: true });
    if (legacy) {
      // A node whose flanneld once ran with the legacy backend (calico#12920): chains in both.
      inNs(node.ns, 'iptables-legacy-restore', ['--noflush'], flannelRules(node) + UNRELATED_RULES);
      inNs(node.ns, 'ip6tables-legacy-restore', ['--noflush'], flannelRulesV6());
    }
    // flanneld with EnableNFTables: its own nftables tables.
    inNs(
      node.ns,
      'nft',
      ['-f', '-'],
      `table ip flannel-ipv4 {
  chain postrtg { type nat hook postrouting priority srcnat; policy accept; ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade; }
}
table ip6 flannel-ipv6 {
  chain forward { type filter hook forward priority filter; policy accept; ip6 saddr fd00:10:244::/56 accept; }
}
table inet unrelated {
  chain c { type filter hook input priority 10; policy accept; }
}
`,
    );
    const job = hostScriptJob({
      script: 'cleanup',
      scriptText: loadHostScript('cleanup'),
      node: node.name,
      namespace: 'kube-system',
      vni: 1,
      cniConfigDir: '/etc/cni/net.d',
      flavour: 'flannel',
      image: 'quay.io/calico/node:v3.32.1',
      runId: 'e2e',
    });
    result = runJobCommand(node, job);
  });

  it('removes flannel.1, flannel-v6.1 and cni0', () => {
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(lines(result.stdout)).toEqual(
      expect.arrayContaining(['removed link flannel.1', 'removed link flannel-v6.1', 'removed link cni0']),
    );
    expect(linkNames(node.ns)).toEqual(expect.not.arrayContaining(['flannel.1', 'flannel-v6.1', 'cni0']));
    expect(routes(node.ns, '-6').filter((r) => r.includes('flannel-v6.1'))).toEqual([]);
  });

  it('removes FLANNEL-* chains from iptables-nft and ip6tables-nft', () => {
    expect(lines(result.stdout)).toEqual(
      expect.arrayContaining([
        'removed chain iptables-nft nat FLANNEL-POSTRTG',
        'removed chain ip6tables-nft filter FLANNEL-FWD',
        'removed rule ip6tables-nft nat POSTROUTING -> FLANNEL-POSTRTG',
      ]),
    );
    expect(chainNames(saveRules(node.ns)).filter((c) => c.startsWith('FLANNEL-'))).toEqual([]);
    expect(chainNames(saveRules(node.ns, 'ip6tables-nft-save')).filter((c) => c.startsWith('FLANNEL-'))).toEqual([]);
  });

  it(
    'removes FLANNEL-* chains from iptables-legacy and ip6tables-legacy when they exist, ' +
      'keeping other legacy rules',
    () => {
      if (!legacy) {
        expect(result.stdout).toMatch(/^(skipped: iptables-legacy|already absent: iptables-legacy)/m);
        return;
      }
      expect(lines(result.stdout)).toEqual(
        expect.arrayContaining([
          'removed rule iptables-legacy filter FORWARD -> FLANNEL-FWD',
          'removed chain iptables-legacy nat FLANNEL-POSTRTG',
          'removed chain ip6tables-legacy nat FLANNEL-POSTRTG',
        ]),
      );
      const dump = saveRules(node.ns, 'iptables-legacy-save');
      expect(chainNames(dump).filter((c) => c.startsWith('FLANNEL-'))).toEqual([]);
      expect(chainNames(dump)).toEqual(
        expect.arrayContaining(['KUBE-FIREWALL', 'NOT-FLANNEL-FWD', 'KUBE-POSTROUTING']),
      );
      expect(chainNames(saveRules(node.ns, 'ip6tables-legacy-save')).filter((c) => c.startsWith('FLANNEL-'))).toEqual(
        [],
      );
    },
  );

  it("removes flannel's nftables tables and keeps others", () => {
    expect(lines(result.stdout)).toEqual(
      expect.arrayContaining(['removed nftables table ip flannel-ipv4', 'removed nftables table ip6 flannel-ipv6']),
    );
    const tables = nftTables(node.ns);
    expect(tables).not.toContain('table ip flannel-ipv4');
    expect(tables).not.toContain('table ip6 flannel-ipv6');
    expect(tables).toContain('table inet unrelated');
  });

  it('runs again from the Job command with nothing left to do', () => {
    const job = hostScriptJob({
      script: 'cleanup',
      scriptText: loadHostScript('cleanup'),
      node: node.name,
      namespace: 'kube-system',
      vni: 1,
      cniConfigDir: '/etc/cni/net.d',
      flavour: 'flannel',
      image: 'quay.io/calico/node:v3.32.1',
      runId: 'e2e',
    });
    const again = runJobCommand(node, job);
    expect(again.status).toBe(0);
    expect(lines(again.stdout).filter((l) => l.startsWith('removed') || l.startsWith('error'))).toEqual([]);
    expect(again.stdout).toContain('already absent: ip6tables-nft FLANNEL-* chains');
  });

  it("runs the revert Job's command, which reads POD_NETWORKS", () => {
    ipn(node.ns, '-6', 'route', 'add', 'blackhole', 'fd00:10:244::40/122', 'proto', '80');
    const job = hostScriptJob({
      script: 'revert',
      scriptText: loadHostScript('revert'),
      node: node.name,
      namespace: 'kube-system',
      vni: 1,
      cniConfigDir: '/etc/cni/net.d',
      flavour: 'flannel',
      image: 'quay.io/calico/node:v3.32.1',
      runId: 'e2e',
      podNetworks: ['10.244.0.0/16', 'fd00:10:244::/56'],
    });
    const r = runJobCommand(node, job);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual(
      expect.arrayContaining([
        'removed file /etc/cni/net.d/10-calico.conflist',
        'removed route blackhole fd00:10:244::40/122 proto 80',
        "done: d1 is clean of Calico's networking",
      ]),
    );
    expect(routes(node.ns, '-6').filter((l) => l.includes('proto 80'))).toEqual([]);
  });
});

describe('failures', () => {
  const tag = 's4';
  let node: FakeNode;

  beforeAll(() => {
    const underlay = addUnderlay(tag);
    node = addNode(
      tag,
      underlay,
      { name: 'f1', publicIp: '198.51.100.41', podCidr: '10.244.0.0/24', vtepMac: 'ea:93:a6:da:1d:9a' },
      1,
    );
    installFlannel(node, [], { flavour: 'flannel' });
  });

  it('refuses bad input with exit 2 and changes nothing', () => {
    const badFlavour = runScript(node, cleanupScript, { FLAVOUR: 'weave' });
    expect(badFlavour.status).toBe(2);
    expect(badFlavour.stderr).toContain("error: FLAVOUR must be flannel or canal, not 'weave'");
    const badVni = runScript(node, cleanupScript, { VNI: '1; rm -rf /' });
    expect(badVni.status).toBe(2);
    expect(badVni.stderr).toContain('error: VNI must be a number from 0 to 16777215');
    const badRoot = recordRun(
      run('ip', [
        'netns',
        'exec',
        node.ns,
        'env',
        '-i',
        `PATH=${calicoBin}`,
        'HOST_ROOT=/nonexistent/f2c',
        'sh',
        cleanupScript,
      ]),
    );
    expect(badRoot.status).toBe(2);
    expect(badRoot.stderr).toContain("HOST_ROOT '/nonexistent/f2c' is not a directory");
    expect(linkNames(node.ns)).toContain('flannel.1');
    expect(fileExists(node, '/etc/cni/net.d/10-flannel.conflist')).toBe(true);
  });

  it('exits 1 and names what it could not remove, after doing all it could', () => {
    // A read-only CNI directory: the files there cannot go, the devices still can.
    const cniDir = path.join(node.root, 'etc/cni/net.d');
    const r = recordRun(
      run('ip', [
        'netns',
        'exec',
        node.ns,
        'unshare',
        '-m',
        'sh',
        '-c',
        'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec env -i PATH="$4" ' +
          'HOST_ROOT="$2" NODE_NAME=f1 sh "$3"',
        'sh',
        cniDir,
        node.root,
        cleanupScript,
        calicoBin,
      ]),
    );
    expect(r.status).toBe(1);
    const out = lines(r.stdout);
    expect(out).toContain('removed link flannel.1');
    expect(out.some((l) => l.startsWith('error: could not remove file /etc/cni/net.d/10-flannel.conflist: '))).toBe(
      true,
    );
    expect(
      out.some((l) => l.startsWith('error: could not write placeholder /etc/cni/net.d/10-calico.conflist: ')),
    ).toBe(true);
    expect(out[out.length - 1]).toBe('error: 2 item(s) could not be removed from node f1; see the lines above');
    expect(linkNames(node.ns)).not.toContain('flannel.1');
    expect(fileExists(node, '/etc/cni/net.d/10-flannel.conflist')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Fail closed: the image's commands are checked before anything changes

/** Everything of a node the scripts could change: devices, chains and rules in each backend, nftables tables, files. */
function nodeState(node: FakeNode, legacy: boolean): Record<string, string[]> {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.push(`${path.relative(node.root, full)}: ${fs.readFileSync(full, 'utf8')}`);
    }
  };
  walk(node.root);
  const rulesOf = (dump: string): string[] =>
    dump
      .split('\n')
      .filter((l) => l.startsWith(':') || l.startsWith('-A '))
      .map((l) => l.replace(/\[\d+:\d+\]/, ''))
      .sort();
  return {
    links: linkNames(node.ns).sort(),
    nft: rulesOf(saveRules(node.ns)),
    nft6: rulesOf(saveRules(node.ns, 'ip6tables-nft-save')),
    legacy: legacy ? rulesOf(saveRules(node.ns, 'iptables-legacy-save')) : [],
    tables: nftTables(node.ns).sort(),
    files: files.sort(),
  };
}

const NEEDED = [
  'ip',
  'rm',
  'nft',
  'iptables-nft-save',
  'iptables-nft-restore',
  'ip6tables-nft-save',
  'ip6tables-nft-restore',
  'iptables-legacy-save',
  'iptables-legacy-restore',
  'ip6tables-legacy-save',
  'ip6tables-legacy-restore',
];
const EVERY_IPTABLES = NEEDED.filter((c) => c.includes('tables'));

function expectRefused(r: Result, missing: string[], script: string): void {
  expect(r.status).toBe(2);
  expect(r.stdout).toBe('');
  const errorLines = lines(r.stderr);
  expect(errorLines).toHaveLength(1);
  expect(errorLines[0]).toBe(
    `error: missing commands: ${missing.join(', ')}; ${script} needs them and changed nothing. ` +
      'Pass --helper-image with an image that has them, e.g. quay.io/calico/node:v3.32.1 (the ' +
      'calico/node image of the Calico manifest)',
  );
  expect(r.stdout + r.stderr).not.toMatch(/skipped|not installed|already absent|removed/);
}

describe('cleanup.sh fails closed in an image without a command it needs', () => {
  const tag = 's5';
  let node: FakeNode;
  let before: Record<string, string[]>;
  const legacy = have('iptables-legacy-restore');

  beforeAll(() => {
    const underlay = addUnderlay(tag);
    const peer: NodeSpec = {
      name: 'g2',
      publicIp: '198.51.100.52',
      podCidr: '10.244.1.0/24',
      vtepMac: '8e:52:ca:3c:83:d8',
    };
    node = addNode(
      tag,
      underlay,
      { name: 'g1', publicIp: '198.51.100.51', podCidr: '10.244.0.0/24', vtepMac: 'ea:93:a6:da:1d:9a' },
      1,
    );
    installFlannel(node, [peer], { flavour: 'flannel' });
    if (legacy) inNs(node.ns, 'iptables-legacy-restore', ['--noflush'], flannelRules(node));
    inNs(node.ns, 'nft', ['add', 'table', 'ip', 'flannel-ipv4']);
    before = nodeState(node, legacy);
    expect(before.links).toEqual(expect.arrayContaining(['flannel.1', 'cni0']));
    expect(before.nft).toEqual(expect.arrayContaining([':FLANNEL-POSTRTG - ', ':FLANNEL-FWD - ']));
    expect(before.tables).toContain('table ip flannel-ipv4');
  });

  it.each([
    ['iptables-nft-save', ['iptables-nft-save']],
    ['every iptables and ip6tables tool', EVERY_IPTABLES],
    ['nft', ['nft']],
    ['ip', ['ip']],
  ])(
    "without %s: exits 2 naming every missing command, and the node keeps all of flannel's state",
    (_what, missing) => {
      const bin = imageCommands({ without: missing });
      expectRefused(runScript(node, cleanupScript, {}, bin), missing, 'cleanup.sh');
      expectRefused(runJobCommand(node, hostScriptJob(jobOptions(node)), bin), missing, 'cleanup.sh');
      expect(nodeState(node, legacy)).toEqual(before);
    },
  );

  it("MODE=check exits 0 with the image's full set, names what it found, and changes nothing", () => {
    const r = runScript(node, cleanupScript, { MODE: 'check' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = lines(r.stdout);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^ok: bash 5\.\S+, ip, rm, nft, .* found; cleanup\.sh can run here$/);
    for (const cmd of NEEDED) expect(out[0]).toContain(` ${cmd}`);
    expect(nodeState(node, legacy)).toEqual(before);
  });

  it("the check Job's own command exits 0 in the image and 2 without nft, changing nothing", () => {
    const job = hostScriptJob(jobOptions(node, { mode: 'check' }));
    const ok = runJobCommand(node, job);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^ok: .* cleanup\.sh can run here\n$/);
    expectRefused(runJobCommand(node, job, imageCommands({ without: ['nft'] })), ['nft'], 'cleanup.sh');
    expect(nodeState(node, legacy)).toEqual(before);
  });

  it('a shell other than bash as /bin/sh stops at once, naming bash', () => {
    const dash = run('sh', ['-c', 'command -v dash']).stdout.trim();
    if (!dash) return;
    const r = runJobCommand(node, hostScriptJob(jobOptions(node)), calicoBin, dash);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      'error: missing commands: bash (/bin/sh of this image is not bash); nothing was changed.',
    );
    expect(nodeState(node, legacy)).toEqual(before);
  });

  it('a command that is there but fails makes the run exit 1 with its error, never "already absent"', () => {
    const bin = imageCommands({
      replace: {
        ip: 'echo "ip: cannot talk to netlink" >&2; exit 1',
        'iptables-nft-save': 'echo "iptables-nft-save: kernel says no" >&2; exit 4',
        nft: 'echo "nft: Operation not permitted" >&2; exit 1',
      },
    });
    const r = runScript(node, cleanupScript, {}, bin);
    expect(r.status).toBe(1);
    const out = lines(r.stdout);
    expect(out).toEqual(
      expect.arrayContaining([
        'error: could not list network devices (ip -o link show), so link flannel.1 was not ' +
          'checked: exit 1: ip: cannot talk to netlink',
        'error: could not list network devices (ip -o link show), so link cni0 was not checked: ' +
          'exit 1: ip: cannot talk to netlink',
        'error: could not read iptables-nft rules (iptables-nft-save, exit 4), so FLANNEL-* ' +
          'chains were not checked: iptables-nft-save: kernel says no',
        'error: could not list nftables tables (nft list tables), so table(s) ip flannel-ipv4 ip6 ' +
          'flannel-ipv6 were not checked: exit 1: nft: Operation not permitted',
        'error: could not read iptables-nft rules (iptables-nft-save, exit 4) to check for ' +
          'FLANNEL-* chains: iptables-nft-save: kernel says no',
      ]),
    );
    expect(out.filter((l) => /^already absent: (link|iptables-nft |nftables)/.test(l))).toEqual([]);
    expect(out[out.length - 1]).toMatch(
      /^error: \d+ item\(s\) could not be removed from node g1; see the lines above$/,
    );
    expect(out.some((l) => l.startsWith('done:'))).toBe(false);
    const after = nodeState(node, legacy);
    expect(after.links).toEqual(expect.arrayContaining(['flannel.1', 'cni0']));
    expect(after.nft).toEqual(before.nft);
    expect(after.tables).toContain('table ip flannel-ipv4');
  });

  it("a rerun with the image's working commands finishes the node", () => {
    const r = runScript(node, cleanupScript, {});
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual(
      expect.arrayContaining([
        'removed link flannel.1',
        'removed link cni0',
        'removed chain iptables-nft nat FLANNEL-POSTRTG',
        'removed nftables table ip flannel-ipv4',
        'done: g1 is clean of flannel',
      ]),
    );
    const after = nodeState(node, legacy);
    expect(after.links).toEqual(expect.not.arrayContaining(['flannel.1', 'cni0']));
    expect([...after.nft, ...after.legacy].filter((l) => l.includes('FLANNEL'))).toEqual([]);
  });
});

describe('revert.sh meets the same bar', () => {
  const tag = 's6';
  let node: FakeNode;
  let before: Record<string, string[]>;
  const legacy = have('iptables-legacy-restore');

  beforeAll(() => {
    const underlay = addUnderlay(tag);
    node = addNode(
      tag,
      underlay,
      { name: 'h1', publicIp: '198.51.100.61', podCidr: '10.244.0.0/24', vtepMac: 'ea:93:a6:da:1d:9a' },
      1,
    );
    installSurvivors(node);
    inNs(node.ns, 'nft', ['add', 'table', 'ip', 'calico']);
    before = nodeState(node, legacy);
    expect(before.links).toContain('vxlan.calico');
  });

  it("without ip6tables-legacy-restore or nft: exits 2 naming them, and Calico's state stays", () => {
    const missing = ['nft', 'ip6tables-legacy-restore'];
    const bin = imageCommands({ without: missing });
    expectRefused(runScript(node, revertScript, {}, bin), missing, 'revert.sh');
    expectRefused(
      runJobCommand(node, hostScriptJob(jobOptions(node, { script: 'revert', podNetworks: ['10.244.0.0/16'] })), bin),
      missing,
      'revert.sh',
    );
    expect(nodeState(node, legacy)).toEqual(before);
  });

  it("MODE=check exits 0 in the image, also from the revert check Job's command, and changes nothing", () => {
    const r = runScript(node, revertScript, { MODE: 'check' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok: bash .* found; revert\.sh can run here\n$/);
    const job = runJobCommand(node, hostScriptJob(jobOptions(node, { script: 'revert', mode: 'check' })));
    expect(job.status).toBe(0);
    expect(job.stdout).toMatch(/revert\.sh can run here\n$/);
    expect(nodeState(node, legacy)).toEqual(before);
  });

  it('a failing ip6tables-nft-save or route listing is an error, never "already absent"', () => {
    const bin = imageCommands({
      replace: {
        'ip6tables-nft-save': 'echo "ip6tables-nft-save: broken" >&2; exit 1',
        ip:
          `case "$*" in *route*) echo "ip: route dump failed" >&2; exit 2 ;; esac; exec ${JSON.stringify(run('sh', ['-c', 'command -v ip']).stdout.trim())} ` +
          `"$@"`,
      },
    });
    const r = runScript(node, revertScript, {}, bin);
    expect(r.status).toBe(1);
    const out = lines(r.stdout);
    expect(out).toEqual(
      expect.arrayContaining([
        'removed link vxlan.calico',
        'error: could not read ip6tables-nft rules (ip6tables-nft-save, exit 1), so cali-* chains ' +
          'were not checked: ip6tables-nft-save: broken',
      ]),
    );
    expect(
      out.some((l) =>
        l.startsWith(
          "error: could not list routes, so Felix's were not checked: ip -4 route show type " +
            'blackhole proto 80: ip: route dump failed',
        ),
      ),
    ).toBe(true);
    expect(out.filter((l) => /^already absent: (ip6tables-nft|blackhole)/.test(l))).toEqual([]);
    expect(routes(node.ns)).toContain('blackhole 10.244.0.0/26 proto 80');
  });

  it("a rerun with the image's working commands finishes the node", () => {
    const r = runScript(node, revertScript, {});
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toEqual(
      expect.arrayContaining([
        'removed route blackhole 10.244.0.0/26 proto 80',
        "done: h1 is clean of Calico's networking",
      ]),
    );
    expect(chainNames(saveRules(node.ns)).filter((c) => c.startsWith('cali-'))).toEqual([]);
  });
});

describe('every script run of this suite', () => {
  it('ran with the image\'s commands only and never hit a missing one: no "command not found" anywhere', () => {
    expect(scriptOutputs.length).toBeGreaterThan(40);
    const notFound = scriptOutputs.filter((o) => /command not found/.test(o));
    expect(notFound).toEqual([]);
  });
});
