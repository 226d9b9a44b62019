// The archive's own book (<archive>/archive.db): which chunks are held, which
// instances reference them, and the chunk writes and removals under way. It
// lives beside the chunks, not in agent.db, so the archive is one directory that
// moves, backs up and is checked as a whole, and the chunk files and the book
// that counts them never disagree about which data directory they belong to.
//
// Pragmas as agent.db's (agent/store/agent-database.ts): WAL, synchronous=FULL
// (a reference is the promise that a chunk is kept), busy_timeout for a CLI reader.
import Database from 'better-sqlite3';
import { latestSchemaVersion, makePrivateDir, migrateSqlite, preparePrivateSqliteFile, type SqliteMigration } from '../../runtime/index.js';
import { dirname } from 'node:path';
import { SchemaTooNewError } from '../store/index.js';

export const ARCHIVE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    description: 'chunks, instances, references, chunk intents',
    sql: `
  -- Every chunk file the archive holds under chunks/, by its SHA-256.
  CREATE TABLE chunks (
    sha256 TEXT    PRIMARY KEY,
    size   INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- Every instance taken in (ingestFile), by the SHA-256 of its bytes; chunks is
  -- its manifest's chunk list as JSON, so remove() needs only the hash.
  CREATE TABLE instances (
    sha256         TEXT    PRIMARY KEY,
    size           INTEGER NOT NULL,
    chunks         TEXT    NOT NULL,
    ingested_at_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- Which instance uses which chunk: a chunk goes only when no row names it.
  CREATE TABLE chunk_refs (
    chunk    TEXT NOT NULL,
    instance TEXT NOT NULL,
    PRIMARY KEY (chunk, instance)
  ) WITHOUT ROWID;
  CREATE INDEX chunk_refs_by_instance ON chunk_refs (instance);
  -- Chunk files being written (before their reference commits) or being unlinked
  -- (after their last reference went): at open, a listed chunk no reference
  -- names is unlinked, so a crash in either window leaves no uncounted file.
  CREATE TABLE chunk_intents (sha256 TEXT PRIMARY KEY) WITHOUT ROWID;
  `,
  },
];

export const ARCHIVE_SCHEMA_VERSION = latestSchemaVersion(ARCHIVE_MIGRATIONS);

export function openArchiveDatabase(file: string): Database.Database {
  makePrivateDir(dirname(file));
  preparePrivateSqliteFile(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  try {
    migrateSqlite(db, { file, migrations: ARCHIVE_MIGRATIONS, tooNew: (details) => new SchemaTooNewError(details) });
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
