/**
 * The import rules of src/ (docs/architecture.md), checked by `npm run lint`:
 * `depcruise src --config .dependency-cruiser.cjs`.
 *
 * LAYERS lists the layers bottom to top. A module may import its own layer and the layers below it,
 * never one above:
 *   names    src/*.ts       labels, annotations, namespaces, the Calico API group (names.ts), and the
 *                           small rules every layer shares: Kubernetes names, selectors and node
 *                           readiness (k8s.ts), durations (duration.ts), a check's result (finding.ts)
 *   net      src/net/       IP and CIDR arithmetic
 *   cluster  src/cluster/   the one Kubernetes client (the only importer of @kubernetes/client-node)
 *   calico   src/calico/    Calico objects, built as plain data
 *   flannel  src/flannel/   finds flannel and reads its settings
 *   plan     src/plan/      the planner and its checks; no I/O of its own
 *   host     src/host/      the host scripts and the Jobs that run them on each node
 *   engine   src/engine/    runs a plan against the cluster: migrate, revert, status, report
 *   cli      src/cli/       commands, output, prompts (the only importer of commander, chalk, ora, inquirer)
 */
const LAYERS = ['names', 'net', 'cluster', 'calico', 'flannel', 'plan', 'host', 'engine', 'cli'];

const pathOf = (layer) => (layer === 'names' ? '^src/[^/]+\\.ts$' : `^src/${layer}/`);

const upwardRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer}`,
  comment: `${layer} may import only ${LAYERS.slice(0, i + 1).join(', ')}: it sits below ${LAYERS.slice(i + 1).join(', ')}`,
  severity: 'error',
  from: { path: pathOf(layer) },
  to: { path: LAYERS.slice(i + 1).map(pathOf) },
}));

/** Entry points: bin/flannel2calico.js runs cli/main.ts; scripts/gen-commands-doc.mjs also loads cli/reference.ts. */
const ENTRY_POINTS = ['^src/cli/main\\.ts$', '^src/cli/reference\\.ts$'];

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle: the modules cannot be read, tested or loaded one without the other.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...upwardRules,
    {
      name: 'kubernetes-client-only-in-cluster',
      comment: 'Only src/cluster talks to the Kubernetes client library; everything else goes through it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cluster/' },
      to: { path: 'node_modules/@kubernetes/client-node/' },
    },
    {
      name: 'terminal-libraries-only-in-cli',
      comment: 'Only src/cli writes to the terminal: commander, chalk, ora and inquirer stay there.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: 'node_modules/(commander|chalk|ora|inquirer|@inquirer/[^/]+)/' },
    },
    {
      name: 'no-unreachable',
      comment: 'A module that no entry point reaches (statically or through import()) is dead code.',
      severity: 'error',
      from: { path: ENTRY_POINTS },
      to: { path: '^src/', pathNot: ENTRY_POINTS, reachable: false },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '\\.d\\.ts$' },
  },
};
