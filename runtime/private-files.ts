// The data both programs keep (agent.db: the hospital's patient records; relay.db:
// every tenant's events, vendor cursors, enrolment tokens) is for the service
// account alone, however the process was started: by the installer's unit, or by
// hand in a shell whose umask is 022. Directories are made 0700 and database files
// 0600 explicitly, so no umask decides; SQLite creates a database's -wal and -shm
// files with the database file's own mode, so a 0600 agent.db keeps them 0600 too.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';

/** Mode of a directory the programs create for their data. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of a data or secret file the programs write. */
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` and any missing parents 0700. An existing directory is left as the operator set it (see openDirWarning). */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * A warning when existing directory `dir` lets group or others in (an earlier
 * version made data directories 0755); undefined when it is private or absent.
 * Not narrowed by the programs: the operator may have pointed dataDir at a
 * directory others must reach.
 */
export function openDirWarning(dir: string, key: string): string | undefined {
  const mode = groupOrOtherMode(dir);
  if (mode === undefined) return undefined;
  return `${key} ${JSON.stringify(dir)} is mode ${octalMode(mode)}: other users can list it; run chmod 700 ${dir} (its database files are 0600)`;
}

/**
 * The permission bits of `path` when group or others have any access to it;
 * undefined when only its owner has, when it cannot be stat'ed, or on Windows,
 * where modes do not say who can read a file.
 */
export function groupOrOtherMode(path: string): number | undefined {
  if (process.platform === 'win32') return undefined;
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return undefined;
  }
  return (mode & 0o077) === 0 ? undefined : mode;
}

/** Mode bits as the four octal digits chmod takes (0644). */
export function octalMode(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

/** The files SQLite keeps for database `file` in WAL mode. */
export function sqliteFiles(file: string): string[] {
  return [file, `${file}-wal`, `${file}-shm`];
}

/**
 * Before SQLite opens `file`: creates it empty (a valid empty database) with mode
 * 0600 when missing, and narrows it and its -wal and -shm to 0600 when an earlier
 * run left them readable by others.
 */
export function preparePrivateSqliteFile(file: string): void {
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  narrowToPrivate(sqliteFiles(file));
}

/** Sets each existing file that group or others can access to 0600; missing files are skipped. */
export function narrowToPrivate(files: readonly string[]): void {
  if (process.platform === 'win32') return;
  for (const file of files) {
    try {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, PRIVATE_FILE_MODE);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
