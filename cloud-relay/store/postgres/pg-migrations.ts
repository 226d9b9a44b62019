// The schema-migration runner for the relay's PostgreSQL database: the same
// rules as runtime/sqlite-migrations.ts (ordered, numbered, one transaction per
// migration with its version, a database from a newer relay refused), kept in
// a table of its own because PostgreSQL has no user_version.
//
// Failure modes handled:
//  1. Several relay processes start at once against a fresh database: each
//     migration runs under one transaction-scoped advisory lock and re-reads
//     the version inside it, so exactly one process applies it and the others
//     find it applied.
//  2. A crash mid-migration: PostgreSQL's DDL is transactional, so the database
//     stays at the previous version and the next start continues from there.
//  3. A database written by a newer relay: refused before anything is touched
//     (the same message as the SQLite file's, naming the database).
import type { SqliteMigration } from '../../../runtime/index.js';
import { latestSchemaVersion, type MigrationResult } from '../../../runtime/index.js';
import { SchemaTooNewError } from '../../errors.js';
import type { RelayDatabase } from './relay-database.js';

/** A migration of the PostgreSQL schema: numbered like the SQLite ones. */
export type PgMigration = SqliteMigration;

/** The advisory lock key every relay process takes while migrating ("wardline" in ASCII, truncated to 32 bits). */
export const MIGRATION_LOCK_KEY = 0x7761_7264;

/** Applies every migration newer than the database's version; returns the versions before and after. */
export async function migratePostgres(database: RelayDatabase, migrations: readonly PgMigration[]): Promise<MigrationResult> {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) throw new RangeError(`migration at index ${index} is numbered ${migration.version}; expected ${index + 1}`);
  });
  const supported = latestSchemaVersion(migrations);
  let from = 0;
  await database.transaction(async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS wardline_schema (
      version       INTEGER PRIMARY KEY,
      description   TEXT    NOT NULL,
      applied_at    TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
  });
  for (;;) {
    const applied = await database.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const current = Number((await client.query<{ v: number | null }>('SELECT max(version) AS v FROM wardline_schema')).rows[0]?.v ?? 0);
      if (from === 0) from = current;
      if (current > supported) throw new SchemaTooNewError(database.description, current, supported);
      const next = migrations[current];
      if (!next) return false;
      await client.query(next.sql);
      await client.query('INSERT INTO wardline_schema (version, description) VALUES ($1, $2)', [next.version, next.description]);
      return true;
    });
    if (!applied) break;
  }
  return { from, to: supported };
}
