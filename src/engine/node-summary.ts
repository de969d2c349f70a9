import { STEP_TITLES, type NodeStep } from './events.js';

/**
 * The one Normal Event a node gets when it finishes (`Migrated` or `Reverted`): every step this run did, in order,
 * with its duration. Steps an earlier run already recorded as done are not listed (that run's audit log times them).
 */
export const NODE_SUMMARY_REASONS = { migrate: 'Migrated', revert: 'Reverted' } as const;

const SUMMARY_OPENINGS = { migrate: 'migrated to Calico', revert: 'reverted to flannel' } as const;

export interface StepDuration {
  step: NodeStep;
  ms: number;
}

const seconds = (ms: number) => `${(Math.max(0, ms) / 1000).toFixed(1)} s`;

/** `migrated to Calico in 15.1 s: cordon 0.1 s, drain 6.1 s, …` */
export function nodeSummaryMessage(operation: 'migrate' | 'revert', totalMs: number, steps: StepDuration[]): string {
  const listed = steps.map((s) => `${STEP_TITLES[s.step]} ${seconds(s.ms)}`).join(', ');
  return `${SUMMARY_OPENINGS[operation]} in ${seconds(totalMs)}: ${listed}`;
}

/** The steps and durations of a summary Event's message (ms to the tenth of a second); undefined if it is not one. */
export function parseNodeSummary(
  operation: 'migrate' | 'revert',
  steps: readonly NodeStep[],
  message: string,
): { totalMs: number; steps: StepDuration[] } | undefined {
  const head = new RegExp(`^${SUMMARY_OPENINGS[operation]} in (\\d+(?:\\.\\d+)?) s: `).exec(message);
  if (!head) return undefined;
  let rest = message.slice(head[0].length);
  const parsed: StepDuration[] = [];
  // Titles hold spaces and parentheses, so each item is matched against the known titles rather than split.
  while (rest) {
    const match = steps
      .map((step) => ({
        step,
        found: new RegExp(`^${escape(STEP_TITLES[step])} (\\d+(?:\\.\\d+)?) s(, |$)`).exec(rest),
      }))
      .find((m) => m.found);
    if (!match?.found) return undefined;
    parsed.push({ step: match.step, ms: Math.round(Number(match.found[1]) * 1000) });
    rest = rest.slice(match.found[0].length);
  }
  return { totalMs: Math.round(Number(head[1]) * 1000), steps: parsed };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
