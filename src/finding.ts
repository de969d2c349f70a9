/** How a checked condition came out: `fail` stops the migration; `warn` is shown and accepted. */
export type Level = 'pass' | 'warn' | 'fail';

/** One checked condition of the cluster: a check of detect, a finding of plan's preflight. */
export interface Finding {
  id: string;
  level: Level;
  message: string;
  /** What to do about a warn or fail. */
  fix?: string;
  /** The node the finding is about (preflight's per-node findings). */
  node?: string;
}
