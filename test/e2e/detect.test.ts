/**
 * `flannel2calico detect` against the real test bed: real kube-apiserver, controller-manager and
 * RBAC, the upstream flannel and Canal manifests, kwok nodes carrying flanneld's annotations.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import {
  installFlannel,
  kubectlJson,
  kubectlOk,
  repoRoot,
  startTestbed,
  waitFor,
  type CommandResult,
  type FlannelInstall,
  type Testbed,
} from '../testbed/harness.js';

interface SettingDoc {
  key: string;
  value: unknown;
  source: string;
  from?: string;
}
interface CheckDoc {
  id: string;
  title: string;
  status: 'pass' | 'warn' | 'fail';
  message: string;
  fix?: string;
}
interface NodeDoc {
  name: string;
  podCidrs: string[];
  vtepMacV4?: string;
  vtepMacV6?: string;
  publicIpV4?: string;
  publicIpV6?: string;
  vni?: number;
  problems: string[];
}
interface DetectionDoc {
  schemaVersion: number;
  kind: string;
  ok: boolean;
  flavour: string;
  summary: string;
  daemonSet: {
    name: string;
    namespace: string;
    image?: string;
    version?: string;
    container: string;
    calicoImage?: string;
    managedBy?: string;
  } | null;
  configMap: { name: string; namespace: string } | null;
  backend: { type: string; vni?: number; port?: number; directRouting?: boolean };
  settings: Record<string, SettingDoc>;
  conflicts: string[];
  checks: CheckDoc[];
  nodes: NodeDoc[];
  candidates: Array<{ namespace: string; name: string; flavour: string; evidence: string[] }>;
  subnetEnv: { pod?: string; read: boolean; reason?: string };
}

const ENV_NAMES = [
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
/** The tests' own environment must not leak settings into the CLI. */
const CLEAN_ENV: Record<string, string> = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !ENV_NAMES.includes(k)) CLEAN_ENV[k] = v;

function runCli(tb: Testbed, args: string[], env: Record<string, string> = {}): CommandResult {
  for (const name of ENV_NAMES) if (process.env[name] !== undefined && !(name in env)) env = { ...env, [name]: '' };
  return tb.cli(args, { env });
}

function detectJson(
  tb: Testbed,
  args: string[] = [],
  env: Record<string, string> = {},
): { status: number; doc: DetectionDoc; stderr: string } {
  const result = runCli(tb, ['-o', 'json', 'detect', ...args], env);
  let doc: DetectionDoc;
  try {
    doc = JSON.parse(result.stdout) as DetectionDoc;
  } catch {
    throw new Error(`detect printed no JSON (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  return { status: result.status, doc, stderr: result.stderr };
}

function check(doc: DetectionDoc, id: string): CheckDoc {
  const found = doc.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in ${doc.checks.map((c) => c.id).join(', ')}`);
  return found;
}

function setting(doc: DetectionDoc, env: string): [unknown, string] {
  return [doc.settings[env].value, doc.settings[env].source];
}

function failed(doc: DetectionDoc): string[] {
  return doc.checks.filter((c) => c.status === 'fail').map((c) => c.id);
}

/** Every Node, DaemonSet and ConfigMap with its resourceVersion and content (kwok's heartbeat time left out). */
function clusterState(tb: Testbed): Map<string, { resourceVersion: string; content: string }> {
  const state = new Map<string, { resourceVersion: string; content: string }>();
  const list = kubectlJson<{ items: any[] }>(tb, ['get', 'nodes,daemonsets,configmaps', '--all-namespaces']);
  for (const item of list.items) {
    const key = `${item.kind}/${item.metadata.namespace ?? ''}/${item.metadata.name}`;
    const copy = structuredClone(item);
    delete copy.metadata.resourceVersion;
    delete copy.metadata.managedFields;
    for (const c of copy.status?.conditions ?? []) delete c.lastHeartbeatTime;
    state.set(key, { resourceVersion: item.metadata.resourceVersion, content: JSON.stringify(copy) });
  }
  return state;
}

/**
 * A kubeconfig for a ServiceAccount: the admin kubeconfig's cluster, authenticated by a token from `kubectl create
 * token`.
 */
function serviceAccountKubeconfig(tb: Testbed, namespace: string, name: string): string {
  const admin = kubectlJson<any>(tb, ['config', 'view', '--raw', '--minify']);
  const token = kubectlOk(tb, ['create', 'token', name, '-n', namespace, '--duration=1h']).trim();
  const file = path.join(path.dirname(tb.kubeconfig), `${name}.kubeconfig`);
  fs.writeFileSync(
    file,
    YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'testbed', cluster: admin.clusters[0].cluster }],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: 'testbed', user: name } }],
      'current-context': name,
    }),
    { mode: 0o600 },
  );
  return file;
}

function cliAs(tb: Testbed, kubeconfig: string, args: string[]): CommandResult {
  const result = spawnSync(
    process.execPath,
    [path.join(repoRoot, 'bin', 'flannel2calico.js'), '--kubeconfig', kubeconfig, ...args],
    {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...CLEAN_ENV, NO_COLOR: '1', XDG_STATE_HOME: path.join(path.dirname(tb.kubeconfig), 'state') },
      timeout: 120_000,
    },
  );
  return { stdout: result.stdout, stderr: result.stderr, status: result.status ?? 128 };
}

function patchNetConf(tb: Testbed, namespace: string, configMap: string, netConf: object): void {
  kubectlOk(tb, [
    'patch',
    'configmap',
    configMap,
    '-n',
    namespace,
    '--type',
    'merge',
    '-p',
    JSON.stringify({ data: { 'net-conf.json': JSON.stringify(netConf) } }),
  ]);
}

function deleteDaemonSet(tb: Testbed, namespace: string, name: string): void {
  kubectlOk(tb, ['delete', 'daemonset', name, '-n', namespace, '--wait=true']);
}

/**
 * A copy of an installed DaemonSet under another name (optionally pinned by a nodeSelector), created without waiting
 * for pods.
 */
function copyDaemonSet(
  tb: Testbed,
  fromNamespace: string,
  fromName: string,
  namespace: string,
  name: string,
  nodeSelector?: Record<string, string>,
): { namespace: string; name: string } {
  const ds = kubectlJson<any>(tb, ['get', 'daemonset', fromName, '-n', fromNamespace]);
  const copy = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace, labels: ds.metadata.labels },
    spec: {
      ...ds.spec,
      template: { ...ds.spec.template, spec: { ...ds.spec.template.spec, ...(nodeSelector ? { nodeSelector } : {}) } },
    },
  };
  kubectlOk(tb, ['create', '-f', '-'], JSON.stringify(copy));
  return { namespace, name };
}

async function waitForDaemonSetStatus(tb: Testbed, ref: { namespace: string; name: string }): Promise<void> {
  await waitFor(
    () => {
      const ds = kubectlJson<any>(tb, ['get', 'daemonset', ref.name, '-n', ref.namespace]);
      return (
        (ds.status?.observedGeneration ?? 0) >= ds.metadata.generation &&
        ds.status?.desiredNumberScheduled !== undefined
      );
    },
    60_000,
    `DaemonSet ${ref.namespace}/${ref.name} observed`,
  );
}

// ---------------------------------------------------------------------------------------------

describe('detect: upstream flannel, permissions, overrides', () => {
  let tb: Testbed;
  let install: FlannelInstall;

  beforeAll(async () => {
    tb = await startTestbed({ nodes: 3, controlPlane: 1 });
  }, 300_000);
  afterAll(async () => {
    await tb?.down();
  });

  it('says clearly that there is no flannel at all, and exits 3', () => {
    const { status, doc } = detectJson(tb);
    expect(status).toBe(3);
    expect(doc.flavour).toBe('none');
    expect(doc.daemonSet).toBeNull();
    expect(check(doc, 'installation')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/no flannel or Canal found/),
    });
    const text = runCli(tb, ['detect']);
    expect(text.status).toBe(3);
    expect(text.stdout).toMatch(/✘ flannel runs as a DaemonSet: no flannel or Canal found/);
  });

  it('explains that k3s embedded flannel is unsupported, and recognises stale annotations', () => {
    kubectlOk(tb, [
      'annotate',
      'node',
      '--all',
      'flannel.alpha.coreos.com/backend-type=vxlan',
      'k3s.io/node-args=["agent"]',
    ]);
    try {
      const embedded = detectJson(tb);
      expect(embedded.status).toBe(3);
      expect(embedded.doc.flavour).toBe('embedded');
      const c = check(embedded.doc, 'installation');
      expect(c.message).toMatch(/flannel is embedded in k3s.*no flannel DaemonSet exists.*not supported/);
      expect(c.fix).toMatch(/flannel-backend: none/);

      kubectlOk(tb, [
        'annotate',
        'node',
        '--all',
        '--overwrite',
        'k3s.io/node-args=["server","--flannel-backend","none"]',
      ]);
      const stale = detectJson(tb);
      expect(stale.doc.flavour).toBe('none');
      expect(check(stale.doc, 'installation').message).toMatch(/--flannel-backend=none.*leftovers/);
    } finally {
      kubectlOk(tb, ['annotate', 'node', '--all', 'flannel.alpha.coreos.com/backend-type-', 'k3s.io/node-args-']);
    }
  });

  it('finds the upstream manifest as shipped and reports every setting with its source', async () => {
    install = await installFlannel(tb);
    const { status, doc } = detectJson(tb);
    expect(status).toBe(0);
    expect(doc).toMatchObject({ schemaVersion: 1, kind: 'Detection', ok: true, flavour: 'flannel' });
    expect(doc.daemonSet).toMatchObject({
      namespace: 'kube-flannel',
      name: 'kube-flannel-ds',
      container: 'kube-flannel',
      image: 'ghcr.io/flannel-io/flannel:v0.28.9',
      version: 'v0.28.9',
    });
    expect(doc.configMap).toEqual({ namespace: 'kube-flannel', name: 'kube-flannel-cfg' });
    expect(doc.backend).toEqual({ type: 'vxlan', vni: 1, port: 8472, directRouting: false });
    expect(Object.keys(doc.settings).sort()).toEqual([...ENV_NAMES].sort());
    expect(Object.fromEntries(ENV_NAMES.map((n) => [n, setting(doc, n)]))).toEqual({
      FLANNEL_NETWORK: ['10.244.0.0/16', 'net-conf.json'],
      FLANNEL_IPV6_NETWORK: [null, 'unset'],
      FLANNEL_DAEMONSET_NAME: ['kube-flannel-ds', 'daemonset'],
      FLANNEL_DAEMONSET_NAMESPACE: ['kube-flannel', 'daemonset'],
      FLANNEL_MTU: [1450, 'default'],
      FLANNEL_IP_MASQ: [true, 'daemonset-args'],
      FLANNEL_SUBNET_LEN: [24, 'node-podcidr'],
      FLANNEL_IPV6_SUBNET_LEN: [64, 'default'],
      FLANNEL_ANNOTATION_PREFIX: ['flannel.alpha.coreos.com', 'default'],
      FLANNEL_VNI: [1, 'node-annotations'],
      FLANNEL_PORT: [8472, 'default'],
      CALICO_DAEMONSET_NAME: ['calico-node', 'default'],
      CNI_CONFIG_DIR: ['/etc/cni/net.d', 'daemonset'],
    });
    expect(doc.settings.FLANNEL_NETWORK.from).toBe(
      'ConfigMap kube-flannel/kube-flannel-cfg key net-conf.json (Network)',
    );
    expect(doc.settings.CNI_CONFIG_DIR.from).toMatch(/hostPath, mounted at \/etc\/cni\/net.d/);
    // kwok runs no containers: subnet.env cannot be read, the MTU is assumed and says so.
    expect(doc.subnetEnv.read).toBe(false);
    expect(check(doc, 'mtu')).toMatchObject({ status: 'warn', message: expect.stringMatching(/MTU 1450 is assumed/) });
    expect(failed(doc)).toEqual([]);
    expect(doc.checks.filter((c) => c.status === 'warn').map((c) => c.id)).toEqual(['mtu']);
    expect(doc.conflicts).toEqual([]);
    for (const node of doc.nodes) {
      const written = install.annotations[node.name];
      expect(node.vtepMacV4).toBe(JSON.parse(written['flannel.alpha.coreos.com/backend-data']).VtepMAC);
      expect(node.publicIpV4).toBe(written['flannel.alpha.coreos.com/public-ip']);
      expect(node.problems).toEqual([]);
    }
    expect(doc.nodes.map((n) => n.name).sort()).toEqual([...tb.nodeNames].sort());
  });

  it('prints a readable report: DaemonSet, settings table with sources, checks with fixes', () => {
    const { status, stdout } = runCli(tb, ['detect']);
    expect(status).toBe(0);
    expect(stdout).toMatch(
      /^flannel DaemonSet kube-flannel\/kube-flannel-ds \(container kube-flannel, image ghcr\.io\/flannel-io\/flannel:v0\.28\.9\)/,
    );
    expect(stdout).toMatch(
      /FLANNEL_NETWORK\s+10\.244\.0\.0\/16\s+net-conf\.json\s+ConfigMap kube-flannel\/kube-flannel-cfg/,
    );
    expect(stdout).toMatch(/FLANNEL_MTU\s+1450\s+default\s+assumed/);
    expect(stdout).toMatch(/✔ flannel uses the VXLAN backend: backend is vxlan/);
    expect(stdout).toMatch(/! the VXLAN MTU is known: MTU 1450 is assumed.*\n\s+fix: .*--flannel-mtu/);
    expect(stdout).toMatch(/✔ migration can proceed \(1 warning\(s\)\)/);
    expect(stdout).not.toContain('\u001b[');

    const yaml = runCli(tb, ['-o', 'yaml', 'detect']);
    expect(yaml.status).toBe(0);
    expect(YAML.parse(yaml.stdout)).toMatchObject({
      schemaVersion: 1,
      flavour: 'flannel',
      settings: { FLANNEL_VNI: { value: 1 } },
    });
  });

  it('changes nothing in the cluster', () => {
    const before = clusterState(tb);
    expect(runCli(tb, ['detect']).status).toBe(0);
    expect(detectJson(tb, ['--flannel-vni', '4']).status).toBe(0);
    const after = clusterState(tb);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [key, was] of before) {
      const now = after.get(key)!;
      // A kwok heartbeat may bump a Node's resourceVersion; its content must still be the same.
      if (now.resourceVersion !== was.resourceVersion)
        expect({ key, content: now.content }).toEqual({ key, content: was.content });
    }
    const managers = kubectlJson<{ items: any[] }>(tb, [
      'get',
      'nodes,daemonsets,configmaps',
      '--all-namespaces',
      '--show-managed-fields',
    ]).items.flatMap((i) => (i.metadata.managedFields ?? []).map((f: { manager: string }) => f.manager));
    expect(managers).not.toContain('flannel2calico');
  });

  it('takes settings from the environment, and a flag wins over the environment', () => {
    const env = detectJson(tb, [], { FLANNEL_VNI: '9', FLANNEL_MTU: '1400', FLANNEL_IP_MASQ: 'false' });
    expect(env.status).toBe(0);
    expect(env.doc.settings.FLANNEL_VNI).toMatchObject({
      value: 9,
      source: 'env',
      from: 'environment variable FLANNEL_VNI (detected: 1 from node-annotations)',
    });
    expect(setting(env.doc, 'FLANNEL_MTU')).toEqual([1400, 'env']);
    expect(setting(env.doc, 'FLANNEL_IP_MASQ')).toEqual([false, 'env']);
    expect(check(env.doc, 'mtu').status).toBe('pass');

    const flag = detectJson(tb, ['--flannel-vni', '7', '--flannel-mtu', '1380'], {
      FLANNEL_VNI: '9',
      FLANNEL_MTU: '1400',
    });
    expect(setting(flag.doc, 'FLANNEL_VNI')).toEqual([7, 'flag']);
    expect(setting(flag.doc, 'FLANNEL_MTU')).toEqual([1380, 'flag']);
    expect(flag.doc.backend.vni).toBe(7);
  });

  it('refuses a bad flag or environment value with exit 2', () => {
    const badFlag = runCli(tb, ['detect', '--flannel-vni', 'seven']);
    expect(badFlag.status).toBe(2);
    expect(badFlag.stderr).toMatch(/--flannel-vni: expected a whole number \(got "seven"\)/);
    expect(badFlag.stdout).toBe('');
    const badEnv = runCli(tb, ['detect'], { FLANNEL_NETWORK: '10.244.0.0' });
    expect(badEnv.status).toBe(2);
    expect(badEnv.stderr).toMatch(/environment variable FLANNEL_NETWORK: expected an IPv4 CIDR/);
    const badRef = runCli(tb, ['detect', '--flannel-daemonset', 'a/b/c']);
    expect(badRef.status).toBe(2);
    expect(badRef.stderr).toMatch(/expected NAME or NAMESPACE\/NAME/);
  });

  it('tells a user without RBAC exactly which verbs on which resources are missing', () => {
    kubectlOk(tb, ['create', 'serviceaccount', 'narrow', '-n', 'default']);
    kubectlOk(tb, ['create', 'clusterrole', 'narrow-nodes', '--verb=get,list', '--resource=nodes']);
    kubectlOk(tb, [
      'create',
      'clusterrolebinding',
      'narrow-nodes',
      '--clusterrole=narrow-nodes',
      '--serviceaccount=default:narrow',
    ]);
    kubectlOk(tb, [
      'create',
      'role',
      'narrow-flannel',
      '-n',
      'kube-flannel',
      '--verb=get,list',
      '--resource=daemonsets.apps,configmaps,pods',
    ]);
    kubectlOk(tb, [
      'create',
      'rolebinding',
      'narrow-flannel',
      '-n',
      'kube-flannel',
      '--role=narrow-flannel',
      '--serviceaccount=default:narrow',
    ]);
    const kubeconfig = serviceAccountKubeconfig(tb, 'default', 'narrow');

    const result = cliAs(tb, kubeconfig, ['-o', 'json', 'detect']);
    expect(result.status).toBe(3);
    const doc = JSON.parse(result.stdout) as DetectionDoc;
    // What the user may read is still read: flannel is found in its namespace.
    expect(check(doc, 'installation').status).toBe('pass');
    expect(doc.daemonSet?.name).toBe('kube-flannel-ds');
    expect(failed(doc)).toEqual(['rbac']);
    const rbac = check(doc, 'rbac');
    const missing = rbac.message.replace(/^missing \d+ of \d+ permissions: /, '').split('; ');
    expect(missing).toEqual([
      'patch nodes cluster-wide',
      'patch, delete daemonsets.apps in namespace kube-flannel',
      'get, list, patch, delete daemonsets.apps in namespace kube-system',
      'get, create, patch configmaps in namespace kube-system',
      'get, list, delete pods cluster-wide',
      'create pods/eviction cluster-wide',
      'get, create, delete, deletecollection jobs.batch in namespace kube-system',
      'deletecollection pods in namespace kube-system',
      'get, list, create, patch, delete ippools.crd.projectcalico.org cluster-wide',
      'get, list, create, patch, delete ipamblocks.crd.projectcalico.org cluster-wide',
      'get, list, create, patch, delete blockaffinities.crd.projectcalico.org cluster-wide',
      'get, list, create, patch, delete ipamhandles.crd.projectcalico.org cluster-wide',
      'get, list, create, patch, delete felixconfigurations.crd.projectcalico.org cluster-wide',
      'get, list, create, patch, delete clusterinformations.crd.projectcalico.org cluster-wide',
      'get, create, update leases.coordination.k8s.io in namespace kube-system',
      'create events in namespace default',
      'list poddisruptionbudgets.policy cluster-wide',
      'create customresourcedefinitions.apiextensions.k8s.io cluster-wide',
    ]);
    expect(rbac.fix).toMatch(/ClusterRole/);

    const text = cliAs(tb, kubeconfig, ['detect']);
    expect(text.status).toBe(3);
    expect(text.stdout).toMatch(
      /✘ your permissions cover the migration: missing \d+ of \d+ permissions: patch nodes cluster-wide; /,
    );
  });

  it('tells a user who may read nothing why flannel cannot be looked for', () => {
    kubectlOk(tb, ['create', 'serviceaccount', 'nobody', '-n', 'default']);
    const result = cliAs(tb, serviceAccountKubeconfig(tb, 'default', 'nobody'), ['-o', 'json', 'detect']);
    expect(result.status).toBe(3);
    const doc = JSON.parse(result.stdout) as DetectionDoc;
    expect(check(doc, 'installation').message).toMatch(/cannot look for flannel: cannot list DaemonSets \(forbidden/);
    expect(check(doc, 'node-podcidrs').message).toMatch(/cannot read the nodes: forbidden/);
    expect(check(doc, 'rbac').message).toMatch(/get, list, patch nodes cluster-wide/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('detect: non-default settings, an old DaemonSet name, refused configurations', () => {
  let tb: Testbed;

  beforeAll(async () => {
    tb = await startTestbed({ nodes: 2, podCidr: '10.50.0.0/16', nodeCidrMask: 26 });
  }, 300_000);
  afterAll(async () => {
    await tb?.down();
  });

  it('reads a non-default network, subnet length, VNI, port, annotation prefix and masquerade', async () => {
    const install = await installFlannel(tb, {
      netConf: { Network: '10.50.0.0/16', SubnetLen: 26, Backend: { Type: 'vxlan', VNI: 4096, Port: 4789 } },
      annotationPrefix: 'flannel.example.com',
      ipMasq: false,
    });
    const { status, doc } = detectJson(tb);
    expect(status).toBe(0);
    expect(setting(doc, 'FLANNEL_NETWORK')).toEqual(['10.50.0.0/16', 'net-conf.json']);
    expect(setting(doc, 'FLANNEL_SUBNET_LEN')).toEqual([26, 'node-podcidr']);
    expect(setting(doc, 'FLANNEL_VNI')).toEqual([4096, 'net-conf.json']);
    expect(setting(doc, 'FLANNEL_PORT')).toEqual([4789, 'net-conf.json']);
    expect(setting(doc, 'FLANNEL_ANNOTATION_PREFIX')).toEqual(['flannel.example.com', 'daemonset-args']);
    expect(setting(doc, 'FLANNEL_IP_MASQ')).toEqual([false, 'daemonset-args']);
    expect(doc.backend).toEqual({ type: 'vxlan', vni: 4096, port: 4789, directRouting: false });
    expect(doc.conflicts).toEqual([]);
    expect(failed(doc)).toEqual([]);
    for (const node of doc.nodes) {
      expect(node.vni).toBe(4096);
      expect(node.vtepMacV4).toBe(
        JSON.parse(install.annotations[node.name]['flannel.example.com/backend-data']).VtepMAC,
      );
    }
  });

  it('skips a DaemonSet that has no node to run on, and asks which one when two could run', async () => {
    // Old manifests ship one DaemonSet per architecture, in kube-system.
    const arm64 = copyDaemonSet(tb, 'kube-flannel', 'kube-flannel-ds', 'kube-system', 'kube-flannel-ds-arm64', {
      'kubernetes.io/arch': 'arm64',
    });
    await waitForDaemonSetStatus(tb, arm64);
    const picked = detectJson(tb);
    expect(picked.status).toBe(0);
    expect(picked.doc.daemonSet).toMatchObject({ namespace: 'kube-flannel', name: 'kube-flannel-ds' });
    expect(check(picked.doc, 'installation').message).toMatch(
      /the only flannel DaemonSet with nodes to run on \(kube-system\/kube-flannel-ds-arm64/,
    );

    const amd64 = copyDaemonSet(tb, 'kube-flannel', 'kube-flannel-ds', 'kube-system', 'kube-flannel-ds-amd64');
    await waitForDaemonSetStatus(tb, amd64);
    const ambiguous = detectJson(tb);
    expect(ambiguous.status).toBe(3);
    expect(ambiguous.doc.flavour).toBe('none');
    expect(ambiguous.doc.candidates.map((c) => `${c.namespace}/${c.name}`)).toEqual([
      'kube-flannel/kube-flannel-ds',
      'kube-system/kube-flannel-ds-amd64',
      'kube-system/kube-flannel-ds-arm64',
    ]);
    expect(check(ambiguous.doc, 'installation')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(
        /^3 DaemonSets look like flannel: kube-flannel\/kube-flannel-ds \(flannel\), kube-system\/kube-flannel-ds-amd64 \(flannel\), kube-system\/kube-flannel-ds-arm64 \(flannel\)/,
      ),
      fix: expect.stringMatching(/--flannel-daemonset/),
    });

    const named = detectJson(tb, ['--flannel-daemonset', 'kube-flannel/kube-flannel-ds']);
    expect(named.status).toBe(0);
    expect(named.doc.daemonSet).toMatchObject({ namespace: 'kube-flannel', name: 'kube-flannel-ds' });
    expect(setting(named.doc, 'FLANNEL_DAEMONSET_NAME')).toEqual(['kube-flannel-ds', 'flag']);
    expect(setting(named.doc, 'FLANNEL_DAEMONSET_NAMESPACE')).toEqual(['kube-flannel', 'flag']);
    const byNamespace = detectJson(tb, ['--flannel-namespace', 'kube-flannel']);
    expect(byNamespace.status).toBe(0);
    expect(byNamespace.doc.daemonSet).toMatchObject({ namespace: 'kube-flannel', name: 'kube-flannel-ds' });
    const fromEnv = detectJson(tb, [], {
      FLANNEL_DAEMONSET_NAME: 'kube-flannel-ds',
      FLANNEL_DAEMONSET_NAMESPACE: 'kube-flannel',
    });
    expect(fromEnv.status).toBe(0);
    expect(setting(fromEnv.doc, 'FLANNEL_DAEMONSET_NAME')).toEqual(['kube-flannel-ds', 'env']);
    const missing = detectJson(tb, ['--flannel-daemonset', 'kube-flannel-ds-s390x']);
    expect(missing.status).toBe(3);
    expect(check(missing.doc, 'installation').message).toMatch(
      /DaemonSet kube-flannel-ds-s390x \(from --flannel-daemonset\) does not exist/,
    );

    deleteDaemonSet(tb, 'kube-system', 'kube-flannel-ds-amd64');
    deleteDaemonSet(tb, 'kube-system', 'kube-flannel-ds-arm64');
  });

  it('finds flannel in kube-system under the old name kube-flannel-ds-amd64 by itself', async () => {
    deleteDaemonSet(tb, 'kube-flannel', 'kube-flannel-ds');
    await waitFor(
      () => tb.kubectl(['get', 'pods', '-A', '-l', 'app=flannel', '-o', 'name']).stdout.trim() === '',
      60_000,
      'flannel pods gone',
    );
    await installFlannel(tb, {
      namespace: 'kube-system',
      name: 'kube-flannel-ds-amd64',
      netConf: { Network: '10.50.0.0/16', Backend: { Type: 'vxlan' } },
    });
    const { status, doc } = detectJson(tb);
    expect(status).toBe(0);
    expect(doc.daemonSet).toMatchObject({ namespace: 'kube-system', name: 'kube-flannel-ds-amd64' });
    expect(setting(doc, 'FLANNEL_DAEMONSET_NAME')).toEqual(['kube-flannel-ds-amd64', 'daemonset']);
    expect(setting(doc, 'FLANNEL_DAEMONSET_NAMESPACE')).toEqual(['kube-system', 'daemonset']);
    expect(doc.configMap).toEqual({ namespace: 'kube-system', name: 'kube-flannel-cfg' });
    expect(setting(doc, 'FLANNEL_VNI')).toEqual([1, 'node-annotations']);
    expect(setting(doc, 'FLANNEL_ANNOTATION_PREFIX')).toEqual(['flannel.alpha.coreos.com', 'default']);
    expect(doc.conflicts).toEqual([]);
    expect(failed(doc)).toEqual([]);
  });

  it('refuses an addon-managed DaemonSet, and says how to fix it', () => {
    kubectlOk(tb, [
      'label',
      'daemonset',
      'kube-flannel-ds-amd64',
      '-n',
      'kube-system',
      'addonmanager.kubernetes.io/mode=Reconcile',
    ]);
    try {
      const { status, doc } = detectJson(tb);
      expect(status).toBe(3);
      expect(failed(doc)).toEqual(['daemonset-managed']);
      expect(check(doc, 'daemonset-managed').message).toMatch(
        /addonmanager\.kubernetes\.io\/mode=Reconcile: the addon manager would undo/,
      );
      expect(check(doc, 'daemonset-managed').fix).toMatch(/addonmanager\.kubernetes\.io\/mode-/);
      expect(doc.daemonSet?.managedBy).toBe('addon-manager (Reconcile)');
    } finally {
      kubectlOk(tb, [
        'label',
        'daemonset',
        'kube-flannel-ds-amd64',
        '-n',
        'kube-system',
        'addonmanager.kubernetes.io/mode-',
      ]);
    }
  });

  it('refuses the host-gw backend and DirectRouting with their reasons', () => {
    try {
      patchNetConf(tb, 'kube-system', 'kube-flannel-cfg', { Network: '10.50.0.0/16', Backend: { Type: 'host-gw' } });
      const hostGw = detectJson(tb);
      expect(hostGw.status).toBe(3);
      expect(failed(hostGw.doc)).toEqual(['vxlan-backend']);
      expect(check(hostGw.doc, 'vxlan-backend').message).toMatch(
        /^backend is host-gw: host-gw routes pod traffic over the underlay without any encapsulation/,
      );
      expect(hostGw.doc.backend.type).toBe('host-gw');

      patchNetConf(tb, 'kube-system', 'kube-flannel-cfg', {
        Network: '10.50.0.0/16',
        Backend: { Type: 'vxlan', DirectRouting: true },
      });
      const direct = detectJson(tb);
      expect(direct.status).toBe(3);
      expect(failed(direct.doc)).toEqual(['direct-routing']);
      expect(check(direct.doc, 'direct-routing').message).toMatch(/DirectRouting is true/);
      expect(direct.doc.backend.directRouting).toBe(true);

      patchNetConf(tb, 'kube-system', 'kube-flannel-cfg', { Network: '10.50.0.0/16', Backend: { Type: 'wireguard' } });
      expect(check(detectJson(tb).doc, 'vxlan-backend').message).toMatch(/^backend is wireguard: .*WireGuard/);
    } finally {
      patchNetConf(tb, 'kube-system', 'kube-flannel-cfg', { Network: '10.50.0.0/16', Backend: { Type: 'vxlan' } });
    }
  });

  it('reports conflicts between net-conf.json and the nodes', () => {
    try {
      patchNetConf(tb, 'kube-system', 'kube-flannel-cfg', {
        Network: '10.60.0.0/16',
        SubnetLen: 24,
        Backend: { Type: 'vxlan', VNI: 7 },
      });
      const { status, doc } = detectJson(tb);
      expect(status).toBe(3);
      expect(failed(doc)).toEqual(['podcidrs-in-network']);
      const nodes = doc.nodes.map((n) => n.name).sort();
      for (const node of doc.nodes)
        expect(doc.conflicts).toContain(
          `node ${node.name} podCIDR ${node.podCidrs[0]} is outside flannel's Network 10.60.0.0/16`,
        );
      expect(doc.conflicts).toContain("net-conf.json SubnetLen is 24 but the nodes' IPv4 podCIDRs are /26");
      expect(doc.conflicts).toContain(
        `net-conf.json Backend.VNI is 7 but backend-data on ${nodes.join(', ')} says VNI 1`,
      );
      expect(check(doc, 'conflicts').status).toBe('warn');
      expect(runCli(tb, ['detect']).stdout).toMatch(/Conflicts\n\s+! /);
    } finally {
      patchNetConf(tb, 'kube-system', 'kube-flannel-cfg', { Network: '10.50.0.0/16', Backend: { Type: 'vxlan' } });
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('detect: dual-stack flannel and Canal', () => {
  let tb: Testbed;

  beforeAll(async () => {
    tb = await startTestbed({ nodes: 2, podCidrV6: 'fd00:10:244::/56', nodeCidrMaskV6: 64 });
  }, 300_000);
  afterAll(async () => {
    await tb?.down();
  });

  it('reads a dual-stack flannel', async () => {
    const install = await installFlannel(tb, {
      netConf: {
        Network: '10.244.0.0/16',
        IPv6Network: 'fd00:10:244::/56',
        EnableIPv6: true,
        Backend: { Type: 'vxlan' },
      },
    });
    const { status, doc } = detectJson(tb);
    expect(status).toBe(0);
    expect(setting(doc, 'FLANNEL_NETWORK')).toEqual(['10.244.0.0/16', 'net-conf.json']);
    expect(setting(doc, 'FLANNEL_IPV6_NETWORK')).toEqual(['fd00:10:244::/56', 'net-conf.json']);
    expect(setting(doc, 'FLANNEL_IPV6_SUBNET_LEN')).toEqual([64, 'node-podcidr']);
    expect(failed(doc)).toEqual([]);
    for (const node of doc.nodes) {
      expect(node.podCidrs).toHaveLength(2);
      expect(node.vtepMacV6).toBe(
        JSON.parse(install.annotations[node.name]['flannel.alpha.coreos.com/backend-v6-data']).VtepMAC,
      );
      expect(node.publicIpV6).toBe(install.annotations[node.name]['flannel.alpha.coreos.com/public-ipv6']);
    }
  });

  it('fails a dual-stack flannel whose nodes lack the IPv6 annotations', () => {
    const node = tb.nodeNames[0];
    kubectlOk(tb, ['annotate', 'node', node, 'flannel.alpha.coreos.com/backend-v6-data-']);
    const { status, doc } = detectJson(tb);
    expect(status).toBe(3);
    expect(failed(doc)).toEqual(['node-annotations']);
    expect(check(doc, 'node-annotations').message).toMatch(
      new RegExp(`${node} lacks flannel.alpha.coreos.com/backend-v6-data although flannel runs IPv6`),
    );
  });

  it('finds Canal by content and reads its settings', async () => {
    deleteDaemonSet(tb, 'kube-flannel', 'kube-flannel-ds');
    await installFlannel(tb, { canal: true, mtu: 1410 });
    const { status, doc } = detectJson(tb);
    expect(status).toBe(0);
    expect(doc.flavour).toBe('canal');
    expect(doc.daemonSet).toMatchObject({
      namespace: 'kube-system',
      name: 'canal',
      container: 'kube-flannel',
      calicoImage: 'quay.io/calico/node:v3.32.1',
      version: 'v3.32.1',
    });
    expect(doc.configMap).toEqual({ namespace: 'kube-system', name: 'canal-config' });
    expect(check(doc, 'version')).toMatchObject({ status: 'pass', title: 'Canal (calico/node) is v3.7.0 or newer' });
    expect(doc.settings.FLANNEL_MTU).toEqual({
      key: 'flannelMtu',
      value: 1410,
      source: 'cni-conf',
      from: 'ConfigMap kube-system/canal-config key veth_mtu',
    });
    expect(setting(doc, 'FLANNEL_IP_MASQ')).toEqual([true, 'daemonset-args']);
    expect(setting(doc, 'FLANNEL_NETWORK')).toEqual(['10.244.0.0/16', 'net-conf.json']);
    expect(setting(doc, 'CNI_CONFIG_DIR')).toEqual(['/etc/cni/net.d', 'daemonset']);
    expect(doc.settings.CNI_CONFIG_DIR.from).toMatch(/mounted at \/host\/etc\/cni\/net.d/);
    expect(check(doc, 'mtu').status).toBe('pass');
  });

  it('finds Canal installed as rke2-canal', async () => {
    deleteDaemonSet(tb, 'kube-system', 'canal');
    await waitFor(
      () => tb.kubectl(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=canal', '-o', 'name']).stdout.trim() === '',
      60_000,
      'canal pods gone',
    );
    await installFlannel(tb, { canal: true, name: 'rke2-canal' });
    const { status, doc } = detectJson(tb);
    expect(status).toBe(0);
    expect(doc.flavour).toBe('canal');
    expect(doc.daemonSet).toMatchObject({ namespace: 'kube-system', name: 'rke2-canal' });
    expect(doc.candidates[0].evidence).toEqual(
      expect.arrayContaining(['container kube-flannel runs flanneld', 'label k8s-app=canal']),
    );
  });
});
