// What `wardline relay migrate-store` copies: every table of relay.db (found in
// sqlite_master, not listed here) matched by name to the PostgreSQL schema's
// table, column for column, with the value mapping the types need. The
// PostgreSQL schema mirrors relay.db's names (pg-schema.ts), so a table added to
// both is copied without a line here; only a PostgreSQL-only column that must be
// filled (blob_chunks.data, the chunk bytes relay.db keeps in files) needs a
// filler, given by the caller.
//
// Failure modes handled:
//  1. relay.db has a table or column the PostgreSQL schema lacks (a build whose
//     schemas differ): refused before anything is copied, naming it, since a
//     copy would silently drop data.
//  2. A PostgreSQL-only column that is NOT NULL without default and has no
//     filler: refused likewise (every insert would fail halfway).
//  3. SQLite-internal tables (sqlite_sequence, sqlite_stat1 …) are not relay data
//     and are skipped.
//  4. Integers beyond 2^53: read from SQLite as BigInt and passed as decimal
//     text, so nothing is rounded on the way.
import type Database from 'better-sqlite3';
import { RelayErrorCode, StoreMigrationError } from '../../errors.js';
import type { RelayDatabase } from './relay-database.js';

/** A relay.db row as read for the copy (safe integers: INTEGER values are BigInt). */
export type SqliteRow = Record<string, unknown>;

/** Gives a PostgreSQL-only column its value from the relay.db row (and the data dir). */
export type ColumnFiller = (row: SqliteRow) => Promise<Buffer>;

/** Fillers by "table.column". */
export type ColumnFillers = Readonly<Record<string, ColumnFiller>>;

export interface CopiedColumn {
  name: string;
  /** information_schema.columns.data_type of the PostgreSQL column: bigint, smallint, text, bytea, boolean … */
  pgType: string;
}

export interface FilledColumn extends CopiedColumn {
  fill: ColumnFiller;
}

export interface TableCopy {
  table: string;
  /** relay.db's columns in relay.db's order: the digest covers these, then `filled`. */
  columns: readonly CopiedColumn[];
  /** relay.db's primary key (all columns when it has none): the order of the copy and of the digest. */
  orderBy: readonly string[];
  filled: readonly FilledColumn[];
}

export interface StoreCopyPlan {
  tables: readonly TableCopy[];
  /** Every table of the PostgreSQL schema except the migration runner's: all must be empty before the copy. */
  targetTables: readonly string[];
}

interface SqliteColumnInfo {
  name: string;
  pk: number;
}

interface PgColumnInfo {
  table: string;
  name: string;
  pgType: string;
  required: boolean;
}

/** The migration runner's own table (pg-migrations.ts), which the target already holds. */
const RUNNER_TABLE = 'wardline_schema';

/** Reads both schemas and matches them; throws StoreMigrationError (MIGRATE_SCHEMA_MISMATCH) on failure modes 1 and 2. */
export async function planStoreCopy(db: Database.Database, database: RelayDatabase, fillers: ColumnFillers = {}): Promise<StoreCopyPlan> {
  const sqliteTables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`).all() as { name: string }[]).map((t) => t.name);
  const pgColumns = (
    await database.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string; column_default: string | null; is_identity: string; is_generated: string }>(
      `SELECT c.table_name, c.column_name, c.data_type, c.is_nullable, c.column_default, c.is_identity, c.is_generated
         FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
        WHERE c.table_schema = current_schema()
        ORDER BY c.table_name, c.ordinal_position`,
    )
  ).rows.map(
    (r): PgColumnInfo => ({
      table: r.table_name,
      name: r.column_name,
      pgType: r.data_type,
      required: r.is_nullable === 'NO' && r.column_default === null && r.is_identity !== 'YES' && r.is_generated !== 'ALWAYS',
    }),
  );
  const byTable = new Map<string, PgColumnInfo[]>();
  for (const column of pgColumns) byTable.set(column.table, [...(byTable.get(column.table) ?? []), column]);

  const tables = sqliteTables.map((table): TableCopy => {
    const target = byTable.get(table);
    if (!target) {
      throw new StoreMigrationError(`relay.db table ${table} has no table of that name in the PostgreSQL database; nothing was copied (is this the Wardline version that wrote relay.db?)`, RelayErrorCode.MIGRATE_SCHEMA_MISMATCH, table);
    }
    const info = db.pragma(`table_info(${quoteIdent(table)})`) as SqliteColumnInfo[];
    const columns = info.map((c): CopiedColumn => {
      const match = target.find((t) => t.name === c.name);
      if (!match) throw new StoreMigrationError(`relay.db column ${table}.${c.name} has no column of that name in the PostgreSQL table ${table}; nothing was copied`, RelayErrorCode.MIGRATE_SCHEMA_MISMATCH, table);
      return { name: c.name, pgType: match.pgType };
    });
    const filled = target
      .filter((t) => !info.some((c) => c.name === t.name))
      .flatMap((t): FilledColumn[] => {
        const fill = fillers[`${table}.${t.name}`];
        if (fill) return [{ name: t.name, pgType: t.pgType, fill }];
        if (t.required) throw new StoreMigrationError(`PostgreSQL column ${table}.${t.name} is NOT NULL without a default and relay.db has nothing to fill it with; nothing was copied`, RelayErrorCode.MIGRATE_SCHEMA_MISMATCH, table);
        return [];
      });
    const pk = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    return { table, columns, orderBy: pk.length > 0 ? pk : info.map((c) => c.name), filled };
  });
  return { tables, targetTables: [...byTable.keys()].filter((t) => t !== RUNNER_TABLE).sort() };
}

/** A relay.db value as the PostgreSQL column of type `pgType` takes it (failure mode 4). */
export function toPgValue(pgType: string, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (pgType === 'boolean') return value !== 0 && value !== 0n && value !== '0';
  if (typeof value === 'bigint') return value.toString();
  if (pgType === 'bytea' && typeof value === 'string') return Buffer.from(value, 'utf8');
  return value;
}

/** "name" with embedded quotes doubled: the same quoting in SQLite and PostgreSQL. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
