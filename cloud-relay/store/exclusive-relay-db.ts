// relay.db opened so that no other connection can use it for as long as it is
// open: what `wardline relay migrate-store` needs to copy a database nobody
// writes meanwhile, and its proof that the relay is stopped.
//
// Failure modes handled:
//  1. The relay is running: in WAL mode every open connection holds a shared
//     lock on the database file for its whole life (that is how SQLite finds
//     the last connection at close), so an exclusive lock is refused at once
//     (SQLITE_BUSY), also when the relay is idle. Refused with the operator's
//     remedy; nothing is read.
//  2. A relay started while the copy runs: with locking_mode=EXCLUSIVE the lock
//     taken here is kept until close, so that relay's first statement fails
//     with "database is locked" and it does not start on a database being copied.
//  3. A relay that crashed holds nothing: the OS drops its locks with the
//     process, so a crashed relay never blocks the migration.
//  4. No relay.db at all (wrong -c or dataDir): refused before anything is
//     created, since opening would make an empty database.
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { RelayErrorCode, StoreMigrationError } from '../errors.js';

/** How long to wait for a lock another connection holds briefly, in milliseconds. A running relay holds it for good. */
export const EXCLUSIVE_OPEN_TIMEOUT_MS = 1_000;

/** Opens relay.db and takes its exclusive lock, kept until the returned database is closed. */
export function openRelayDbExclusively(file: string, timeoutMs = EXCLUSIVE_OPEN_TIMEOUT_MS): Database.Database {
  if (!existsSync(file)) throw new StoreMigrationError(`there is no relay database at ${file}: nothing to migrate (check -c and dataDir)`, RelayErrorCode.MIGRATE_NO_DATABASE);
  const db = new Database(file, { timeout: timeoutMs });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // An exclusive transaction takes the file's exclusive lock; EXCLUSIVE locking mode keeps it after COMMIT.
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') {
      throw new StoreMigrationError(
        `${file} is in use by another process: the relay is running (or another wardline command has its data dir open). Stop the relay, then run the migration again; nothing was copied`,
        RelayErrorCode.MIGRATE_RELAY_RUNNING,
        undefined,
        { cause: error },
      );
    }
    throw error;
  }
  return db;
}
