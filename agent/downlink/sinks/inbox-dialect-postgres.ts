// The inbox table in PostgreSQL (pg): one small pool, times as UTC TIMESTAMP(3).
import pg from 'pg';
import type { DatabaseConnectionConfig } from '../../sources/database/index.js';
import { postgresClientConfig } from '../../sources/postgres/index.js';
import type { InboxDecision, InboxDialect, InboxRow } from './inbox-sink.js';
import type { InboxColumns } from './sink-config.js';

/** Connections the inbox keeps to the HIS database: one delivers, one settles. */
const POOL_SIZE = 2;

/** SQLSTATEs that are the hospital's setup to fix, with what to do. */
const SETUP_PROBLEMS: Readonly<Record<string, string>> = {
  '42P01': 'the inbox table does not exist: create it (see the DDL in the README) or set createTable: true',
  '42703': 'a column of the inbox table is missing: compare the table with the DDL in the README (or sink.columns)',
  '42501': 'permission denied: GRANT SELECT, INSERT, UPDATE on the inbox table (and CREATE when createTable is true)',
  '28P01': 'password authentication failed: check connection.passwordFile',
  '28000': 'the server refused the login: allow the role in pg_hba.conf',
  '3D000': 'the database does not exist: fix connection.database',
};

export function postgresInboxDialect(
  connection: DatabaseConnectionConfig,
  password: string | undefined,
  table: string,
  columns: InboxColumns,
): InboxDialect {
  // The capture sources' connection settings (UTC, ISO dates), as the inbox's own application, pooled.
  const pool = new pg.Pool({ ...postgresClientConfig(connection, password), idleTimeoutMillis: 30_000, max: POOL_SIZE, application_name: 'wardline-inbox' });
  pool.on('error', () => undefined); // an idle client dropped by the server: the next query reconnects
  const t = table.split('.').map(quote).join('.');
  const c = Object.fromEntries(Object.entries(columns).map(([k, v]) => [k, quote(v)])) as Record<keyof InboxColumns, string>;
  const indexName = quote(`${table.split('.').pop()!.slice(0, 50)}_status_idx`);
  return {
    name: 'postgres',
    where: `${connection.user}@${connection.host}:${connection.port}/${connection.database}`,
    async createTable() {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${t} (
          ${c.id} VARCHAR(20) PRIMARY KEY,
          ${c.channel} VARCHAR(128) NOT NULL,
          ${c.eventKey} VARCHAR(128) NOT NULL,
          ${c.vendor} VARCHAR(128) NOT NULL,
          ${c.contentType} VARCHAR(16) NOT NULL,
          ${c.body} TEXT NOT NULL,
          ${c.receivedAt} TIMESTAMP(3) NOT NULL,
          ${c.expiresAt} TIMESTAMP(3) NOT NULL,
          ${c.deliveredAt} TIMESTAMP(3) NOT NULL,
          ${c.status} VARCHAR(16) NOT NULL DEFAULT 'new',
          ${c.statusReason} TEXT,
          ${c.hisReference} VARCHAR(64),
          ${c.decidedAt} TIMESTAMP(3)
        )`,
      );
      await pool.query(`CREATE INDEX IF NOT EXISTS ${indexName} ON ${t} (${c.status})`);
    },
    async insert(row: InboxRow) {
      const result = await pool.query(
        `INSERT INTO ${t} (${c.id}, ${c.channel}, ${c.eventKey}, ${c.vendor}, ${c.contentType}, ${c.body}, ${c.receivedAt}, ${c.expiresAt}, ${c.deliveredAt}, ${c.status})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'new') ON CONFLICT (${c.id}) DO NOTHING`,
        [row.id, row.channel, row.eventKey, row.vendor, row.contentType, row.body, utc(row.receivedAt), utc(row.expiresAt), utc(row.deliveredAt)],
      );
      return result.rowCount === 1;
    },
    async decisions(ids: readonly string[]) {
      const result = await pool.query<{ id: string; status: string; reason: string | null; reference: string | null }>(
        `SELECT ${c.id} AS id, ${c.status} AS status, ${c.statusReason} AS reason, ${c.hisReference} AS reference FROM ${t} WHERE ${c.id} = ANY($1::varchar[])`,
        [ids],
      );
      return result.rows.map((r): InboxDecision => ({ id: r.id, status: r.status, statusReason: r.reason, hisReference: r.reference }));
    },
    async expire(id: string, at: Date) {
      const result = await pool.query(`UPDATE ${t} SET ${c.status} = 'expired', ${c.decidedAt} = $2 WHERE ${c.id} = $1 AND ${c.status} = 'new'`, [id, utc(at)]);
      return result.rowCount === 1;
    },
    setupProblem(error: unknown) {
      const code = (error as { code?: unknown }).code;
      return typeof code === 'string' ? SETUP_PROBLEMS[code] : undefined;
    },
    async close() {
      await pool.end();
    },
  };
}

/** Identifiers are checked by the config schema (letters, digits, _ and $); quoted anyway. */
function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/** A UTC timestamp without zone, as the TIMESTAMP columns hold it. */
function utc(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}
