import YAML from 'yaml';
import type { ClusterClient } from '../../cluster/index.js';
import { LEASE_NAME, STATE_NAMESPACE } from '../../names.js';
import { buildStatus, readStatusSnapshot, type StatusDocument } from '../../engine/status.js';
import { labelSelector as selectorOf } from '../../k8s.js';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit.js';
import { renderNodeText, renderStatusText } from '../status-render.js';

// What `status` does when it runs: loaded only then, so that `status --help` does not load the Kubernetes client.

function print(ctx: CommandContext, doc: StatusDocument, options: Record<string, any>, watching: boolean): void {
  if (ctx.opts.output === 'json') {
    ctx.out(watching ? JSON.stringify(doc) : JSON.stringify(doc, null, 2));
    return;
  }
  if (ctx.opts.output === 'yaml') {
    ctx.out(`${watching ? '---\n' : ''}${YAML.stringify(doc)}`);
    return;
  }
  const text = options.node ? renderNodeText(doc, ctx.chalk) : renderStatusText(doc, ctx.chalk, { all: options.all === true });
  if (watching && ctx.stdout.isTTY) ctx.stdout.write('\x1b[2J\x1b[H');
  else if (watching) ctx.out(`--- ${doc.generatedAt}`);
  ctx.out(text);
}

async function read(client: ClusterClient, options: Record<string, any>): Promise<StatusDocument> {
  return buildStatus(await readStatusSnapshot(client, { node: options.node }));
}

/**
 * Redraws on every change the watches report (nodes, the Lease, flannel and calico-node pods), and
 * ends once a run has been seen active and its Lease is released or expires.
 */
async function watchStatus(ctx: CommandContext, options: Record<string, any>): Promise<number> {
  const client = ctx.client;
  const abort = new AbortController();
  let doc = await read(client, options);
  print(ctx, doc, options, true);
  let sawRun = doc.lock?.active === true;
  if (!sawRun) ctx.log('No run is active; watching until one starts and ends (Ctrl-C stops).');
  let timer: NodeJS.Timeout | undefined;
  let expiry: NodeJS.Timeout | undefined;
  let drawing = Promise.resolve();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => { finish = resolve; });

  const redraw = async () => {
    doc = await read(client, options);
    print(ctx, doc, options, true);
    if (doc.lock?.active) {
      sawRun = true;
      // A run that dies leaves its Lease to expire without any event: look again at the expiry.
      clearTimeout(expiry);
      const at = Date.parse(doc.lock.renewedAt ?? '') + 31_000 - Date.now();
      if (at > 0) expiry = setTimeout(schedule, at);
    } else if (sawRun) {
      abort.abort();
      finish();
    }
  };
  function schedule(): void {
    clearTimeout(timer);
    timer = setTimeout(() => { drawing = drawing.then(redraw).catch((err) => ctx.log(`warning: ${(err as Error).message}`)); }, 300);
  }
  const forever = 7 * 24 * 3600_000;
  const watch = (apiVersion: string, kind: string, opts: { namespace?: string; labelSelector?: string; fieldSelector?: string }) =>
    client.watchUntil(apiVersion, kind, { ...opts, timeoutMs: forever, signal: abort.signal }, () => {
      schedule();
      return false;
    });
  const watches = [
    watch('v1', 'Node', options.node ? { fieldSelector: `metadata.name=${options.node}` } : {}),
    watch('coordination.k8s.io/v1', 'Lease', { namespace: STATE_NAMESPACE, fieldSelector: `metadata.name=${LEASE_NAME}` }),
  ];
  const podWatch = async (name: string, namespace: string) => {
    const ds = await client.find({ apiVersion: 'apps/v1', kind: 'DaemonSet', name, namespace });
    const labelSelector = selectorOf(ds?.spec?.selector?.matchLabels);
    if (labelSelector) await watch('v1', 'Pod', { namespace, labelSelector });
  };
  if (doc.flannelDaemonSet) watches.push(podWatch(doc.flannelDaemonSet.name, doc.flannelDaemonSet.namespace).then(() => true));
  watches.push(client.find({ apiVersion: 'v1', kind: 'ConfigMap', name: 'flannel2calico-state', namespace: STATE_NAMESPACE })
    .then(async (cm) => {
      const record = cm?.data?.record ? JSON.parse(cm.data.record) : undefined;
      if (record?.calicoDaemonSet) await podWatch(record.calicoDaemonSet, 'kube-system');
      return true;
    }));
  const onSigint = () => { abort.abort(); finish(); };
  process.once('SIGINT', onSigint);
  const failed = Promise.all(watches).then(() => undefined, (err: Error) => err);
  const outcome = await Promise.race([finished.then(() => undefined), failed]);
  process.removeListener('SIGINT', onSigint);
  clearTimeout(timer);
  clearTimeout(expiry);
  abort.abort();
  if (outcome instanceof Error) throw outcome;
  await drawing;
  if (ctx.opts.output === 'text') ctx.log(sawRun ? 'The run ended.' : 'Stopped watching.');
  return ExitCode.ok;
}

export async function runStatus(ctx: CommandContext, options: Record<string, any>): Promise<number> {
  if (options.watch) return watchStatus(ctx, options);
  print(ctx, await read(ctx.client, options), options, false);
  return ExitCode.ok;
}
