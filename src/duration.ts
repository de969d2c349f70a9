/** Durations as the operator writes them on the command line: 90s, 5m, 1h, or bare seconds. */

/** Seconds from "90s", "5m", "1h" or "300"; undefined when `text` is none of those. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)(s|m|h)?$/.exec(String(text).trim());
  if (!m) return undefined;
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}

/**
 * `seconds` in the largest unit that divides it ("1h", "10m", "90s"), as parseDuration reads it; 0 or less is "no
 * limit".
 */
export function formatDuration(seconds: number): string {
  if (seconds <= 0) return 'no limit';
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
