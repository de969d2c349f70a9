import type { ChalkInstance } from 'chalk';
import type { Finding } from '../finding.js';

/** What a finding is about: a check's title, else the node it names. */
function subject(f: Finding & { title?: string }): string {
  return f.title ? `${f.title}: ` : f.node ? `${f.node}: ` : '';
}

/** A failed check or finding, for stderr: "✘ <title or node>: <message>" and its fix on the next line. */
export function failureText(c: ChalkInstance, f: Finding & { title?: string }): string {
  return `${c.red('✘')} ${subject(f)}${f.message}${f.fix ? `\n    fix: ${f.fix}` : ''}`;
}

/** A warning finding, for stderr: "! <title or node>: <message>". */
export function warningText(c: ChalkInstance, f: Finding & { title?: string }): string {
  return `${c.yellow('!')} ${subject(f)}${f.message}`;
}
