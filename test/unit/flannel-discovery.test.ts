import { describe, it, expect } from '@jest/globals';
import type { V1DaemonSet } from '../../src/cluster/index.js';
import {
  cniConfigDirOf,
  compareVersions,
  findCandidates,
  flannelContainer,
  flanneldArgs,
  flanneldConfig,
  identifyDaemonSet,
  imageTag,
  managedBy,
  netConfSources,
  parseVersion,
  selectDaemonSet,
} from '../../src/flannel/discovery.js';
import { FLANNEL_DAEMONSETS, FLANNEL_NAMESPACES } from '../../src/names.js';
import { SETTING_DEFINITIONS, parseDaemonSetRef } from '../../src/flannel/settings.js';
import { canalManifest, flannelManifest } from './flannel-fixtures.js';

const noConfigMaps = () => undefined;

function renamed(ds: V1DaemonSet, namespace: string, name: string): V1DaemonSet {
  const copy = structuredClone(ds);
  copy.metadata = { ...copy.metadata, namespace, name };
  return copy;
}

function otherDaemonSet(): V1DaemonSet {
  return {
    metadata: { namespace: 'kube-system', name: 'kube-proxy', labels: { 'k8s-app': 'kube-proxy' } },
    spec: {
      selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
      template: {
        spec: {
          containers: [
            { name: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.34.4', command: ['/usr/local/bin/kube-proxy'] },
          ],
        },
      },
    },
  };
}

describe('identifyDaemonSet', () => {
  it('recognises the upstream flannel DaemonSet by its flanneld container and labels', () => {
    const c = identifyDaemonSet(flannelManifest().daemonSet);
    expect(c).toEqual({
      namespace: 'kube-flannel',
      name: 'kube-flannel-ds',
      flavour: 'flannel',
      evidence: ['container kube-flannel runs flanneld', 'label app=flannel'],
    });
  });

  it('recognises Canal by its calico/node container, whatever its name', () => {
    const ds = renamed(canalManifest().daemonSet, 'kube-system', 'rke2-canal');
    ds.metadata!.labels = {};
    const c = identifyDaemonSet(ds)!;
    expect(c.flavour).toBe('canal');
    expect(c.evidence[0]).toBe('container kube-flannel runs flanneld');
    expect(c.evidence[1]).toMatch(/calico-node runs calico\/node/);
  });

  it('recognises flannel by image when the command does not say flanneld, under any name', () => {
    const ds = renamed(flannelManifest().daemonSet, 'kube-system', 'my-overlay');
    const container = ds.spec!.template.spec!.containers[0];
    delete container.command;
    container.image = 'quay.io/coreos/flannel:v0.11.0-amd64';
    expect(identifyDaemonSet(ds)?.evidence[0]).toBe(
      'container kube-flannel runs image quay.io/coreos/flannel:v0.11.0-amd64',
    );
  });

  it("ignores other DaemonSets, and flannel's CNI-plugin image alone", () => {
    expect(identifyDaemonSet(otherDaemonSet())).toBeUndefined();
    const plugin = otherDaemonSet();
    plugin.spec!.template.spec!.containers = [
      { name: 'x', image: 'ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3' },
    ];
    expect(identifyDaemonSet(plugin)).toBeUndefined();
  });

  it('notes who manages the DaemonSet', () => {
    const ds = flannelManifest().daemonSet;
    ds.metadata!.labels!['addonmanager.kubernetes.io/mode'] = 'Reconcile';
    expect(managedBy(ds)).toBe('addon-manager (Reconcile)');
    expect(identifyDaemonSet(ds)!.evidence).toContain('managed by addon-manager (Reconcile)');
    const helm = canalManifest().daemonSet;
    helm.metadata!.annotations = {
      'meta.helm.sh/release-name': 'rke2-canal',
      'meta.helm.sh/release-namespace': 'kube-system',
    };
    expect(managedBy(helm)).toBe('Helm release kube-system/rke2-canal');
  });
});

describe('selectDaemonSet', () => {
  const flannel = flannelManifest().daemonSet;
  it('takes the only candidate', () => {
    const s = selectDaemonSet([otherDaemonSet(), flannel]);
    expect(s.kind).toBe('found');
  });

  it("defaults to today's kube-flannel.yml and falls back to the names older manifests used", () => {
    expect(FLANNEL_DAEMONSETS.map((d) => `${d.namespace}/${d.name}`)).toEqual([
      'kube-flannel/kube-flannel-ds',
      'kube-system/kube-flannel-ds',
      'kube-system/kube-flannel-ds-amd64',
    ]);
    expect(FLANNEL_NAMESPACES).toEqual(['kube-flannel', 'kube-system']);
    const defaultOf = (key: string) => SETTING_DEFINITIONS.find((d) => d.key === key)?.defaultValue;
    expect([defaultOf('flannelDaemonSetNamespace'), defaultOf('flannelDaemonSetName')]).toEqual([
      'kube-flannel',
      'kube-flannel-ds',
    ]);
    for (const { namespace, name } of FLANNEL_DAEMONSETS) {
      const s = selectDaemonSet([otherDaemonSet(), renamed(flannel, namespace, name)]);
      expect(s.kind === 'found' && `${s.candidate.namespace}/${s.candidate.name}`).toBe(`${namespace}/${name}`);
    }
  });

  it('finds nothing when nothing runs flanneld', () => {
    expect(selectDaemonSet([otherDaemonSet()])).toEqual({ kind: 'none' });
  });

  it('refuses to guess between several candidates, and lists them', () => {
    const s = selectDaemonSet([flannel, renamed(flannel, 'kube-system', 'kube-flannel-ds-amd64')]);
    expect(s.kind).toBe('ambiguous');
    expect(s.kind === 'ambiguous' && s.candidates.map((c) => `${c.namespace}/${c.name}`)).toEqual([
      'kube-flannel/kube-flannel-ds',
      'kube-system/kube-flannel-ds-amd64',
    ]);
    expect(findCandidates([flannel, canalManifest().daemonSet]).map((c) => c.flavour)).toEqual(['flannel', 'canal']);
  });

  it('prefers the one DaemonSet that has nodes to run on (old per-architecture manifests)', () => {
    const amd64 = renamed(flannel, 'kube-system', 'kube-flannel-ds-amd64');
    amd64.status = { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberMisscheduled: 0, numberReady: 3 };
    const arm64 = renamed(flannel, 'kube-system', 'kube-flannel-ds-arm64');
    arm64.status = { desiredNumberScheduled: 0, currentNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 };
    const s = selectDaemonSet([arm64, amd64]);
    expect(s.kind === 'found' && s.candidate.name).toBe('kube-flannel-ds-amd64');
    expect(s.kind === 'found' && s.candidate.evidence.at(-1)).toBe(
      'the only flannel DaemonSet with nodes to run on (kube-system/kube-flannel-ds-arm64 schedule no pods)',
    );
    expect(selectDaemonSet([arm64, amd64, renamed(amd64, 'kube-flannel', 'kube-flannel-ds')]).kind).toBe('ambiguous');
  });

  it('takes the one the operator named, by name or namespace/name', () => {
    const both = [flannel, renamed(flannel, 'kube-system', 'kube-flannel-ds-amd64')];
    const byName = selectDaemonSet(both, { name: 'kube-flannel-ds-amd64', origin: '--flannel-daemonset' });
    expect(byName.kind === 'found' && byName.candidate.namespace).toBe('kube-system');
    const twice = [flannel, renamed(flannel, 'other', 'kube-flannel-ds')];
    expect(selectDaemonSet(twice, { name: 'kube-flannel-ds', origin: '--flannel-daemonset' }).kind).toBe('ambiguous');
    const exact = selectDaemonSet(twice, {
      namespace: 'other',
      name: 'kube-flannel-ds',
      origin: '--flannel-daemonset',
    });
    expect(exact.kind === 'found' && exact.candidate.namespace).toBe('other');
  });

  it('says so when the named DaemonSet does not exist or is not flannel', () => {
    const missing = selectDaemonSet([flannel], {
      name: 'kube-flannel-ds-amd64',
      namespace: 'kube-system',
      origin: 'FLANNEL_DAEMONSET_NAME',
    });
    expect(missing).toEqual({
      kind: 'not-found',
      message:
        'DaemonSet kube-system/kube-flannel-ds-amd64 (from FLANNEL_DAEMONSET_NAME) does not ' +
        'exist. Flannel DaemonSets found: kube-flannel/kube-flannel-ds.',
    });
    expect(selectDaemonSet([otherDaemonSet()], { name: 'kube-proxy', origin: '--flannel-daemonset' }).kind).toBe(
      'not-flannel',
    );
  });
});

describe('parseDaemonSetRef', () => {
  it('accepts name and namespace/name only', () => {
    expect(parseDaemonSetRef('kube-flannel-ds')).toEqual({ name: 'kube-flannel-ds' });
    expect(parseDaemonSetRef('kube-system/canal')).toEqual({ namespace: 'kube-system', name: 'canal' });
    expect(parseDaemonSetRef('a/b/c')).toBeUndefined();
    expect(parseDaemonSetRef('Kube_Flannel')).toBeUndefined();
    expect(parseDaemonSetRef('/x')).toBeUndefined();
  });
});

describe('flanneldConfig', () => {
  it('reads the upstream DaemonSet: --ip-masq, --kube-subnet-mgr, default prefix', () => {
    const ds = flannelManifest().daemonSet;
    const cfg = flanneldConfig(ds, flannelContainer(ds)!, noConfigMaps);
    expect(cfg.ipMasq).toEqual({
      value: true,
      from: 'DaemonSet kube-flannel/kube-flannel-ds container kube-flannel arg --ip-masq',
      explicit: true,
    });
    expect(cfg.kubeSubnetMgr?.value).toBe(true);
    expect(cfg.annotationPrefix).toBeUndefined();
    expect(cfg.netConfigPath).toBe('/etc/kube-flannel/net-conf.json');
    expect(cfg.ifaces).toEqual([]);
  });

  it("reads Canal's flags from command and its masquerade from the ConfigMap behind FLANNELD_IP_MASQ", () => {
    const { daemonSet, configMap } = canalManifest();
    const lookup = (_ns: string, name: string, key: string) =>
      name === 'canal-config' ? { ...configMap.data, masquerade: 'false' }[key] : undefined;
    const cfg = flanneldConfig(daemonSet, flannelContainer(daemonSet)!, lookup);
    // --ip-masq on the command line wins over the environment, as in flanneld.
    expect(cfg.ipMasq.value).toBe(true);
    const withoutFlag = structuredClone(daemonSet);
    flannelContainer(withoutFlag)!.command = ['/opt/bin/flanneld', '--kube-subnet-mgr'];
    const fromEnv = flanneldConfig(withoutFlag, flannelContainer(withoutFlag)!, lookup);
    expect(fromEnv.ipMasq).toEqual({
      value: false,
      from:
        'DaemonSet kube-system/canal container kube-flannel env FLANNELD_IP_MASQ (ConfigMap ' +
        'kube-system/canal-config key masquerade)',
      explicit: true,
    });
  });

  it('handles --flag=value, --flag value, single dashes, false booleans and a shell wrapper', () => {
    const ds = flannelManifest().daemonSet;
    const c = flannelContainer(ds)!;
    c.command = [
      '/bin/sh',
      '-c',
      'exec /opt/bin/flanneld -ip-masq=false --kube-subnet-mgr --kube-annotation-prefix ' +
        'example.com/flannel --iface=eth1 --iface eth2',
    ];
    delete c.args;
    expect(flanneldArgs(c)).toEqual([
      '-ip-masq=false',
      '--kube-subnet-mgr',
      '--kube-annotation-prefix',
      'example.com/flannel',
      '--iface=eth1',
      '--iface',
      'eth2',
    ]);
    const cfg = flanneldConfig(ds, c, noConfigMaps);
    expect(cfg.ipMasq.value).toBe(false);
    expect(cfg.annotationPrefix?.value).toBe('example.com/flannel');
    expect(cfg.ifaces).toEqual(['eth1', 'eth2']);
  });

  it("takes flanneld's default (no masquerade) when --ip-masq is absent, and notices etcd", () => {
    const ds = flannelManifest().daemonSet;
    const c = flannelContainer(ds)!;
    c.args = ['--etcd-endpoints=https://10.0.0.1:2379'];
    const cfg = flanneldConfig(ds, c, noConfigMaps);
    expect(cfg.ipMasq).toMatchObject({ value: false, explicit: false });
    expect(cfg.kubeSubnetMgr).toBeUndefined();
    expect(cfg.etcdEndpoints?.value).toBe('https://10.0.0.1:2379');
  });
});

describe('cniConfigDirOf and netConfSources', () => {
  it('finds the CNI dir from the hostPath mounted at /etc/cni/net.d (flannel) or /host/etc/cni/net.d (Canal)', () => {
    expect(cniConfigDirOf(flannelManifest().daemonSet)).toEqual({
      value: '/etc/cni/net.d',
      from: 'DaemonSet kube-flannel/kube-flannel-ds volume cni (hostPath, mounted at /etc/cni/net.d in install-cni)',
    });
    const canal = canalManifest().daemonSet;
    canal.spec!.template.spec!.volumes!.find((v) => v.name === 'cni-net-dir')!.hostPath!.path =
      '/var/lib/rancher/k3s/agent/etc/cni/net.d/';
    expect(cniConfigDirOf(canal)?.value).toBe('/var/lib/rancher/k3s/agent/etc/cni/net.d');
  });

  it('finds the ConfigMap mounted where flanneld reads net-conf.json', () => {
    const flannel = flannelManifest().daemonSet;
    expect(netConfSources(flannel, flannelContainer(flannel)!, '/etc/kube-flannel/net-conf.json')[0]).toEqual({
      configMap: 'kube-flannel-cfg',
      key: 'net-conf.json',
    });
    const canal = canalManifest().daemonSet;
    expect(netConfSources(canal, flannelContainer(canal)!, '/etc/kube-flannel/net-conf.json')[0]).toEqual({
      configMap: 'canal-config',
      key: 'net-conf.json',
    });
  });
});

describe('versions', () => {
  it('reads tags of real images', () => {
    expect(imageTag('ghcr.io/flannel-io/flannel:v0.28.9')).toBe('v0.28.9');
    expect(imageTag('localhost:5000/flannel')).toBeUndefined();
    expect(imageTag('docker.io/flannel/flannel@sha256:abcd')).toBeUndefined();
    expect(imageTag('docker.io/flannel/flannel:v0.24.4@sha256:abcd')).toBe('v0.24.4');
    expect(parseVersion('v0.11.0-amd64')).toEqual({ major: 0, minor: 11, patch: 0 });
    expect(parseVersion('v3.28.1-build20240610')).toEqual({ major: 3, minor: 28, patch: 1 });
    expect(parseVersion('0.9')).toEqual({ major: 0, minor: 9, patch: 0 });
    expect(parseVersion('latest')).toBeUndefined();
  });

  it('compares numerically, not as strings', () => {
    const v = (s: string) => parseVersion(s)!;
    expect(compareVersions(v('v0.10.0'), v('v0.9.1'))).toBeGreaterThan(0);
    expect(compareVersions(v('v0.9.0'), v('v0.9.1'))).toBeLessThan(0);
    expect(compareVersions(v('v3.7.0'), v('v3.7'))).toBe(0);
  });
});
