// The installed program: a self-contained copy of the package under
// /opt/wardline/<version> (dist, package.json, the protocol files and the
// production node_modules with the built better-sqlite3 module), switched in by
// renaming a new `current` symlink over the old one, so the service never runs
// from a clone that PrivateTmp/ProtectHome hide and never sees half a program.
// The version it replaces stays as `previous` for a rollback.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** What a program copy holds besides node_modules, relative to the package root. */
export const PROGRAM_PARTS = ['dist', 'package.json', 'protocol/wardline'] as const;

/**
 * Parts of an installed better-sqlite3 the running agent does not load: the
 * SQLite sources and the compiler's objects (about 25 MB); only
 * build/Release/better_sqlite3.node and lib/ are needed.
 */
const NATIVE_BUILD_LEFTOVERS = ['deps', 'src', 'build/Release/obj', 'build/Release/obj.target', 'build/Release/.deps', 'build/Release/sqlite3.a', 'build/Release/test_extension.node', 'build/deps'];

/**
 * The node_modules paths a production install needs: package-lock.json's
 * packages without `dev: true`. Undefined when there is no lock (an unpacked
 * offline package ships production node_modules only, so all of it is needed).
 */
export function productionPackagePaths(packageRoot: string): Set<string> | undefined {
  const lockFile = join(packageRoot, 'package-lock.json');
  if (!existsSync(lockFile)) return undefined;
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as { packages?: Record<string, { dev?: boolean }> };
  return new Set(Object.entries(lock.packages ?? {}).filter(([path, entry]) => path.startsWith('node_modules/') && entry.dev !== true).map(([path]) => path));
}

/** The package directory a node_modules path belongs to ("node_modules/a/node_modules/@s/b/lib/x.js" -> "node_modules/a/node_modules/@s/b"). */
function owningPackage(path: string): string | undefined {
  const parts = path.split('/');
  let end = -1;
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] !== 'node_modules' || i + 1 >= parts.length) continue;
    end = parts[i + 1]!.startsWith('@') ? i + 2 : i + 1;
    if (end >= parts.length) return undefined; // a scope directory itself
  }
  return end < 0 ? undefined : parts.slice(0, end + 1).join('/');
}

/** Copies the program from packageRoot into dest (which must not exist). */
export function copyProgram(packageRoot: string, dest: string): void {
  mkdirSync(dest, { recursive: true, mode: 0o755 });
  for (const part of PROGRAM_PARTS) cpSync(join(packageRoot, part), join(dest, part), { recursive: true, dereference: true });
  const production = productionPackagePaths(packageRoot);
  const modules = join(packageRoot, 'node_modules');
  cpSync(modules, join(dest, 'node_modules'), {
    recursive: true,
    dereference: true,
    filter: (source) => {
      const path = ['node_modules', relative(modules, source)].filter(Boolean).join('/').split(sep).join('/');
      if (path === 'node_modules') return true;
      if (path === 'node_modules/.bin' || path === 'node_modules/.package-lock.json' || path.endsWith('/node_modules/.bin')) return false;
      const pkg = owningPackage(path);
      if (pkg === undefined) return true; // node_modules/@scope: its packages decide
      if (production && !production.has(pkg)) return false;
      const inside = path.slice(pkg.length + 1);
      return !(pkg.endsWith('/better-sqlite3') && NATIVE_BUILD_LEFTOVERS.some((p) => inside === p || inside.startsWith(`${p}/`)));
    },
  });
  // Scope directories whose packages were all development ones are left empty by the filter.
  for (const entry of readdirSync(join(dest, 'node_modules'))) {
    const scope = join(dest, 'node_modules', entry);
    if (entry.startsWith('@') && readdirSync(scope).length === 0) rmSync(scope, { recursive: true });
  }
}

export interface ProgramSwitch {
  versionDir: string;
  /** The version `current` pointed at before, now `previous`; undefined on a first install or the same version again. */
  previous?: string;
  /** Version directories deleted (older than previous). */
  pruned: string[];
}

const linkTarget = (link: string): string | undefined => {
  try {
    return readlinkSync(link);
  } catch {
    return undefined;
  }
};

/** Points `link` at `target` (relative) with one rename(2): a reader sees the old or the new link, never none. */
export function switchSymlink(link: string, target: string): void {
  const temp = `${link}.new-${process.pid}`;
  rmSync(temp, { force: true });
  symlinkSync(target, temp, 'dir');
  renameSync(temp, link);
}

/**
 * Installs version under programDir: copies into a staging directory, checks the
 * native module loads with nodePath, renames it to <version>, switches current,
 * keeps the old target as previous and deletes older versions.
 */
export function installProgram(o: { programDir: string; packageRoot: string; version: string; nodePath: string }): ProgramSwitch {
  const versionDir = join(o.programDir, o.version);
  const current = join(o.programDir, 'current');
  const previousLink = join(o.programDir, 'previous');
  const before = linkTarget(current);
  const inPlace = existsSync(versionDir) && realpathSync(versionDir) === realpathSync(o.packageRoot);
  if (!inPlace) {
    const staging = join(o.programDir, `.incoming-${o.version}-${process.pid}`);
    rmSync(staging, { recursive: true, force: true });
    try {
      copyProgram(o.packageRoot, staging);
      // The copy must run on this node: a native module built for another ABI fails here, before anything is switched.
      execFileSync(o.nodePath, ['-e', `const D = require(${JSON.stringify(join(staging, 'node_modules/better-sqlite3'))}); new D(':memory:').close()`], { stdio: 'pipe' });
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      throw error;
    }
    const replaced = `${versionDir}.replaced-${process.pid}`;
    if (existsSync(versionDir)) renameSync(versionDir, replaced);
    renameSync(staging, versionDir);
    rmSync(replaced, { recursive: true, force: true });
  }
  switchSymlink(current, o.version);
  const previous = before !== undefined && before !== o.version && existsSync(join(o.programDir, before)) ? before : undefined;
  if (previous) switchSymlink(previousLink, previous);
  const keep = new Set([o.version, previous ?? linkTarget(previousLink)]);
  const pruned: string[] = [];
  for (const entry of readdirSync(o.programDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.') || keep.has(entry.name)) continue;
    rmSync(join(o.programDir, entry.name), { recursive: true, force: true });
    pruned.push(entry.name);
  }
  return { versionDir, ...(previous ? { previous } : {}), pruned };
}

/** Gives everyone read (and search on directories) under dir: the service user must read the program whatever umask the clone was made with. */
export function makeReadableByAll(dir: string): void {
  chmodSync(dir, statSync(dir).mode | 0o555);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) makeReadableByAll(path);
    else if (entry.isFile()) chmodSync(path, statSync(path).mode | 0o444);
  }
}
