// A synthetic large cluster for the planner benchmarks: 1,000 nodes (3 control-plane), 30,000 pods
// (DaemonSet pods on every node, Deployments, StatefulSets, finished Jobs, emptyDir and bare pods),
// 120 PodDisruptionBudgets. Deterministic: every run plans the same cluster. The objects carry the
// fields the planner reads; dressPod / dressNode add what a real API server also returns.
export const NODES = 1000;
export const CONTROL_PLANE = 3;
const PODS = 30000;
const DEPLOYMENTS = 600;
const PDBS = 120;
const PREFIX = 'flannel.alpha.coreos.com';

/** Deterministic pseudo-random numbers (mulberry32), so every run plans the same cluster. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mac(i) {
  const h = i.toString(16).padStart(6, '0');
  return `0a:58:0a:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
}

export function makeSnapshot() {
  const rnd = random(1000);
  const nodes = [];
  const detectedNodes = [];
  for (let i = 0; i < NODES; i++) {
    const controlPlane = i < CONTROL_PLANE;
    const name = controlPlane ? `cp-${i}` : `worker-${i - CONTROL_PLANE}`;
    const podCIDR = `10.${i >> 8}.${i & 255}.0/24`;
    const ip = `172.16.${i >> 8}.${i & 255}`;
    nodes.push({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        resourceVersion: String(1000 + i),
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          ...(controlPlane ? { 'node-role.kubernetes.io/control-plane': '' } : {}),
        },
        annotations: {
          [`${PREFIX}/backend-type`]: 'vxlan',
          [`${PREFIX}/backend-data`]: JSON.stringify({ VNI: 1, VtepMAC: mac(i) }),
          [`${PREFIX}/public-ip`]: ip,
          [`${PREFIX}/kube-subnet-manager`]: 'true',
        },
      },
      spec: {
        podCIDR,
        podCIDRs: [podCIDR],
        ...(controlPlane ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] } : {}),
      },
      status: {
        conditions: [
          { type: 'Ready', status: 'True' },
          { type: 'MemoryPressure', status: 'False' },
          { type: 'DiskPressure', status: 'False' },
          { type: 'PIDPressure', status: 'False' },
        ],
        allocatable: { cpu: '16', memory: '64Gi', pods: '110' },
        addresses: [
          { type: 'InternalIP', address: ip },
          { type: 'Hostname', address: name },
        ],
      },
    });
    detectedNodes.push({
      name,
      podCidrs: [podCIDR],
      backendType: 'vxlan',
      vtepMacV4: mac(i),
      publicIpV4: ip,
      vni: 1,
      kubeSubnetManager: true,
      problems: [],
    });
  }

  const pods = [];
  let podIp = 0;
  const pod = (namespace, name, node, o = {}) => {
    const n = nodes[node];
    const ipBase = n.spec.podCIDR.split('/')[0].split('.').slice(0, 3).join('.');
    pods.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        namespace,
        name,
        resourceVersion: String(podIp),
        labels: o.labels ?? {},
        ownerReferences: o.owner
          ? [
              {
                apiVersion: o.owner.apiVersion ?? 'apps/v1',
                kind: o.owner.kind,
                name: o.owner.name,
                uid: 'x',
                controller: true,
              },
            ]
          : undefined,
        annotations: o.mirror ? { 'kubernetes.io/config.mirror': 'hash' } : {},
      },
      spec: {
        nodeName: n.metadata.name,
        containers: [
          {
            name: 'main',
            image: 'app:1',
            resources: { requests: { cpu: o.cpu ?? '100m', memory: o.memory ?? '128Mi' } },
          },
        ],
        volumes: o.emptyDir ? [{ name: 'tmp', emptyDir: {} }] : [],
      },
      status: { phase: o.phase ?? 'Running', podIP: `${ipBase}.${2 + (podIp++ % 250)}` },
    });
  };
  // DaemonSet pods everywhere, static control-plane pods on the control plane
  for (let i = 0; i < NODES; i++) {
    pod('kube-flannel', `kube-flannel-ds-${i}`, i, { owner: { kind: 'DaemonSet', name: 'kube-flannel-ds' } });
    pod('monitoring', `node-exporter-${i}`, i, {
      owner: { kind: 'DaemonSet', name: 'node-exporter' },
      labels: { app: 'node-exporter' },
    });
    if (i < CONTROL_PLANE)
      pod('kube-system', `kube-apiserver-cp-${i}`, i, { mirror: true, labels: { component: 'kube-apiserver' } });
  }
  const workers = NODES - CONTROL_PLANE;
  let k = 0;
  while (pods.length < PODS) {
    const node = CONTROL_PLANE + Math.floor(rnd() * workers);
    const roll = rnd();
    const dep = Math.floor(rnd() * DEPLOYMENTS);
    const ns = `team-${dep % 40}`;
    if (roll < 0.85)
      pod(ns, `dep-${dep}-${k}`, node, {
        owner: { kind: 'ReplicaSet', name: `dep-${dep}-rs` },
        labels: { app: `dep-${dep}` },
        emptyDir: rnd() < 0.1,
      });
    else if (roll < 0.95)
      pod(ns, `sts-${dep}-${k}`, node, {
        owner: { kind: 'StatefulSet', name: `sts-${dep}` },
        labels: { app: `sts-${dep}` },
      });
    else if (roll < 0.995)
      pod(ns, `job-${k}`, node, {
        owner: { kind: 'Job', name: `job-${k}`, apiVersion: 'batch/v1' },
        phase: 'Succeeded',
      });
    else pod(ns, `bare-${k}`, node, {});
    k++;
  }

  const pdbs = [];
  for (let i = 0; i < PDBS; i++) {
    const dep = i * 5;
    pdbs.push({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { namespace: `team-${dep % 40}`, name: `dep-${dep}`, resourceVersion: '1' },
      spec:
        i % 3 === 0
          ? {
              minAvailable: 1,
              selector: { matchExpressions: [{ key: 'app', operator: 'In', values: [`dep-${dep}`, `sts-${dep}`] }] },
            }
          : { maxUnavailable: 1, selector: { matchLabels: { app: `dep-${dep}` } } },
      status: { disruptionsAllowed: i % 4 === 0 ? 0 : 1 },
    });
  }
  const daemonSet = (namespace, name) => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { namespace, name },
    spec: { template: { spec: { containers: [{ name, image: `${name}:1` }] } } },
  });

  const snapshot = {
    collectedAt: new Date().toISOString(),
    server: 'https://bench:6443',
    context: 'bench',
    annotationPrefix: PREFIX,
    nodes,
    pods,
    pdbs,
    daemonSets: [daemonSet('kube-flannel', 'kube-flannel-ds'), daemonSet('monitoring', 'node-exporter')],
    kubernetesService: {
      metadata: { name: 'kubernetes', namespace: 'default' },
      spec: { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'] },
    },
    serviceCidrs: [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'ServiceCIDR',
        metadata: { name: 'kubernetes' },
        spec: { cidrs: ['10.96.0.0/12'] },
      },
    ],
    flannel: {
      daemonSet: daemonSet('kube-flannel', 'kube-flannel-ds'),
      configMap: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { namespace: 'kube-flannel', name: 'kube-flannel-cfg' },
        data: { 'net-conf.json': '{"Network":"10.0.0.0/14","Backend":{"Type":"vxlan"}}' },
      },
    },
    calico: { ipPools: [], ipamBlocks: [], blockAffinities: [], ipamHandles: [] },
  };

  const setting = (value, source = 'default') => ({ value, source });
  const detection = {
    flavour: 'flannel',
    daemonSet: { name: 'kube-flannel-ds', namespace: 'kube-flannel', container: 'kube-flannel' },
    configMap: { name: 'kube-flannel-cfg', namespace: 'kube-flannel' },
    backend: { type: 'vxlan', vni: 1, port: 8472 },
    settings: {
      flannelNetwork: setting('10.0.0.0/14', 'net-conf.json'),
      flannelIpv6Network: setting(null, 'unset'),
      flannelDaemonSetName: setting('kube-flannel-ds', 'daemonset'),
      flannelDaemonSetNamespace: setting('kube-flannel', 'daemonset'),
      flannelMtu: setting(1450, 'subnet.env'),
      flannelIpMasq: setting(true, 'daemonset-args'),
      flannelSubnetLen: setting(24, 'node-podcidr'),
      flannelIpv6SubnetLen: setting(64),
      flannelAnnotationPrefix: setting(PREFIX),
      flannelVni: setting(1),
      flannelPort: setting(8472),
      calicoDaemonSetName: setting('calico-node'),
      cniConfigDir: setting('/etc/cni/net.d'),
    },
    conflicts: [],
    checks: [],
    nodes: detectedNodes,
    candidates: [],
    subnetEnv: { read: true },
    summary: 'bench',
  };
  return { snapshot, detection };
}

const CREATED = '2025-01-01T00:00:00Z';
const uid = (kind, i) => `${kind}-0000-4000-8000-${String(i).padStart(12, '0')}`;

/**
 * A pod as the API server lists it (managedFields aside, which the client drops): the service
 * account volume, tolerations, scheduling defaults, conditions and container statuses.
 */
export function dressPod(pod, i) {
  const owner = pod.metadata.ownerReferences?.[0];
  const containers = pod.spec.containers.map((c) => ({
    ...c,
    args: ['--listen=:8080', '--log-level=info', '--metrics-port=9090'],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
      { name: 'LOG_FORMAT', value: 'json' },
    ],
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
    readinessProbe: {
      httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' },
      periodSeconds: 10,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    },
    imagePullPolicy: 'IfNotPresent',
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    volumeMounts: [
      { name: 'kube-api-access-x7k2p', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
    ],
  }));
  const condition = (type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: CREATED });
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      uid: uid('pod', i),
      generateName: owner ? `${owner.name}-` : undefined,
      creationTimestamp: CREATED,
      labels: { ...pod.metadata.labels, ...(owner?.kind === 'ReplicaSet' ? { 'pod-template-hash': '7d4b9c8f6' } : {}) },
      ownerReferences: pod.metadata.ownerReferences?.map((r) => ({ ...r, blockOwnerDeletion: true })),
    },
    spec: {
      ...pod.spec,
      containers,
      volumes: [
        ...pod.spec.volumes,
        {
          name: 'kube-api-access-x7k2p',
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              {
                downwardAPI: {
                  items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
                },
              },
            ],
            defaultMode: 420,
          },
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      serviceAccount: 'default',
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {
      ...pod.status,
      conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(
        condition,
      ),
      hostIP: '172.16.0.1',
      hostIPs: [{ ip: '172.16.0.1' }],
      podIPs: [{ ip: pod.status.podIP }],
      startTime: CREATED,
      containerStatuses: containers.map((c) => ({
        name: c.name,
        state: { running: { startedAt: CREATED } },
        lastState: {},
        ready: true,
        restartCount: 0,
        image: `docker.io/library/${c.image}`,
        imageID: `docker.io/library/${c.image}@sha256:${'0'.repeat(64)}`,
        containerID: `containerd://${'f'.repeat(64)}`,
        started: true,
      })),
      qosClass: 'Burstable',
    },
  };
}

/** A node as the API server lists it: capacity, node info, images, daemon endpoints. */
export function dressNode(node, i) {
  return {
    ...node,
    metadata: {
      ...node.metadata,
      uid: uid('node', i),
      creationTimestamp: CREATED,
      labels: {
        ...node.metadata.labels,
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'topology.kubernetes.io/zone': `zone-${i % 3}`,
      },
      annotations: {
        ...node.metadata.annotations,
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/containerd/containerd.sock',
      },
    },
    spec: { ...node.spec, providerID: `kwok://${node.metadata.name}` },
    status: {
      ...node.status,
      capacity: { ...node.status.allocatable, 'ephemeral-storage': '100Gi', 'hugepages-2Mi': '0' },
      conditions: node.status.conditions.map((c) => ({
        ...c,
        lastHeartbeatTime: CREATED,
        lastTransitionTime: CREATED,
        reason: `Kubelet${c.type}`,
        message: `kubelet reports ${c.type} ${c.status}`,
      })),
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: uid('machine', i),
        systemUUID: uid('system', i),
        bootID: uid('boot', i),
        kernelVersion: '6.8.0',
        osImage: 'Ubuntu 24.04 LTS',
        containerRuntimeVersion: 'containerd://1.7.22',
        kubeletVersion: 'v1.34.4',
        kubeProxyVersion: 'v1.34.4',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      images: Array.from({ length: 20 }, (_, k) => ({
        names: [`registry.example/team/app-${k}@sha256:${'a'.repeat(64)}`, `registry.example/team/app-${k}:1.${k}`],
        sizeBytes: 50_000_000 + k,
      })),
    },
  };
}
