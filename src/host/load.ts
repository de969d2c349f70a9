import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type HostScript = 'cleanup' | 'revert';

/**
 * The scripts ship as files in src/host (package.json "files"). This module runs from
 * dist/host/ once built and from src/host/ under ts-jest: both sit two levels below the package
 * root, so one relative URL finds the files from either place.
 */
export function hostScriptPath(name: HostScript | 'lib'): string {
  return fileURLToPath(new URL(`../../src/host/${name}.sh`, import.meta.url));
}

/**
 * The text a host Job runs with `sh -c`: the shared functions of lib.sh followed by the script.
 * (Run as a file instead, a script sources lib.sh from its own directory.)
 */
export function loadHostScript(name: HostScript): string {
  const lib = readFileSync(hostScriptPath('lib'), 'utf8');
  const script = readFileSync(hostScriptPath(name), 'utf8');
  return `${lib}\n${script}`;
}
