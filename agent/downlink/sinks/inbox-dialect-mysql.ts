// The inbox table in MySQL or MariaDB (mysql2): one small pool, times as UTC DATETIME(3)
// (DATETIME, not TIMESTAMP: no session time zone conversion and no 2038 limit).
import mysql from 'mysql2/promise';
import type { DatabaseConnectionConfig } from '../../sources/database/index.js';
import type { InboxDecision, InboxDialect, InboxRow } from './inbox-sink.js';
import type { InboxColumns } from './sink-config.js';

/** Connections the inbox keeps to the HIS database: one delivers, one settles. */
const POOL_SIZE = 2;

/** Server error numbers that are the hospital's setup to fix, with what to do. */
const SETUP_PROBLEMS: Readonly<Record<number, string>> = {
  1146: 'the inbox table does not exist: create it (see the DDL in the README) or set createTable: true',
  1054: 'a column of the inbox table is missing: compare the table with the DDL in the README (or sink.columns)',
  1142: 'permission denied: GRANT SELECT, INSERT, UPDATE on the inbox table (and CREATE when createTable is true)',
  1045: 'the server refused the login: check connection.user and connection.passwordFile',
  1044: 'the user may not use this database: GRANT it access',
  1049: 'the database does not exist: fix connection.database',
};

export function mysqlInboxDialect(
  connection: DatabaseConnectionConfig,
  password: string | undefined,
  table: string,
  columns: InboxColumns,
): InboxDialect {
  const pool = mysql.createPool({
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    password,
    connectTimeout: connection.connectTimeout * 1000,
    connectionLimit: POOL_SIZE,
    maxIdle: POOL_SIZE,
    idleTimeout: 30_000,
    charset: 'utf8mb4',
    timezone: 'Z',
    dateStrings: true,
    enableKeepAlive: true,
  });
  pool.on('connection', (conn) => conn.on('error', () => undefined));
  const t = table.split('.').map(quote).join('.');
  const c = Object.fromEntries(Object.entries(columns).map(([k, v]) => [k, quote(v)])) as Record<keyof InboxColumns, string>;
  const indexName = quote(`${table.split('.').pop()!.slice(0, 50)}_status_idx`);
  return {
    name: 'mysql',
    where: `${connection.user}@${connection.host}:${connection.port}/${connection.database}`,
    async createTable() {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${t} (
          ${c.id} VARCHAR(20) NOT NULL PRIMARY KEY,
          ${c.channel} VARCHAR(128) NOT NULL,
          ${c.eventKey} VARCHAR(128) NOT NULL,
          ${c.vendor} VARCHAR(128) NOT NULL,
          ${c.contentType} VARCHAR(16) NOT NULL,
          ${c.body} MEDIUMTEXT NOT NULL,
          ${c.receivedAt} DATETIME(3) NOT NULL,
          ${c.expiresAt} DATETIME(3) NOT NULL,
          ${c.deliveredAt} DATETIME(3) NOT NULL,
          ${c.status} VARCHAR(16) NOT NULL DEFAULT 'new',
          ${c.statusReason} TEXT NULL,
          ${c.hisReference} VARCHAR(64) NULL,
          ${c.decidedAt} DATETIME(3) NULL,
          KEY ${indexName} (${c.status})
        ) DEFAULT CHARSET = utf8mb4`,
      );
    },
    async insert(row: InboxRow) {
      const [result] = await pool.query<mysql.ResultSetHeader>(
        `INSERT IGNORE INTO ${t} (${c.id}, ${c.channel}, ${c.eventKey}, ${c.vendor}, ${c.contentType}, ${c.body}, ${c.receivedAt}, ${c.expiresAt}, ${c.deliveredAt}, ${c.status})
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'new')`,
        [row.id, row.channel, row.eventKey, row.vendor, row.contentType, row.body, utc(row.receivedAt), utc(row.expiresAt), utc(row.deliveredAt)],
      );
      return result.affectedRows === 1;
    },
    async decisions(ids: readonly string[]) {
      const [rows] = await pool.query<mysql.RowDataPacket[]>(
        `SELECT ${c.id} AS id, ${c.status} AS status, ${c.statusReason} AS reason, ${c.hisReference} AS reference FROM ${t} WHERE ${c.id} IN (?)`,
        [ids],
      );
      return rows.map((r): InboxDecision => ({ id: String(r.id), status: String(r.status), statusReason: r.reason ?? null, hisReference: r.reference ?? null }));
    },
    async expire(id: string, at: Date) {
      const [result] = await pool.query<mysql.ResultSetHeader>(`UPDATE ${t} SET ${c.status} = 'expired', ${c.decidedAt} = ? WHERE ${c.id} = ? AND ${c.status} = 'new'`, [utc(at), id]);
      return result.affectedRows === 1;
    },
    setupProblem(error: unknown) {
      const errno = (error as { errno?: unknown }).errno;
      return typeof errno === 'number' ? SETUP_PROBLEMS[errno] : undefined;
    },
    async close() {
      await pool.end();
    },
  };
}

function quote(identifier: string): string {
  return `\`${identifier.replaceAll('`', '``')}\``;
}

function utc(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}
