/**
 * The commands a container image really holds, reproduced on this machine as a directory of
 * symlinks, so that a host script can run with `env -i PATH=<dir>` and nothing else.
 *
 * calico/node v3.32.1 ends its build with Calico's node/clean-up-filesystem.sh, which deletes every
 * file under /sbin, /usr/bin, /usr/sbin and /usr/local/bin whose path matches none of the patterns
 * below (its bin_allow_list_patterns, verbatim), and its RPM keep-list drops gawk. Its /bin/sh is
 * bash. (research: helper-image.md)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CALICO_NODE_ALLOW_PATTERNS = [
  'calico',
  'bird',
  'versions',
  'runit',
  'runsv',
  'sv',
  'utmpset',
  '/arp$',
  '/conntrack$',
  '/ip$',
  'bpftool',
  'xtables',
  'iptables',
  'ip6tables',
  'ipset',
  'nftables',
  'nft',
  'kmod',
  'depmod',
  'insmod',
  'modinfo',
  'modprobe',
  'rmmod',
  'lsmod',
  '\\[',
  'alias',
  'basename',
  'coreutils',
  '/bash$',
  '/sh$',
  '/cat$',
  '/cd$',
  '/cp$',
  '/ln$',
  '/date$',
  '/ls$',
  'echo',
  '/env$',
  'false',
  'true',
  'getopt',
  '/hostname$',
  '/gzip$',
  '/grep$',
  '/nice$',
  'join',
  '/kill$',
  'mkdir',
  'mknod',
  'more',
  'less',
  'printf',
  '/read$',
  'readlink',
  '/rm$',
  '/sed$',
  'sleep',
  'sort',
  '/stat$',
  'tail',
  '/tc$',
  'touch',
  '/tee$',
  'timeout',
  '/test$',
  'ulimit',
  'uniq',
  '/wait$',
  'which',
  'whoami',
  'yes',
  'zcat',
  'zless',
  'zmore',
  'mountns',
  '/find$',
  '/ldd$',
  '/ldconfig$',
];

/** Packages Calico's RPM keep-list removes although a pattern above would keep a file of theirs. */
const CALICO_NODE_REMOVED = new Set(['awk', 'gawk', 'mawk', 'nawk']);

const SEARCH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export interface CommandSetOptions {
  /** Commands to leave out (an image that lacks them). */
  without?: string[];
  /** Commands to replace by a shell script with this text (an image whose command misbehaves). */
  replace?: Record<string, string>;
  /** Where to make the directory; a new temporary one by default. */
  dir?: string;
}

/** The names of the commands calico/node v3.32.1 keeps, among those this machine has. */
export function calicoNodeCommands(): string[] {
  const patterns = CALICO_NODE_ALLOW_PATTERNS.map((p) => new RegExp(p));
  const names = new Set<string>();
  for (const dir of SEARCH_DIRS) {
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of entries) {
      // The image's tree is /usr/bin and /usr/sbin (the others are links or empty there).
      const kept = patterns.some((p) => p.test(`/usr/bin/${name}`) || p.test(`/usr/sbin/${name}`));
      if (kept && !CALICO_NODE_REMOVED.has(name)) names.add(name);
    }
  }
  return [...names].sort();
}

function resolveCommand(name: string): string | undefined {
  for (const dir of SEARCH_DIRS) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return fs.realpathSync(candidate);
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/**
 * A directory holding exactly the commands of calico/node v3.32.1 that this machine has (symlinks),
 * with `sh` pointing at bash as in the image. Use it as the only PATH entry of `env -i`.
 */
export function calicoNodeCommandDir(options: CommandSetOptions = {}): string {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'f2c-image-'));
  fs.mkdirSync(dir, { recursive: true });
  const without = new Set(options.without ?? []);
  for (const name of calicoNodeCommands()) {
    if (without.has(name) || name === 'sh') continue;
    const target = resolveCommand(name);
    if (target) fs.symlinkSync(target, path.join(dir, name));
  }
  const bash = resolveCommand('bash');
  if (!bash) throw new Error('bash is needed to reproduce the calico/node image (its /bin/sh is bash)');
  if (!without.has('sh')) fs.symlinkSync(bash, path.join(dir, 'sh'));
  for (const [name, text] of Object.entries(options.replace ?? {})) {
    fs.rmSync(path.join(dir, name), { force: true });
    fs.writeFileSync(path.join(dir, name), `#!${bash}\n${text}\n`, { mode: 0o755 });
  }
  return dir;
}
