// What several migration suites set up the same way: the workload that must survive the migration,
// and a CLI run in the background that can be killed once its output reaches a point.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { kubectlOk, repoRoot, waitForDeployment, type Testbed } from '../testbed/harness.js';

/** Deployment default/web (nginx) with `replicas` pods, and a PodDisruptionBudget that lets one go at a time. */
export function webWorkload(replicas: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: default}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}
`;
}

/** Applies webWorkload(replicas), followed by `more` manifests, and waits until web is fully available. */
export async function deployWebWorkload(tb: Testbed, replicas: number, more = ''): Promise<void> {
  kubectlOk(tb, ['apply', '-f', '-'], more ? `${webWorkload(replicas)}---\n${more}` : webWorkload(replicas));
  await waitForDeployment(tb, 'default', 'web');
}

export interface BackgroundRun {
  /** Whether the run was killed at `killAt`. */
  killed: boolean;
  status: number | null;
  stdout: string;
  /** stdout and stderr, interleaved as they came. */
  output: string;
}

/** Runs the CLI in the background; kills it with SIGKILL once its output matches `killAt`. */
export function runCliInBackground(tb: Testbed, args: string[], opts: { killAt?: RegExp; kubeconfig?: string } = {}): Promise<BackgroundRun> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/flannel2calico.js'), '--kubeconfig', opts.kubeconfig ?? tb.kubeconfig, ...args], {
    cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  let killed = false;
  const onData = (d: Buffer) => {
    output += d;
    if (opts.killAt && !killed && opts.killAt.test(output)) {
      killed = true;
      child.kill('SIGKILL');
    }
  };
  child.stdout.on('data', (d: Buffer) => { stdout += d; onData(d); });
  child.stderr.on('data', onData);
  return new Promise((resolve) => child.on('close', (status) => resolve({ killed, status, stdout, output })));
}
