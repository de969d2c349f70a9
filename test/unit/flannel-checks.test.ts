import { describe, it, expect } from '@jest/globals';
import { readNodeInfo } from '../../src/flannel/annotations.js';
import {
  conflictsCheck,
  directRoutingCheck,
  installationCheck,
  managedDaemonSetCheck,
  missingPermissions,
  mtuCheck,
  nodeChecks,
  rbacCheck,
  rbacRequirements,
  subnetManagerCheck,
  versionCheck,
  vxlanCheck,
} from '../../src/flannel/checks.js';
import { flannelContainer, flanneldConfig } from '../../src/flannel/discovery.js';
import { parseNetConf } from '../../src/flannel/netconf.js';
import { resolveSettings } from '../../src/flannel/resolve.js';
import { flannelAnnotations, flannelManifest, node } from './flannel-fixtures.js';

const noMarkers = { k3s: false, rke2: false, flannelBackendNone: false };
const netConf = (backend: object) => parseNetConf(JSON.stringify({ Network: '10.244.0.0/16', Backend: backend }));

describe('installationCheck', () => {
  it('passes with the DaemonSet and the evidence', () => {
    const v = installationCheck({
      kind: 'found',
      candidate: { namespace: 'kube-system', name: 'canal', flavour: 'canal', evidence: ['label k8s-app=canal'] },
    });
    expect(v.flavour).toBe('canal');
    expect(v.check).toMatchObject({
      level: 'pass',
      message: 'found Canal DaemonSet kube-system/canal (label k8s-app=canal)',
    });
  });

  it('fails with a clear message when there is no flannel at all', () => {
    const v = installationCheck({ kind: 'absent', annotatedNodes: [], markers: noMarkers });
    expect(v.flavour).toBe('none');
    expect(v.check.level).toBe('fail');
    expect(v.check.message).toMatch(/no flannel or Canal found/);
  });

  it('explains k3s / RKE2 embedded flannel and what to do', () => {
    const k3s = installationCheck({ kind: 'absent', annotatedNodes: ['a', 'b'], markers: { ...noMarkers, k3s: true } });
    expect(k3s.flavour).toBe('embedded');
    expect(k3s.check.message).toMatch(/embedded in k3s.*cannot be stopped node by node.*not supported/);
    expect(k3s.check.fix).toMatch(/flannel-backend: none.*\/etc\/rancher\/k3s\/config\.yaml/);
    const rke2 = installationCheck({ kind: 'absent', annotatedNodes: [], markers: { ...noMarkers, rke2: true } });
    expect(rke2.check.fix).toMatch(/\/etc\/rancher\/rke2\/config\.yaml/);
    const hostService = installationCheck({ kind: 'absent', annotatedNodes: ['a'], markers: noMarkers });
    expect(hostService.flavour).toBe('embedded');
    expect(hostService.check.message).toMatch(/no DaemonSet runs flanneld/);
  });

  it('treats flannel annotations on a k3s --flannel-backend=none cluster as stale', () => {
    const v = installationCheck({
      kind: 'absent',
      annotatedNodes: ['a'],
      markers: { k3s: true, rke2: false, flannelBackendNone: true },
    });
    expect(v.flavour).toBe('none');
    expect(v.check.message).toMatch(/leftovers/);
  });

  it('asks for --flannel-daemonset when several candidates exist', () => {
    const v = installationCheck({
      kind: 'ambiguous',
      candidates: [
        { namespace: 'kube-flannel', name: 'kube-flannel-ds', flavour: 'flannel', evidence: [] },
        { namespace: 'kube-system', name: 'canal', flavour: 'canal', evidence: [] },
      ],
    });
    expect(v.check.message).toMatch(/kube-flannel\/kube-flannel-ds \(flannel\), kube-system\/canal \(canal\)/);
    expect(v.check.fix).toMatch(/--flannel-daemonset kube-flannel\/kube-flannel-ds/);
  });
});

describe('backend checks', () => {
  it('passes VXLAN and refuses every other backend with its reason', () => {
    expect(vxlanCheck(netConf({ Type: 'vxlan' }), [], []).level).toBe('pass');
    for (const [type, reason] of [
      ['host-gw', /without any encapsulation/],
      ['wireguard', /WireGuard/],
      ['udp', /user-space/],
      ['ipsec', /IPsec/],
      ['alloc', /only hands out subnets/],
      ['something', /not VXLAN/],
    ] as const) {
      const c = vxlanCheck(netConf({ Type: type }), [], []);
      expect(c.level).toBe('fail');
      expect(c.message).toMatch(reason);
      expect(c.fix).toMatch(/VXLAN backend/);
    }
    expect(vxlanCheck(parseNetConf('{"Network":"10.244.0.0/16"}'), [], []).message).toMatch(/flannel's default is udp/);
  });

  it('fails when a node runs another backend than net-conf.json says', () => {
    const { findings } = readNodeInfo(
      node('n', ['10.244.0.0/24'], flannelAnnotations({ type: 'host-gw' })),
      'flannel.alpha.coreos.com',
    );
    expect(vxlanCheck(netConf({ Type: 'vxlan' }), findings, ['host-gw']).level).toBe('fail');
  });

  it('refuses DirectRouting', () => {
    expect(directRoutingCheck(netConf({ Type: 'vxlan', DirectRouting: true }))).toMatchObject({ level: 'fail' });
    expect(directRoutingCheck(netConf({ Type: 'vxlan', DirectRouting: false })).level).toBe('pass');
    expect(directRoutingCheck(netConf({ Type: 'vxlan' })).level).toBe('pass');
  });
});

describe('subnetManagerCheck', () => {
  const ds = flannelManifest().daemonSet;
  it('passes with --kube-subnet-mgr', () => {
    expect(
      subnetManagerCheck(
        flanneldConfig(ds, flannelContainer(ds)!, () => undefined),
        [],
      ).level,
    ).toBe('pass');
  });

  it('fails for etcd, and without any sign of the kube subnet manager', () => {
    const etcd = structuredClone(ds);
    flannelContainer(etcd)!.args = ['--etcd-endpoints=http://127.0.0.1:2379'];
    expect(
      subnetManagerCheck(
        flanneldConfig(etcd, flannelContainer(etcd)!, () => undefined),
        [],
      ).message,
    ).toMatch(/--etcd-endpoints/);
    const bare = structuredClone(ds);
    flannelContainer(bare)!.args = [];
    const cfg = flanneldConfig(bare, flannelContainer(bare)!, () => undefined);
    expect(subnetManagerCheck(cfg, []).level).toBe('fail');
    const annotated = readNodeInfo(node('n', ['10.244.0.0/24'], flannelAnnotations()), 'flannel.alpha.coreos.com').info;
    expect(subnetManagerCheck(cfg, [annotated]).level).toBe('pass');
  });
});

describe('managedDaemonSetCheck', () => {
  it('refuses an addon-managed DaemonSet and warns about a Helm-managed one', () => {
    const addon = managedDaemonSetCheck(
      { 'addonmanager.kubernetes.io/mode': 'Reconcile' },
      'addon-manager (Reconcile)',
      'kube-system/kube-flannel-ds-amd64',
    );
    expect(addon.level).toBe('fail');
    expect(addon.message).toMatch(/addonmanager\.kubernetes\.io\/mode=Reconcile/);
    expect(addon.fix).toMatch(
      /kubectl label ds -n kube-system kube-flannel-ds-amd64 addonmanager\.kubernetes\.io\/mode-/,
    );
    expect(managedDaemonSetCheck({}, 'Helm release kube-system/rke2-canal', 'kube-system/rke2-canal').level).toBe(
      'warn',
    );
    expect(managedDaemonSetCheck({}, undefined, 'kube-flannel/kube-flannel-ds').level).toBe('pass');
  });
});

describe('versionCheck', () => {
  it('compares flannel with v0.9.1 and Canal with v3.7.0', () => {
    expect(versionCheck('flannel', 'ghcr.io/flannel-io/flannel:v0.28.9')).toMatchObject({
      version: 'v0.28.9',
      check: { level: 'pass' },
    });
    expect(versionCheck('flannel', 'quay.io/coreos/flannel:v0.9.0-amd64').check.level).toBe('fail');
    expect(versionCheck('flannel', 'quay.io/coreos/flannel:v0.9.1-amd64').check.level).toBe('pass');
    expect(versionCheck('canal', 'quay.io/calico/node:v3.32.1').check.level).toBe('pass');
    expect(versionCheck('canal', 'calico/node:v3.6.9').check).toMatchObject({
      level: 'fail',
      title: 'Canal (calico/node) is v3.7.0 or newer',
    });
  });

  it('warns when the tag says nothing', () => {
    expect(versionCheck('flannel', 'flannel/flannel:latest').check).toMatchObject({ level: 'warn' });
    expect(versionCheck('flannel', 'flannel/flannel@sha256:00').check.message).toMatch(/no tag/);
    expect(versionCheck('canal', undefined).check.level).toBe('warn');
  });
});

describe('nodeChecks', () => {
  it('fails nodes without podCIDR or annotations, and podCIDRs outside the network; warns on stale annotations', () => {
    const infos = [
      readNodeInfo(node('ok', ['10.244.0.0/24'], flannelAnnotations(), ['198.51.100.10']), 'flannel.alpha.coreos.com'),
      readNodeInfo(node('bare', []), 'flannel.alpha.coreos.com'),
      readNodeInfo(
        node('stale', ['10.244.2.0/24'], flannelAnnotations({ ip: '203.0.113.1' }), ['198.51.100.12']),
        'flannel.alpha.coreos.com',
      ),
    ];
    const checks = nodeChecks({
      nodes: infos.map((i) => i.info),
      findings: infos.flatMap((i) => i.findings),
      podCidrsOutsideNetwork: ["node x podCIDR 10.9.0.0/24 is outside flannel's Network 10.244.0.0/16"],
      namespace: 'kube-flannel',
    });
    expect(checks.map((c) => [c.id, c.level])).toEqual([
      ['node-podcidrs', 'fail'],
      ['node-annotations', 'fail'],
      ['podcidrs-in-network', 'fail'],
      ['annotations-consistent', 'warn'],
    ]);
    expect(checks[1].fix).toMatch(/kubectl -n kube-flannel get pods -o wide/);
  });

  it('passes a healthy cluster', () => {
    const i = readNodeInfo(
      node('ok', ['10.244.0.0/24'], flannelAnnotations(), ['198.51.100.10']),
      'flannel.alpha.coreos.com',
    );
    expect(
      nodeChecks({ nodes: [i.info], findings: i.findings, podCidrsOutsideNetwork: [] }).every(
        (c) => c.level === 'pass',
      ),
    ).toBe(true);
  });
});

describe('mtuCheck and conflictsCheck', () => {
  it('warns that an MTU is assumed', () => {
    const r = resolveSettings(
      { nodes: [], subnetEnvMissing: 'no exec' },
      {},
      { value: 'flannel.alpha.coreos.com', source: 'default' },
    );
    const c = mtuCheck(r.settings, r.mtuAssumed);
    expect(c.level).toBe('warn');
    expect(c.message).toMatch(/MTU 1450 is assumed/);
    expect(c.fix).toMatch(/--flannel-mtu or FLANNEL_MTU/);
  });

  it('warns about conflicts', () => {
    expect(conflictsCheck([]).level).toBe('pass');
    expect(conflictsCheck(['a', 'b'])).toMatchObject({
      level: 'warn',
      message: '2 disagreement(s) between sources: a; b',
    });
  });
});

describe('RBAC', () => {
  it('covers every verb the migration needs, in the flannel namespace and kube-system', () => {
    const reqs = rbacRequirements({ flannelNamespace: 'kube-flannel', calicoCrdsPresent: false });
    const has = (verb: string, resource: string, namespace?: string, subresource?: string) =>
      reqs.some(
        (r) => r.verb === verb && r.resource === resource && r.namespace === namespace && r.subresource === subresource,
      );
    for (const verb of ['get', 'list', 'patch']) expect(has(verb, 'nodes')).toBe(true);
    for (const ns of ['kube-flannel', 'kube-system'])
      for (const verb of ['get', 'patch', 'delete']) expect(has(verb, 'daemonsets', ns)).toBe(true);
    expect(has('create', 'pods', undefined, 'eviction')).toBe(true);
    for (const verb of ['get', 'list', 'delete']) expect(has(verb, 'pods')).toBe(true);
    for (const verb of ['create', 'delete', 'deletecollection']) expect(has(verb, 'jobs', 'kube-system')).toBe(true);
    expect(has('deletecollection', 'pods', 'kube-system')).toBe(true);
    for (const r of [
      'ippools',
      'ipamblocks',
      'blockaffinities',
      'ipamhandles',
      'felixconfigurations',
      'clusterinformations',
    ]) {
      for (const verb of ['get', 'list', 'create', 'patch', 'delete']) expect(has(verb, r)).toBe(true);
    }
    for (const verb of ['get', 'create', 'update']) expect(has(verb, 'leases', 'kube-system')).toBe(true);
    for (const verb of ['create', 'patch']) expect(has(verb, 'configmaps', 'kube-system')).toBe(true);
    expect(has('create', 'events', 'default')).toBe(true);
    expect(has('list', 'poddisruptionbudgets')).toBe(true);
    expect(has('create', 'customresourcedefinitions')).toBe(true);
    expect(
      rbacRequirements({ flannelNamespace: 'kube-system', calicoCrdsPresent: true }).some(
        (r) => r.resource === 'customresourcedefinitions',
      ),
    ).toBe(false);
    expect(new Set(reqs.map((r) => JSON.stringify(r))).size).toBe(reqs.length);
  });

  it('lists exactly what is missing, grouped per resource', () => {
    const reqs = rbacRequirements({ flannelNamespace: 'kube-flannel', calicoCrdsPresent: true });
    const results = reqs.map((r) => ({
      ...r,
      allowed:
        !(
          r.resource === 'daemonsets' &&
          r.namespace === 'kube-flannel' &&
          (r.verb === 'patch' || r.verb === 'delete')
        ) && r.resource !== 'leases',
    }));
    expect(missingPermissions(results)).toEqual([
      'patch, delete daemonsets.apps in namespace kube-flannel',
      'get, create, update leases.coordination.k8s.io in namespace kube-system',
    ]);
    const check = rbacCheck(results);
    expect(check.level).toBe('fail');
    expect(check.message).toBe(
      `missing 5 of ${reqs.length} permissions: patch, delete daemonsets.apps in namespace ` +
        `kube-flannel; get, create, update leases.coordination.k8s.io in namespace kube-system`,
    );
    expect(rbacCheck(reqs.map((r) => ({ ...r, allowed: true }))).level).toBe('pass');
    expect(rbacCheck({ error: 'boom' }).level).toBe('warn');
  });
});
