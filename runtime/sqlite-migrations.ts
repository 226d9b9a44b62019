// One schema-migration runner for every Wardline SQLite database (agent.db,
// relay.db). A program hands it its ordered list of numbered migrations; the
// applied version lives in `PRAGMA user_version`, as both programs have always
// kept it, so databases written by earlier releases open unchanged.
//
// Failure modes handled:
//   1. A crash mid-migration: each migration runs in its own transaction together
//      with its version bump, so the database is left at the previous version,
//      never half-migrated, and the next start continues from there.
//   2. Two processes opening a fresh file at once (the agent and a CLI command):
//      the transaction is IMMEDIATE (it takes the write lock before reading) and
//      the version is re-read inside it, so the second waits (busy_timeout) and
//      then finds the migration applied instead of running it twice.
//   3. A database written by a newer release (a downgrade, or a backup restored
//      onto an older install): its schema has changes this build does not know,
//      and writing to it could corrupt it. The runner refuses before touching
//      anything, with the file, both versions and what to do.
import type Database from 'better-sqlite3';

export interface SqliteMigration {
  /** 1, 2, 3, … in order; never renumbered or edited once released: append a new one. */
  version: number;
  description: string;
  sql: string;
}

/** The schema versions a too-new database was found with. */
export interface SchemaTooNewDetails {
  file: string;
  /** The database's user_version. */
  found: number;
  /** The newest migration this build knows. */
  supported: number;
}

export interface MigrateOptions {
  /** The database file, for the error message. */
  file: string;
  migrations: readonly SqliteMigration[];
  /** Builds the program's own coded error for a database newer than `migrations` (see schemaTooNewMessage). */
  tooNew: (details: SchemaTooNewDetails) => Error;
}

/** The versions before and after a migrate() call; equal when there was nothing to do. */
export interface MigrationResult {
  from: number;
  to: number;
}

/** The newest version in `migrations` (0 for none). */
export function latestSchemaVersion(migrations: readonly SqliteMigration[]): number {
  return migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
}

/**
 * The operator's message for a database newer than this program: the file, both
 * versions, and the two ways out. `program` names the binary ("agent", "relay").
 */
export function schemaTooNewMessage(program: string, { file, found, supported }: SchemaTooNewDetails): string {
  return (
    `${file} has schema version ${found}, but this Wardline ${program} knows only up to version ${supported}: ` +
    `the database was written by a newer Wardline ${program}, and opening it with this one could corrupt it; nothing was changed. ` +
    `Install the newer Wardline again, or restore the backup of ${file} taken before the upgrade`
  );
}

/**
 * Applies every migration newer than the database's user_version, each in its own
 * IMMEDIATE transaction with the version bump; refuses (options.tooNew) a database
 * whose version is newer than the last migration.
 */
export function migrateSqlite(db: Database.Database, options: MigrateOptions): MigrationResult {
  const { migrations } = options;
  migrations.forEach((migration, index) => {
    // A programming error in the list, not an operator's: caught by each program's migration test.
    if (migration.version !== index + 1) throw new RangeError(`migration at index ${index} is numbered ${migration.version}; expected ${index + 1}`);
  });
  const supported = latestSchemaVersion(migrations);
  const readVersion = () => db.pragma('user_version', { simple: true }) as number;
  const from = readVersion();
  if (from > supported) throw options.tooNew({ file: options.file, found: from, supported });
  for (const migration of migrations) {
    if (migration.version <= from) continue;
    db.transaction(() => {
      // Another process may have applied it while this one waited for the lock.
      if (readVersion() >= migration.version) return;
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
  return { from, to: supported };
}
