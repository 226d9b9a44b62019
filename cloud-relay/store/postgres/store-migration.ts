// `wardline relay migrate-store --from sqlite --to postgres`: copies a stopped
// relay's relay.db (and the chunk files in <dataDir>/blobs) into an empty
// PostgreSQL database, table by table in batches, all in one transaction, and
// proves the copy with the digest (store-digest.ts) of both sides.
//
// Failure modes handled:
//  1. The relay is running, or starts meanwhile: relay.db is held under its
//     exclusive lock from the first read to the last (exclusive-relay-db.ts);
//     a running relay makes the migration refuse, a starting one fails to open.
//  2. An older relay.db: brought to this build's schema first, under that lock,
//     as the relay's own start would do; a newer one is refused (SchemaTooNewError).
//  3. A target that holds relay data (a second run, a database in use by a relay
//     on PostgreSQL): refused naming the table, before and again inside the copy
//     transaction, which locks every target table so a relay process started on
//     PostgreSQL meanwhile waits instead of writing.
//  4. A crash, a lost connection or a damaged chunk file mid-copy: one
//     transaction, so PostgreSQL keeps nothing and the same command runs again
//     from the start; there is no partial state to resume.
//  5. A copy that differs (a mapping bug, a PostgreSQL trigger, a relay that
//     wrote to PostgreSQL between COMMIT and the second digest): the digests are
//     compared and the mismatch is an error naming the tables, so the operator
//     keeps running on relay.db.
//  6. Chunk files: each is checked against its SHA-256 before it is copied into
//     blob_chunks.data; partial chunks (transfers in progress) are not copied —
//     their agents send them again from the first byte.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type Database from 'better-sqlite3';
import type { MigrationResult } from '../../../runtime/index.js';
import { RelayErrorCode, StoreMigrationError } from '../../errors.js';
import { openRelayDbExclusively } from '../exclusive-relay-db.js';
import { migrate } from '../migrations.js';
import { relayChunkFile } from '../sqlite-blob-store.js';
import { migratePostgres } from './pg-migrations.js';
import { PG_MIGRATIONS } from './pg-schema.js';
import type { DatabaseClient, RelayDatabase } from './relay-database.js';
import { planStoreCopy, quoteIdent, toPgValue, type ColumnFillers, type SqliteRow, type TableCopy } from './store-copy-plan.js';
import { digestDifferences, digestPostgres, digestSqlite, type TableDigest } from './store-digest.js';

/** Rows per INSERT of the copy (fewer when a table has so many columns that PostgreSQL's 65,535 parameters would not do). */
export const DEFAULT_COPY_BATCH_ROWS = 500;
/** An INSERT is sent early once its values hold this many bytes (tables of chunk bytes or large bodies), in bytes. */
export const COPY_BATCH_BYTES = 8 * 1024 * 1024;
const PG_MAX_PARAMETERS = 65_535;

export interface StoreMigrationOptions {
  /** The relay's SQLite file, `<dataDir>/relay.db`. */
  sqliteFile: string;
  /** The relay's chunk files, `<dataDir>/blobs`. */
  blobDir: string;
  /** The target, connected; its schema is migrated here. */
  database: RelayDatabase;
  /** Default DEFAULT_COPY_BATCH_ROWS. */
  batchRows?: number;
  /** Progress, in order: the digest of relay.db, each table copied, the digest of PostgreSQL. */
  onProgress?: (event: StoreMigrationProgress) => void;
}

export type StoreMigrationProgress =
  | { kind: 'digest-before'; digest: readonly TableDigest[]; elapsedMs: number }
  | { kind: 'table-copied'; table: string; rows: number; elapsedMs: number }
  | { kind: 'committed'; rows: number; elapsedMs: number }
  | { kind: 'digest-after'; digest: readonly TableDigest[]; elapsedMs: number };

export interface StoreMigrationResult {
  before: readonly TableDigest[];
  after: readonly TableDigest[];
  /** Rows copied, over every table. */
  rows: number;
  /** The copy alone (digests excluded), in milliseconds. */
  copyMs: number;
  sqliteSchema: MigrationResult;
  pgSchema: MigrationResult;
}

/** Runs the migration; throws StoreMigrationError (failure modes 1, 3, 5, 6) or the database's error (4). */
export async function migrateStoreToPostgres(options: StoreMigrationOptions): Promise<StoreMigrationResult> {
  const db = openRelayDbExclusively(options.sqliteFile);
  try {
    const sqliteSchema = migrate(db, options.sqliteFile);
    const pgSchema = await migratePostgres(options.database, PG_MIGRATIONS);
    const plan = await planStoreCopy(db, options.database, relayChunkFillers(options.blobDir));
    await options.database.transaction((client) => assertEmpty(client, plan.targetTables));

    let started = Date.now();
    const before = await digestSqlite(db, plan);
    options.onProgress?.({ kind: 'digest-before', digest: before, elapsedMs: Date.now() - started });

    started = Date.now();
    const rows = await options.database.transaction(async (client) => {
      // Failure mode 3: a relay process started on PostgreSQL now waits for COMMIT.
      if (plan.targetTables.length > 0) await client.query(`LOCK TABLE ${plan.targetTables.map(quoteIdent).join(', ')} IN ACCESS EXCLUSIVE MODE`);
      await assertEmpty(client, plan.targetTables);
      let total = 0;
      for (const table of plan.tables) {
        const tableStarted = Date.now();
        const copied = await copyTable(client, db, table, options.batchRows ?? DEFAULT_COPY_BATCH_ROWS);
        total += copied;
        options.onProgress?.({ kind: 'table-copied', table: table.table, rows: copied, elapsedMs: Date.now() - tableStarted });
      }
      return total;
    });
    const copyMs = Date.now() - started;
    options.onProgress?.({ kind: 'committed', rows, elapsedMs: copyMs });
    // Fresh statistics, so the first queries of the relay on PostgreSQL plan with the real table sizes.
    for (const table of plan.tables) await options.database.query(`ANALYZE ${quoteIdent(table.table)}`);

    started = Date.now();
    const after = await digestPostgres(options.database, plan);
    options.onProgress?.({ kind: 'digest-after', digest: after, elapsedMs: Date.now() - started });
    const differing = digestDifferences(before, after);
    if (differing.length > 0) {
      throw new StoreMigrationError(
        `the PostgreSQL copy differs from relay.db in ${differing.join(', ')}: do not start the relay on PostgreSQL; keep it on relay.db, drop the PostgreSQL database and migrate again`,
        RelayErrorCode.MIGRATE_DIGEST_MISMATCH,
        differing[0],
      );
    }
    return { before, after, rows, copyMs, sqliteSchema, pgSchema };
  } finally {
    db.close();
  }
}

/** Failure mode 6: blob_chunks.data from the chunk's file, checked against its SHA-256. */
export function relayChunkFillers(blobDir: string): ColumnFillers {
  return {
    'blob_chunks.data': async (row: SqliteRow) => {
      const hospital = String(row.hospital);
      const sha256 = String(row.sha256);
      const file = relayChunkFile(blobDir, hospital, sha256);
      let data: Buffer;
      try {
        data = await readFile(file);
      } catch (error) {
        throw new StoreMigrationError(`chunk ${sha256} of hospital ${hospital} is listed in relay.db but cannot be read at ${file}: ${(error as Error).message}; restore blobs/ from the relay's backup`, RelayErrorCode.MIGRATE_CHUNK_DAMAGED, 'blob_chunks', { cause: error });
      }
      const actual = createHash('sha256').update(data).digest('hex');
      if (actual !== sha256) throw new StoreMigrationError(`chunk file ${file} does not match its SHA-256 (it hashes to ${actual}); restore blobs/ from the relay's backup`, RelayErrorCode.MIGRATE_CHUNK_DAMAGED, 'blob_chunks');
      return data;
    },
  };
}

async function assertEmpty(client: DatabaseClient, tables: readonly string[]): Promise<void> {
  for (const table of tables) {
    const { rows } = await client.query<{ held: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${quoteIdent(table)}) AS held`);
    if (rows[0]?.held) {
      throw new StoreMigrationError(
        `the PostgreSQL database already holds relay data (table ${table} has rows); nothing was copied. Migrate into a new, empty database, or drop this one if it holds nothing you need`,
        RelayErrorCode.MIGRATE_TARGET_NOT_EMPTY,
        table,
      );
    }
  }
}

/** Copies one table in multi-row INSERTs; returns the rows copied. */
async function copyTable(client: DatabaseClient, db: Database.Database, table: TableCopy, batchRows: number): Promise<number> {
  const columns = [...table.columns, ...table.filled];
  const perBatch = Math.max(1, Math.min(batchRows, Math.floor(PG_MAX_PARAMETERS / columns.length)));
  const head = `INSERT INTO ${quoteIdent(table.table)} (${columns.map((c) => quoteIdent(c.name)).join(', ')}) VALUES `;
  const fullText = insertText(head, columns.length, perBatch);
  const statement = db.prepare(`SELECT ${table.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${quoteIdent(table.table)} ORDER BY ${table.orderBy.map(quoteIdent).join(', ')}`).safeIntegers(true);

  let values: unknown[] = [];
  let rows = 0;
  let bytes = 0;
  let copied = 0;
  const flush = async () => {
    if (rows === 0) return;
    // A full batch reuses one prepared statement; the last, shorter one is planned once.
    if (rows === perBatch) await client.query({ name: `wardline_copy_${perBatch}_${table.table}`.slice(0, 63), text: fullText, values });
    else await client.query(insertText(head, columns.length, rows), values);
    copied += rows;
    values = [];
    rows = 0;
    bytes = 0;
  };
  for (const row of statement.iterate() as Iterable<SqliteRow>) {
    for (const column of table.columns) {
      const value = toPgValue(column.pgType, row[column.name]);
      if (value instanceof Uint8Array || typeof value === 'string') bytes += value.length;
      values.push(value);
    }
    for (const column of table.filled) {
      const value = await column.fill(row);
      bytes += value.length;
      values.push(value);
    }
    rows++;
    if (rows === perBatch || bytes >= COPY_BATCH_BYTES) await flush();
  }
  await flush();
  return copied;
}

function insertText(head: string, columns: number, rows: number): string {
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) {
    const params: string[] = [];
    for (let c = 1; c <= columns; c++) params.push(`$${r * columns + c}`);
    tuples.push(`(${params.join(', ')})`);
  }
  return head + tuples.join(', ');
}
