import ora, { type Ora } from 'ora';
import { STEP_TITLES, type EngineEvent } from '../engine/events.js';
import { canAnimate, type CommandContext } from './context.js';

/** ora colours its frames and symbols by itself, ignoring NO_COLOR and --no-color: follow ours. */
function spinnerColour(ctx: CommandContext): 'cyan' | false {
  return ctx.chalk.level > 0 ? 'cyan' : false;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Renders engine events on stderr: on a terminal, one spinner line per node step with the elapsed
 * time and what it waits for; otherwise plain timestamped lines (CI logs).
 */
export function makeProgress(ctx: CommandContext): { onEvent: (e: EngineEvent) => void; stop: () => void } {
  const c = ctx.chalk;
  const spinners = new Map<string, { spinner: Ora; started: number; title: string }>();
  const tty = canAnimate(ctx.stderr as NodeJS.WriteStream, ctx.opts.output);
  const plain = (line: string) => ctx.log(`${new Date().toISOString().slice(11, 19)} ${line}`);
  const timer = tty
    ? setInterval(() => {
        for (const s of spinners.values()) s.spinner.suffixText = c.dim(seconds(Date.now() - s.started));
      }, 500)
    : undefined;
  timer?.unref();

  const onEvent = (e: EngineEvent) => {
    if ((e.type === 'step-start' || e.type === 'step-done') && e.step === 'done') return;
    switch (e.type) {
      case 'phase':
        return tty ? ctx.log(c.bold(`» ${e.message}`)) : plain(`» ${e.message}`);
      case 'batch-start':
        return tty
          ? ctx.log(c.bold(`Batch ${e.index}/${e.total}: ${e.nodes.join(', ')}`))
          : plain(`batch ${e.index}/${e.total}: ${e.nodes.join(', ')}`);
      case 'step-start': {
        const title = `${e.node}: ${STEP_TITLES[e.step]}`;
        if (tty)
          spinners.set(e.node, {
            spinner: ora({ text: title, stream: ctx.stderr as NodeJS.WriteStream, color: spinnerColour(ctx) }).start(),
            started: Date.now(),
            title,
          });
        else plain(`${title} ...`);
        return;
      }
      case 'step-wait': {
        const s = spinners.get(e.node);
        if (s) s.spinner.text = `${s.title} — ${c.dim(e.message)}`;
        else plain(`${e.node}: ${e.message}`);
        return;
      }
      case 'step-done': {
        const s = spinners.get(e.node);
        if (s) {
          s.spinner.suffixText = '';
          s.spinner.stopAndPersist({ symbol: c.green('✔'), text: `${s.title} ${c.dim(seconds(e.elapsedMs))}` });
          spinners.delete(e.node);
        } else plain(`${e.node}: ${STEP_TITLES[e.step]} done (${seconds(e.elapsedMs)})`);
        return;
      }
      case 'node-failed': {
        const s = spinners.get(e.node);
        if (s) {
          s.spinner.stopAndPersist({ symbol: c.red('✘'), text: `${s.title}: ${c.red(e.message)}` });
          spinners.delete(e.node);
        } else plain(`${e.node}: ${STEP_TITLES[e.step]} FAILED: ${e.message}`);
        return;
      }
      case 'node-done':
        return e.network === 'flannel'
          ? tty
            ? ctx.log(c.green(`✔ ${e.node} runs flannel again (${seconds(e.elapsedMs)})`))
            : plain(`${e.node}: reverted in ${seconds(e.elapsedMs)}`)
          : tty
            ? ctx.log(c.green(`✔ ${e.node} runs Calico (${seconds(e.elapsedMs)})`))
            : plain(`${e.node}: migrated in ${seconds(e.elapsedMs)}`);
      case 'warning':
        return tty ? ctx.log(c.yellow(`! ${e.message}`)) : plain(`warning: ${e.message}`);
      case 'info':
        return tty ? ctx.log(c.dim(e.message)) : plain(e.message);
    }
  };
  return {
    onEvent,
    stop: () => {
      if (timer) clearInterval(timer);
      for (const s of spinners.values()) s.spinner.stop();
      spinners.clear();
    },
  };
}

const PLURALS: Record<string, string> = {
  PodDisruptionBudget: 'PodDisruptionBudgets',
  Node: 'Nodes',
  Pod: 'Pods',
  DaemonSet: 'DaemonSets',
};

/**
 * Shows how far reading the cluster has got (detect, plan): on a terminal one spinner line with the
 * objects read so far; otherwise a line for each kind that took more than one page.
 */
export function makeReadProgress(ctx: CommandContext, title: string): { stop: () => void } {
  const counts = new Map<string, number>();
  const pages = new Map<string, number>();
  const started = Date.now();
  // The context's one progress line (the spinner `connect()` started) shows the counts.
  const tty = ctx.showProgress(title);
  const describe = () =>
    [...counts.entries()]
      .filter(([, n]) => n > 0)
      .map(([kind, n]) => `${n} ${PLURALS[kind] ?? kind}`)
      .join(', ');
  ctx.onListPage = (kind, itemsSoFar, done) => {
    counts.set(kind, itemsSoFar);
    pages.set(kind, (pages.get(kind) ?? 0) + 1);
    if (tty) ctx.showProgress(`${title}: ${describe()}`);
    else if (ctx.opts.output === 'text' && pages.get(kind)! > 1 && (done || pages.get(kind)! % 10 === 0)) {
      ctx.log(
        `${new Date().toISOString().slice(11, 19)} read ${itemsSoFar} ${PLURALS[kind] ?? kind}${done ? '' : ' so far'}`,
      );
    }
  };
  return {
    stop: () => {
      ctx.onListPage = undefined;
      if (!tty) return;
      // A one-line note of what was read stays on the terminal; the spinner line goes.
      const summary = describe();
      const worthNoting = summary && (Date.now() - started > 1000 || [...pages.values()].some((n) => n > 1));
      ctx.stopProgress(worthNoting ? ctx.chalk.dim(`read ${summary} in ${seconds(Date.now() - started)}`) : undefined);
    },
  };
}
