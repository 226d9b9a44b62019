// Opens the agent's SQLite database: the single source of truth on the premises.
import Database from 'better-sqlite3';
import { makePrivateDir, preparePrivateSqliteFile } from '../../runtime/index.js';
import { dirname } from 'node:path';
import { migrateAgentDatabase } from './migrations.js';

export type SqliteDatabase = Database.Database;

/**
 * Pragmas, chosen deliberately:
 * - journal_mode=WAL: readers (dashboard, replicator) never block the writer.
 * - synchronous=FULL: in WAL mode every commit fsyncs the WAL, so a source is
 *   acknowledged only for data that survives power loss (NORMAL could lose the
 *   last commits, which would break "acknowledged means durable").
 * - busy_timeout: a CLI reading the same file must wait, not fail.
 * - foreign_keys on for schema hygiene; temp_store in memory for sorts.
 * - wal_autocheckpoint left at SQLite's default (1000 pages).
 */
export function openAgentDatabase(file: string): SqliteDatabase {
  // The hospital's records: the service account's alone, whatever the umask.
  makePrivateDir(dirname(file));
  preparePrivateSqliteFile(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.pragma('temp_store = MEMORY');
  try {
    // Refuses (SchemaTooNewError) a database written by a newer agent, before anything reads or writes it.
    migrateAgentDatabase(db, file);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
