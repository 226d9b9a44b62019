// The snapshot of a PostgreSQL source: every captured table copied in
// primary-key order, chunk by chunk (keyset pagination: WHERE key > last key
// ORDER BY key LIMIT n, never OFFSET), inside the caller's REPEATABLE READ
// transaction (the slot's exported snapshot, or a resumed one). Each chunk is
// handed on with the cursor after it, which the source saves in its position
// in the same journal transaction as the chunk's rows: a kill resumes at the
// next chunk, never re-reading a finished one.
import type pg from 'pg';
import type { CaptureValue } from '../database/index.js';
import { qualifiedIdent, quoteIdent, type CapturedTable } from './postgres-preflight.js';
import type { SnapshotCursor } from './postgres-position.js';
import { mapValue } from './postgres-value.js';
import { TEXT_TYPES } from './postgres-connection.js';

export interface SnapshotChunk {
  table: CapturedTable;
  /** Rows as the body's JSON, and each row's key texts. */
  rows: { row: Record<string, CaptureValue>; key: string[] }[];
  /** Where the snapshot stands once this chunk is journaled; table === tables.length when done. */
  next: SnapshotCursor;
}

export async function copyTables(
  client: Pick<pg.Client, 'query'>,
  tables: readonly CapturedTable[],
  from: SnapshotCursor,
  chunkRows: number,
  onChunk: (chunk: SnapshotChunk) => Promise<void>,
): Promise<void> {
  let rowsCopied = from.rows;
  for (let index = from.table; index < tables.length; index++) {
    const table = tables[index]!;
    let after = index === from.table ? from.after : null;
    const columns = table.columns.map((c) => quoteIdent(c.name)).join(', ');
    const keyList = table.key.map(quoteIdent).join(', ');
    for (;;) {
      const conditions: string[] = [];
      if (table.config.filter) conditions.push(`(${table.config.filter})`);
      if (after) conditions.push(`(${keyList}) > (${table.key.map((_, i) => `$${i + 1}`).join(', ')})`);
      const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
      const result = await client.query<Record<string, string | null>>({
        text: `SELECT ${columns} FROM ${qualifiedIdent(table)}${where} ORDER BY ${keyList} LIMIT ${chunkRows}`,
        values: after ?? [],
        types: TEXT_TYPES,
      });
      const rows = result.rows.map((raw) => {
        const row: Record<string, CaptureValue> = {};
        for (const column of table.columns) row[column.name] = mapValue(raw[column.name] ?? null, column.mapping);
        return { row, key: table.key.map((k) => raw[k] ?? '') };
      });
      rowsCopied += rows.length;
      const done = rows.length < chunkRows;
      const last = rows.at(-1);
      after = done ? null : last!.key;
      const next: SnapshotCursor = done ? { table: index + 1, after: null, rows: rowsCopied } : { table: index, after, rows: rowsCopied };
      await onChunk({ table, rows, next });
      if (done) break;
    }
  }
}
