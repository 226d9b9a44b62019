// The digest `wardline relay migrate-store` prints before and after the copy:
// per table, the row count and a SHA-256 over its rows in primary-key order,
// each value in one canonical encoding, computed the same way from relay.db and
// from PostgreSQL. Equal digests mean every row and every byte arrived.
//
// Failure modes handled:
//  1. Collation: PostgreSQL sorts TEXT by the database's locale, SQLite by bytes;
//     the PostgreSQL side orders text columns COLLATE "C" (byte order of UTF-8),
//     so both sides hash rows in the same order.
//  2. Types that differ in kind but not in value: INTEGER (BigInt from SQLite)
//     and BIGINT/SMALLINT/INTEGER (read as BigInt here, never as a rounded
//     number), 0/1 and a BOOLEAN column, all hash as the same integer.
//  3. A big table (millions of events): both sides stream — SQLite's iterator,
//     a PostgreSQL cursor in one REPEATABLE READ snapshot — so memory stays flat
//     and the digest is of one consistent state.
//  4. Chunk bytes (blob_chunks.data, in files beside relay.db): hashed from the
//     files on one side and from the column on the other, so the digest covers
//     them too.
import { createHash, type Hash } from 'node:crypto';
import type Database from 'better-sqlite3';
import pg from 'pg';
import type { RelayDatabase } from './relay-database.js';
import { quoteIdent, type StoreCopyPlan, type TableCopy } from './store-copy-plan.js';

export interface TableDigest {
  table: string;
  rows: number;
  /** Hex SHA-256 over the canonical rows in primary-key order. */
  sha256: string;
}

/** Rows fetched from the PostgreSQL cursor at a time; fewer for tables holding chunk bytes. */
export const DIGEST_FETCH_ROWS = 2_000;
const DIGEST_FETCH_ROWS_WITH_BYTES = 16;

const INT2_OID = 21;
const INT4_OID = 23;
const INT8_OID = 20;
const BOOL_OID = 16;

/** Failure mode 2: every integer type as BigInt, booleans as 1n/0n. */
const digestTypes = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    if (oid === INT8_OID || oid === INT4_OID || oid === INT2_OID) return (value) => BigInt(value);
    if (oid === BOOL_OID) return (value) => (value === 't' ? 1n : 0n);
    return pg.types.getTypeParser(oid, (format ?? 'text') as 'text') as (value: string) => unknown;
  },
};

/** Hashes rows value by value: a tag, the length where it varies, the bytes. */
class RowHasher {
  private readonly hash: Hash = createHash('sha256');
  rows = 0;

  add(values: readonly unknown[]): void {
    for (const value of values) this.value(value);
    this.rows++;
  }

  digest(table: string): TableDigest {
    return { table, rows: this.rows, sha256: this.hash.digest('hex') };
  }

  private value(value: unknown): void {
    if (value === null || value === undefined) this.hash.update('n;');
    else if (typeof value === 'bigint') this.hash.update(`i${value};`);
    else if (typeof value === 'boolean') this.hash.update(value ? 'i1;' : 'i0;');
    else if (typeof value === 'number') this.hash.update(`f${value};`);
    else if (typeof value === 'string') {
      const bytes = Buffer.from(value, 'utf8');
      this.hash.update(`s${bytes.length}:`);
      this.hash.update(bytes);
    } else if (value instanceof Uint8Array) {
      this.hash.update(`b${value.length}:`);
      this.hash.update(value);
    } else {
      const text = JSON.stringify(value);
      this.hash.update(`j${Buffer.byteLength(text)}:${text}`);
    }
  }
}

/** The digest of relay.db's tables in the plan (the database must not change meanwhile: hold its exclusive lock). */
export async function digestSqlite(db: Database.Database, plan: StoreCopyPlan): Promise<TableDigest[]> {
  const digests: TableDigest[] = [];
  for (const table of plan.tables) {
    const hasher = new RowHasher();
    const statement = db.prepare(`SELECT ${table.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${quoteIdent(table.table)} ORDER BY ${table.orderBy.map(quoteIdent).join(', ')}`).safeIntegers(true);
    for (const row of statement.iterate() as Iterable<Record<string, unknown>>) {
      const values = table.columns.map((c) => row[c.name]);
      for (const filled of table.filled) values.push(await filled.fill(row));
      hasher.add(values);
    }
    digests.push(hasher.digest(table.table));
  }
  return digests;
}

/** The digest of the same tables in PostgreSQL, in one snapshot. */
export async function digestPostgres(database: RelayDatabase, plan: StoreCopyPlan): Promise<TableDigest[]> {
  return database.transaction(async (client) => {
    const digests: TableDigest[] = [];
    for (const table of plan.tables) {
      const hasher = new RowHasher();
      const names = [...table.columns, ...table.filled].map((c) => c.name);
      await client.query(`DECLARE wardline_digest NO SCROLL CURSOR FOR SELECT ${names.map(quoteIdent).join(', ')} FROM ${quoteIdent(table.table)} ORDER BY ${pgOrderBy(table)}`);
      const fetch = `FETCH ${table.filled.length > 0 ? DIGEST_FETCH_ROWS_WITH_BYTES : DIGEST_FETCH_ROWS} FROM wardline_digest`;
      for (;;) {
        const result = await client.query<Record<string, unknown>>({ text: fetch, types: digestTypes as never });
        for (const row of result.rows) hasher.add(names.map((n) => row[n]));
        if (result.rows.length === 0) break;
      }
      await client.query('CLOSE wardline_digest');
      digests.push(hasher.digest(table.table));
    }
    return digests;
  }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
}

/** The tables whose digests differ (or that one side lacks). */
export function digestDifferences(before: readonly TableDigest[], after: readonly TableDigest[]): string[] {
  const tables = new Set([...before, ...after].map((d) => d.table));
  return [...tables].filter((table) => {
    const a = before.find((d) => d.table === table);
    const b = after.find((d) => d.table === table);
    return !a || !b || a.rows !== b.rows || a.sha256 !== b.sha256;
  });
}

/** One line per table: name, rows, SHA-256; then the digest of the lines, for comparing two runs at a glance. */
export function formatDigest(digests: readonly TableDigest[]): string {
  const width = Math.max(...digests.map((d) => d.table.length), 5);
  const lines = digests.map((d) => `  ${d.table.padEnd(width)}  ${String(d.rows).padStart(10)} rows  sha256 ${d.sha256}`);
  const whole = createHash('sha256').update(digests.map((d) => `${d.table} ${d.rows} ${d.sha256}\n`).join('')).digest('hex');
  return `${lines.join('\n')}\n  ${'all'.padEnd(width)}  ${String(digests.reduce((n, d) => n + d.rows, 0)).padStart(10)} rows  sha256 ${whole}\n`;
}

// Failure mode 1.
function pgOrderBy(table: TableCopy): string {
  return table.orderBy
    .map((name) => {
      const column = table.columns.find((c) => c.name === name);
      const textual = column !== undefined && (column.pgType === 'text' || column.pgType === 'character varying' || column.pgType === 'character');
      return textual ? `${quoteIdent(name)} COLLATE "C"` : quoteIdent(name);
    })
    .join(', ');
}
