import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';
import { ClusterError } from './errors.js';

export interface KubeconfigOptions {
  kubeconfig?: string;
  context?: string;
}

function kubeconfigPaths(explicit?: string): string[] {
  if (explicit) return [explicit];
  const env = process.env.KUBECONFIG;
  if (env) return env.split(path.delimiter).filter(Boolean);
  return [path.join(os.homedir(), '.kube', 'config')];
}

const WHICH_FILE = 'Pass --kubeconfig FILE or set KUBECONFIG to the admin kubeconfig of the cluster to migrate.';

/**
 * Reads and checks the shape of one kubeconfig file, so that client-node never sees a file it would fail on obscurely.
 */
function checkFile(file: string): void {
  let text: string;
  try {
    if (fs.statSync(file).isDirectory())
      throw new ClusterError('kubeconfig', `kubeconfig ${file} is a directory, not a file`, WHICH_FILE);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ClusterError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'is not readable (permission denied)'
          : `cannot be read (${code})`;
    throw new ClusterError('kubeconfig', `kubeconfig file ${file} ${why}`, WHICH_FILE);
  }
  if (!text.trim())
    throw new ClusterError(
      'kubeconfig',
      `kubeconfig ${file} is empty`,
      `${WHICH_FILE} (kubectl config view --raw shows a working one).`,
    );
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    const where = (err as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
    throw new ClusterError(
      'kubeconfig',
      `kubeconfig ${file} is not valid YAML${where ? ` (line ${where.line}, column ${where.col})` : ''}`,
      `Fix the file or pass another one; \`kubectl config view --kubeconfig ${file}\` shows what is wrong.`,
    );
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ClusterError(
      'kubeconfig',
      `kubeconfig ${file} is not a kubeconfig (expected a YAML mapping with clusters, users and contexts)`,
      WHICH_FILE,
    );
  }
  for (const field of ['clusters', 'contexts', 'users']) {
    const value = (doc as Record<string, unknown>)[field];
    if (value !== undefined && value !== null && !Array.isArray(value)) {
      throw new ClusterError(
        'kubeconfig',
        `kubeconfig ${file} is not a kubeconfig: "${field}" must be a list`,
        WHICH_FILE,
      );
    }
  }
}

/** Loads --kubeconfig, else $KUBECONFIG (merged), else ~/.kube/config; applies and validates --context. */
export function loadKubeConfig(opts: KubeconfigOptions): KubeConfig {
  const kc = new KubeConfig();
  const files = kubeconfigPaths(opts.kubeconfig);
  const existing = opts.kubeconfig ? files : files.filter((f) => fs.existsSync(f));
  if (existing.length === 0) {
    throw new ClusterError(
      'kubeconfig',
      `no kubeconfig found (looked at ${files.join(', ')})`,
      'Pass --kubeconfig FILE or set KUBECONFIG to the admin kubeconfig of the cluster to migrate.',
    );
  }
  for (const file of existing) checkFile(file);
  try {
    if (existing.length === 1) {
      kc.loadFromFile(existing[0]);
    } else {
      const saved = process.env.KUBECONFIG;
      process.env.KUBECONFIG = existing.join(path.delimiter);
      try {
        kc.loadFromDefault();
      } finally {
        process.env.KUBECONFIG = saved;
      }
    }
  } catch (err) {
    throw new ClusterError(
      'kubeconfig',
      `kubeconfig ${existing.join(', ')} is malformed: ${(err as Error).message.split('\n')[0]}`,
      'Check the file with `kubectl config view`.',
      undefined,
      (err as Error).stack,
    );
  }
  if (kc.getContexts().length === 0 || kc.getClusters().length === 0) {
    throw new ClusterError(
      'kubeconfig',
      `kubeconfig ${existing.join(', ')} defines no ` +
        `${kc.getContexts().length === 0 ? 'contexts' : 'clusters'}, so it names no cluster to ` +
        `connect to`,
      `${WHICH_FILE} (a kubeconfig needs a cluster, a user and a context joining them; kubectl ` +
        `config view shows them).`,
    );
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      throw new ClusterError(
        'kubeconfig',
        `context "${opts.context}" not found in the kubeconfig; known contexts: ${kc
          .getContexts()
          .map((c) => c.name)
          .join(', ')}`,
        'Pick one of the known contexts with --context.',
      );
    }
    kc.setCurrentContext(opts.context);
  }
  const known = kc
    .getContexts()
    .map((c) => c.name)
    .join(', ');
  if (!kc.getCurrentContext()) {
    throw new ClusterError(
      'kubeconfig',
      `kubeconfig ${existing.join(', ')} sets no current-context, so it does not say which cluster to use`,
      `Pass --context with one of: ${known} (or set one: kubectl config use-context NAME).`,
    );
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  if (!context) {
    throw new ClusterError(
      'kubeconfig',
      `the kubeconfig's current-context "${kc.getCurrentContext()}" is not one of its contexts`,
      `Pass --context with one of: ${known} (or fix it: kubectl config use-context NAME).`,
    );
  }
  if (!kc.getCurrentCluster()) {
    throw new ClusterError(
      'kubeconfig',
      `context "${context.name}" names cluster "${context.cluster}", which the kubeconfig does not define`,
      'Fix the kubeconfig (kubectl config view).',
    );
  }
  return kc;
}
