import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
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

function readable(file: string): void {
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : `cannot be read (${code})`;
    throw new ClusterError('kubeconfig', `kubeconfig file ${file} ${why}`,
      'Pass --kubeconfig FILE or set KUBECONFIG to the admin kubeconfig of the cluster to migrate.');
  }
}

/** Loads --kubeconfig, else $KUBECONFIG (merged), else ~/.kube/config; applies and validates --context. */
export function loadKubeConfig(opts: KubeconfigOptions): KubeConfig {
  const kc = new KubeConfig();
  const files = kubeconfigPaths(opts.kubeconfig);
  const existing = opts.kubeconfig ? files : files.filter((f) => fs.existsSync(f));
  if (existing.length === 0) {
    throw new ClusterError('kubeconfig', `no kubeconfig found (looked at ${files.join(', ')})`,
      'Pass --kubeconfig FILE or set KUBECONFIG to the admin kubeconfig of the cluster to migrate.');
  }
  for (const file of existing) readable(file);
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
    throw new ClusterError('kubeconfig', `kubeconfig ${existing.join(', ')} is malformed: ${(err as Error).message.split('\n')[0]}`,
      'Check the file with `kubectl config view`.', undefined, (err as Error).stack);
  }
  if (kc.getContexts().length === 0 || kc.getClusters().length === 0) {
    throw new ClusterError('kubeconfig', `kubeconfig ${existing.join(', ')} defines no contexts or clusters`,
      'Check the file with `kubectl config view`.');
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      const known = kc.getContexts().map((c) => c.name).join(', ');
      throw new ClusterError('kubeconfig', `context "${opts.context}" not found in the kubeconfig; known contexts: ${known}`,
        'Pick one of the known contexts with --context.');
    }
    kc.setCurrentContext(opts.context);
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  if (!context) {
    throw new ClusterError('kubeconfig', `the kubeconfig's current-context "${kc.getCurrentContext()}" does not exist`,
      `Pass --context with one of: ${kc.getContexts().map((c) => c.name).join(', ')}.`);
  }
  if (!kc.getCurrentCluster()) {
    throw new ClusterError('kubeconfig', `context "${context.name}" names cluster "${context.cluster}", which the kubeconfig does not define`,
      'Fix the kubeconfig (kubectl config view).');
  }
  return kc;
}
