// Preflight checks about this machine and the installation itself (besides the
// hardware and ports in preflight.ts): systemd, the service user, whether the
// service user can reach the program, and feeds that would send identifiers in clear.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { SERVICE_USER, type InstallLayout } from './install-layout.js';
import type { PreflightCheck } from './preflight.js';

export interface SystemdState {
  running: boolean;
  detail: string;
}

/** systemd is PID 1 (it creates /run/systemd/system) and systemctl answers. */
export function probeSystemd(): SystemdState {
  if (!existsSync('/run/systemd/system')) return { running: false, detail: 'systemd is not running here (no /run/systemd/system: a container or chroot?)' };
  try {
    const version = execFileSync('systemctl', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0] ?? '';
    return { running: true, detail: version.trim() };
  } catch (error) {
    return { running: false, detail: `systemctl does not work: ${(error as Error).message.split('\n')[0]}` };
  }
}

/** Whether the service user exists: `getent passwd` on the real system, the root's etc/passwd under --root. */
export function serviceUserExists(root: string, onSystem: boolean): boolean {
  if (onSystem) {
    try {
      execFileSync('getent', ['passwd', SERVICE_USER], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }
  const passwd = join(root, 'etc/passwd');
  return existsSync(passwd) && readFileSync(passwd, 'utf8').split('\n').some((line) => line.startsWith(`${SERVICE_USER}:`));
}

/**
 * The first directory on the way to programDir (within root) that other users
 * cannot search: the service user could not read the program through it.
 */
export function unreachableAncestor(root: string, programDir: string): string | undefined {
  const chain: string[] = [];
  for (let dir = programDir; relative(root, dir) !== '' && !relative(root, dir).startsWith('..'); dir = dirname(dir)) chain.unshift(dir);
  if (root === '/') chain.unshift('/');
  for (const dir of chain) {
    if (!existsSync(dir)) return undefined; // created 0755 by the installer
    if ((statSync(dir).mode & 0o001) === 0) return dir;
  }
  return undefined;
}

export function installChecks(o: {
  layout: InstallLayout;
  onSystem: boolean;
  noSystemctl: boolean;
  packageRoot: string;
  feeds: readonly { name: string; streams: readonly string[]; policy?: 'proposed' | 'none' }[];
  systemd?: SystemdState;
}): PreflightCheck[] {
  const checks: PreflightCheck[] = [];
  if (o.onSystem) {
    const systemd = o.systemd ?? probeSystemd();
    if (systemd.running) checks.push({ name: 'systemd', status: 'pass', detail: systemd.detail });
    else if (o.noSystemctl) checks.push({ name: 'systemd', status: 'warn', detail: `${systemd.detail}; --no-systemctl: the unit is written, not started` });
    else checks.push({ name: 'systemd', status: 'fail', detail: `${systemd.detail}: the service cannot be started; install with --no-systemctl to only write the unit` });
  }
  const blocked = unreachableAncestor(o.layout.root, o.layout.programDir);
  checks.push(
    blocked
      ? { name: 'program path', status: 'fail', detail: `${blocked} (mode ${(statSync(blocked).mode & 0o777).toString(8)}) stops the ${SERVICE_USER} user reaching ${o.layout.programDir}: chmod o+x it` }
      : { name: 'program path', status: 'pass', detail: `${o.layout.programDir} reachable by ${SERVICE_USER}` },
  );
  const missing = ['dist/cli/wardline.js', 'node_modules/better-sqlite3/package.json', 'package.json'].filter((p) => !existsSync(join(o.packageRoot, p)));
  checks.push(
    missing.length > 0
      ? { name: 'package', status: 'fail', detail: `${o.packageRoot} lacks ${missing.join(', ')}: install from a built package (npm run package) or run npm run build` }
      : { name: 'package', status: 'pass', detail: o.packageRoot },
  );
  // A feed without the proposed policy: until one is added, pseudonym keys exist that nothing uses.
  for (const feed of o.feeds) {
    if (feed.policy === 'proposed') {
      checks.push({ name: `feed ${feed.name}`, status: 'pass', detail: `proposed policy: identifiers in ${feed.streams.join(', ')} (PID-3 and other ids hashed, name, phones and national id masked, birth date to the year) leave as pseudonyms or masked` });
      continue;
    }
    checks.push({ name: `feed ${feed.name}`, status: 'warn', detail: `no policy: ${feed.streams.join(', ')} leave${feed.streams.length === 1 ? 's' : ''} as received, identifiers (MRN, names, phone numbers) in clear; add feeds[].policy to agent.yaml (README: Policies)` });
  }
  return checks;
}
