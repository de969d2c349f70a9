/**
 * The test bed by hand: `npm run testbed:up -- --nodes 3`, then testbed:flannel, testbed:workloads,
 * testbed:calico-crds, and testbed:down. One cluster named `flannel2calico`; its admin kubeconfig is
 * written to .testbed/kubeconfig and kubectl is linked at .testbed/bin/kubectl.
 * Compiled with test/testbed/tsconfig.json into .testbed/build by the npm scripts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  attachTestbed,
  binDir,
  deleteCluster,
  clusterPids,
  installCalicoCrds,
  installFlannel,
  installWorkloads,
  startTestbed,
  testbedDir,
  type Testbed,
} from './harness.js';

const NAME = 'flannel2calico';
const kubeconfigLink = path.join(testbedDir, 'kubeconfig');
const kubectlLink = path.join(testbedDir, 'bin', 'kubectl');

class UsageError extends Error {}

const USAGE = `usage:
  npm run testbed:up -- --nodes N [--control-plane M] [--pod-cidr CIDR] [--node-cidr-mask LEN]
                        [--pod-cidr-v6 CIDR] [--node-cidr-mask-v6 LEN]
  npm run testbed:flannel -- [--net-conf FILE] [--namespace NS] [--name DS] [--canal]
                             [--annotation-prefix PREFIX] [--no-ip-masq] [--mtu N (Canal)]
  npm run testbed:workloads
  npm run testbed:calico-crds
  npm run testbed:down`;

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} expects a whole number, got "${value}"`);
  return Number(value);
}

function summary(tb: Testbed): string {
  const rel = path.relative(process.cwd(), kubeconfigLink) || kubeconfigLink;
  return [
    `test bed ${tb.name}: ${tb.nodeNames.length} nodes ` +
      `(${tb.nodeNames.slice(0, 3).join(', ')}${tb.nodeNames.length > 3 ? ', …' : ''})`,
    `  export KUBECONFIG=${path.resolve(rel)}`,
    `  ${path.relative(process.cwd(), kubectlLink) || kubectlLink} get nodes -o wide`,
    `  node bin/flannel2calico.js --kubeconfig ${rel} detect`,
  ].join('\n');
}

async function up(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string' },
      'control-plane': { type: 'string' },
      'pod-cidr': { type: 'string' },
      'node-cidr-mask': { type: 'string' },
      'pod-cidr-v6': { type: 'string' },
      'node-cidr-mask-v6': { type: 'string' },
    },
    strict: true,
  });
  const nodes = integer(values.nodes, '--nodes') ?? 3;
  const started = Date.now();
  process.stderr.write(`starting test bed ${NAME} with ${nodes} nodes (replacing any earlier one)…\n`);
  const tb = await startTestbed({
    name: NAME,
    persistent: true,
    nodes,
    controlPlane: integer(values['control-plane'], '--control-plane') ?? (nodes > 1 ? 1 : 0),
    podCidr: values['pod-cidr'],
    nodeCidrMask: integer(values['node-cidr-mask'], '--node-cidr-mask'),
    podCidrV6: values['pod-cidr-v6'],
    nodeCidrMaskV6: integer(values['node-cidr-mask-v6'], '--node-cidr-mask-v6'),
  });
  fs.copyFileSync(tb.kubeconfig, kubeconfigLink);
  fs.mkdirSync(path.dirname(kubectlLink), { recursive: true });
  fs.rmSync(kubectlLink, { force: true });
  fs.symlinkSync(path.join(binDir, 'kubectl'), kubectlLink);
  process.stderr.write(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  process.stdout.write(`${summary(tb)}\n`);
}

async function flannel(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'net-conf': { type: 'string' },
      namespace: { type: 'string' },
      name: { type: 'string' },
      canal: { type: 'boolean' },
      'annotation-prefix': { type: 'string' },
      'no-ip-masq': { type: 'boolean' },
      mtu: { type: 'string' },
    },
    strict: true,
  });
  let netConf: Record<string, unknown> | undefined;
  if (values['net-conf']) {
    try {
      netConf = JSON.parse(fs.readFileSync(values['net-conf'], 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`--net-conf ${values['net-conf']}: ${(err as Error).message}`);
    }
  }
  const result = await installFlannel(attachTestbed(NAME), {
    netConf,
    namespace: values.namespace,
    name: values.name,
    canal: values.canal,
    annotationPrefix: values['annotation-prefix'],
    ipMasq: values['no-ip-masq'] ? false : undefined,
    mtu: integer(values.mtu, '--mtu'),
  });
  process.stdout.write(
    `${values.canal ? 'Canal' : 'flannel'} DaemonSet ${result.namespace}/${result.daemonSet} ` +
      `ready; flannel annotations (${result.annotationPrefix}/…) written on ${Object.keys(result.annotations).length} ` +
      `nodes\n`,
  );
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'up':
        await up(rest);
        return 0;
      case 'flannel':
        await flannel(rest);
        return 0;
      case 'workloads':
        await installWorkloads(attachTestbed(NAME));
        process.stdout.write('workloads in namespaces apps and kube-system are available\n');
        return 0;
      case 'calico-crds': {
        const names = await installCalicoCrds(attachTestbed(NAME));
        process.stdout.write(`${names.length} Calico CRDs established\n`);
        return 0;
      }
      case 'down': {
        const pids = clusterPids(NAME);
        await deleteCluster(NAME);
        fs.rmSync(kubeconfigLink, { force: true });
        process.stdout.write(`test bed ${NAME} removed (${pids.length} processes stopped)\n`);
        return 0;
      }
      default:
        throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
    }
  } catch (err) {
    const usage = err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`error: ${(err as Error).message}\n`);
    if (usage) process.stderr.write(`${USAGE}\n`);
    return usage ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
