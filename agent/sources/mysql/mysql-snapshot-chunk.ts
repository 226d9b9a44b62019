// One chunk of the initial snapshot: up to `limit` rows of a table after a key, in
// key order, read in a transaction WITH CONSISTENT SNAPSHOT, together with the
// exact binlog position that transaction sees. The stream journals the chunk when
// it reaches that position (mysql-snapshot.ts), so the chunk and the stream meet
// exactly: changes before it are in the rows, changes after it follow them.
//
// MariaDB reports the snapshot's binlog file and offset (Binlog_snapshot_file /
// _position, taken atomically with the snapshot) and BINLOG_GTID_POS() turns them
// into a GTID position. MySQL has no such status; there @@gtid_executed is read
// before and after START TRANSACTION and the snapshot is retried until both agree,
// i.e. no transaction committed while the snapshot was being taken.
import type mysql from 'mysql2/promise';
import type { CaptureValue } from '../database/index.js';
import { quoteIdentifier } from './mysql-preflight.js';
import { keyOf, type CapturedTable } from './mysql-table.js';

export interface SnapshotChunk {
  rows: Record<string, unknown>[];
  /** The key of the last row (null when the chunk is empty). */
  lastKey: CaptureValue[] | null;
  /** Fewer rows than asked: the table is done after this chunk. */
  last: boolean;
  /** The GTID position the chunk was read at. */
  gtid: string;
}

type Row = Record<string, unknown>;

async function one(connection: mysql.Connection, sql: string, params: unknown[] = []): Promise<Row[]> {
  const [rows] = await connection.query(sql, params);
  return rows as Row[];
}

export async function readSnapshotChunk(connection: mysql.Connection, table: CapturedTable, after: readonly CaptureValue[] | null, limit: number, isMariaDb: boolean): Promise<SnapshotChunk> {
  const select = table.config.columns ? table.selected.map(quoteIdentifier).join(', ') : '*';
  const keyList = table.key.map(quoteIdentifier).join(', ');
  const where = after === null ? '' : table.key.length === 1 ? `WHERE ${keyList} > ?` : `WHERE (${keyList}) > (${table.key.map(() => '?').join(', ')})`;
  const sql = `SELECT ${select} FROM ${quoteIdentifier(table.database)}.${quoteIdentifier(table.table)} ${where} ORDER BY ${keyList} LIMIT ${limit}`;
  let gtid: string;
  let rows: Row[];
  if (isMariaDb) {
    await connection.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    try {
      rows = await one(connection, sql, [...(after ?? [])]);
      const status = await one(connection, "SHOW STATUS LIKE 'binlog_snapshot_%'");
      const file = String(status.find((r) => /file/i.test(String(r.Variable_name)))!.Value);
      const pos = Number(status.find((r) => /position/i.test(String(r.Variable_name)))!.Value);
      await connection.query('COMMIT');
      const found = (await one(connection, 'SELECT BINLOG_GTID_POS(?, ?) AS g', [file, pos]))[0]!.g;
      // NULL: the offset is not an event boundary the server knows; an unplaced chunk could not meet the stream exactly.
      if (found === null || found === undefined) throw new Error(`the server gave no GTID position for the snapshot at ${file}:${pos}`);
      gtid = String(found);
    } catch (error) {
      await connection.query('ROLLBACK').catch(() => {});
      throw error;
    }
  } else {
    for (let attempt = 0; ; attempt++) {
      const before = String((await one(connection, 'SELECT @@GLOBAL.gtid_executed AS g'))[0]!.g).replace(/\s/g, '');
      await connection.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
      const afterStart = String((await one(connection, 'SELECT @@GLOBAL.gtid_executed AS g'))[0]!.g).replace(/\s/g, '');
      if (before !== afterStart && attempt < 20) {
        await connection.query('ROLLBACK');
        continue;
      }
      try {
        rows = await one(connection, sql, [...(after ?? [])]);
        await connection.query('COMMIT');
      } catch (error) {
        await connection.query('ROLLBACK').catch(() => {});
        throw error;
      }
      gtid = afterStart;
      break;
    }
  }
  const lastRow = rows[rows.length - 1];
  return { rows, lastKey: lastRow ? keyOf(table, lastRow) : null, last: rows.length < limit, gtid };
}

/** The server's estimate of a table's rows (InnoDB statistics), for the progress figure. */
export async function estimateRows(connection: mysql.Connection, table: CapturedTable): Promise<number | null> {
  const rows = await one(connection, 'SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [table.database, table.table]);
  const n = rows[0]?.n;
  return n === null || n === undefined ? null : Number(n);
}
