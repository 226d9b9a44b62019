// Polling PostgreSQL. The recommended version column is xid8:
//   version xid8 NOT NULL DEFAULT pg_current_xact_id()  (+ a BEFORE UPDATE trigger
//   setting NEW.version := pg_current_xact_id()),
// because it has an exact safe bound, PostgreSQL's MIN_ACTIVE_ROWVERSION(): every
// transaction id below pg_snapshot_xmin(pg_current_snapshot()) has committed or
// aborted, so rows with version < xmin are final and a read up to xmin - 1 can never
// be overtaken by a slow transaction, however long it stays open (it only holds the
// watermark back). A bigint version from a sequence cannot be bounded like that: the
// sequence value is drawn before commit, and a transaction that drew one need not
// have an xid yet (nextval assigns none between its WAL-logged batches), so no
// snapshot names every transaction that may still commit below a given value. Such
// columns, and timestamp columns (the common HIS case), use the `lag` rule with its
// caveat (poll-dialect.ts); for timestamps the oldest active transaction's start
// (pg_stat_activity.xact_start, visible with pg_read_all_stats) bounds it as well.
import pg from 'pg';
import { canonicalValue, type CaptureValue } from '../database/index.js';
import {
  PollSetupProblem,
  compareVersionTexts,
  type PollConnectOptions,
  type PollConnection,
  type PollDialect,
  type PollTableShape,
  type RangePage,
  type RangeRead,
  type VersionKind,
  type Watermark,
  type WatermarkQuery,
  type WatermarkRule,
} from './poll-dialect.js';

const NUMBER_TYPES = new Set(['bigint', 'integer', 'smallint', 'numeric', 'xid8']);
const TIMESTAMP_TYPES = new Set(['timestamp with time zone', 'timestamp without time zone']);
/** Fixed-width, so versions compare as text; microseconds kept. */
const TIMESTAMP_FORMAT = `'YYYY-MM-DD"T"HH24:MI:SS.US'`;

function quote(identifier: string): string {
  return identifier
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}

/** The version as fixed text (timestamptz in UTC), so it goes back as a parameter unchanged. */
function versionText(column: string, type: string): string {
  if (type === 'timestamp with time zone') return `to_char(${quote(column)} AT TIME ZONE 'UTC', ${TIMESTAMP_FORMAT})`;
  if (type === 'timestamp without time zone') return `to_char(${quote(column)}, ${TIMESTAMP_FORMAT})`;
  return `${quote(column)}::text`;
}

function versionParam(placeholder: string, type: string): string {
  if (type === 'timestamp with time zone') return `(${placeholder}::timestamp AT TIME ZONE 'UTC')`;
  if (type === 'timestamp without time zone') return `${placeholder}::timestamp`;
  return `${placeholder}::${type}`;
}

/** Driver values as the capture mapping wants them: timestamps as ISO text with the microseconds the server has. */
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    switch (oid) {
      case 1184: // timestamptz, the session is in UTC
        return (text: string) => text.replace(' ', 'T').replace(/\+00$/, 'Z');
      case 1114: // timestamp (no zone: none is invented)
      case 1082: // date
      case 1083: // time
        return (text: string) => text.replace(' ', 'T');
      default:
        return pg.types.getTypeParser(oid, format as 'text');
    }
  },
};

class PostgresPollConnection implements PollConnection {
  constructor(private readonly client: pg.Client) {}

  async describe(table: string): Promise<PollTableShape | null> {
    const name = table.includes('.') ? table : `public.${table}`;
    const found = await this.client.query<{ oid: number; qualified: string }>(
      `SELECT c.oid::int AS oid, n.nspname || '.' || c.relname AS qualified FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'v', 'm', 'p', 'f')`,
      [quote(name)],
    );
    const relation = found.rows[0];
    if (!relation) return null;
    const columns = await this.client.query<{ name: string; type: string }>(
      `SELECT attname AS name, format_type(atttypid, NULL) AS type FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [relation.oid],
    );
    const key = await this.client.query<{ name: string }>(
      `SELECT a.attname AS name FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord`,
      [relation.oid],
    );
    return { table: relation.qualified, columns: columns.rows, primaryKey: key.rows.map((r) => r.name) };
  }

  async checkReadable(table: string, columns: readonly string[]): Promise<void> {
    await this.client.query(`SELECT ${columns.map(quote).join(', ')} FROM ${quote(table)} LIMIT 0`);
  }

  async watermark(query: WatermarkQuery): Promise<Watermark> {
    if (query.rule === 'xmin') {
      const r = await this.client.query<{ up_to: string }>(`SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::numeric - 1)::text AS up_to`);
      return { upTo: r.rows[0]!.up_to, overlapFrom: null, head: r.rows[0]!.up_to };
    }
    if (query.kind === 'timestamp') {
      // The server's clock, never the agent's; in the column's own frame (UTC for timestamptz, the server's zone for timestamp).
      const frame = query.versionType === 'timestamp with time zone' ? `'UTC'` : `(SELECT reset_val FROM pg_settings WHERE name = 'TimeZone')`;
      const r = await this.client.query<{ up_to: string; overlap_from: string; head: string }>(
        `WITH bound AS (
           SELECT LEAST(clock_timestamp(), COALESCE((SELECT min(xact_start) FROM pg_stat_activity WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()), clock_timestamp()))
                  - make_interval(secs => $1::double precision / 1000) AS t)
         SELECT to_char(t AT TIME ZONE ${frame}, ${TIMESTAMP_FORMAT}) AS up_to,
                to_char((t - make_interval(secs => $1::double precision / 1000)) AT TIME ZONE ${frame}, ${TIMESTAMP_FORMAT}) AS overlap_from,
                to_char(clock_timestamp() AT TIME ZONE ${frame}, ${TIMESTAMP_FORMAT}) AS head FROM bound`,
        [query.lagWindowMs],
      );
      return { upTo: r.rows[0]!.up_to, overlapFrom: r.rows[0]!.overlap_from, head: r.rows[0]!.head };
    }
    const maxOf = (table: string) => `(SELECT max(${quote(query.versionColumn)})::text FROM ${quote(table)})`;
    const tomb = query.tombstoneTable ? `, ${maxOf(query.tombstoneTable)}::numeric` : '';
    const r = await this.client.query<{ up_to: string | null }>(`SELECT GREATEST(${maxOf(query.table)}::numeric${tomb})::text AS up_to`);
    return { upTo: r.rows[0]!.up_to, overlapFrom: null, head: r.rows[0]!.up_to };
  }

  async read(range: RangeRead): Promise<RangePage> {
    const select = range.columns ? range.columns.map(quote).join(', ') : '*';
    const params: unknown[] = [range.watermark];
    const where = [`${quote(range.versionColumn)} <= ${versionParam('$1', range.versionType)}`];
    if (range.after) {
      params.push(range.after.version);
      const v = versionParam(`$${params.length}`, range.versionType);
      if (range.after.key === null) {
        where.push(`${quote(range.versionColumn)} > ${v}`);
      } else {
        const keyParams = range.after.key.map((value) => {
          params.push(value);
          return `$${params.length}`;
        });
        where.push(`(${quote(range.versionColumn)}, ${range.keyColumns.map(quote).join(', ')}) > (${v}, ${keyParams.join(', ')})`);
      }
    }
    if (range.filter) where.push(`(${range.filter})`);
    params.push(range.limit);
    const sql = `SELECT ${select}, ${versionText(range.versionColumn, range.versionType)} AS "__wl_version" FROM ${quote(range.table)}
      WHERE ${where.join(' AND ')} ORDER BY ${quote(range.versionColumn)}, ${range.keyColumns.map(quote).join(', ')} LIMIT $${params.length}`;
    const result = await this.client.query(sql, params);
    const columns = result.fields.map((f) => f.name).filter((n) => n !== '__wl_version');
    return {
      columns,
      rows: result.rows.map((raw: Record<string, unknown>) => {
        const row: Record<string, CaptureValue> = {};
        for (const name of columns) row[name] = canonicalValue(raw[name]);
        return { version: String(raw.__wl_version), key: range.keyColumns.map((k) => canonicalValue(raw[k])), row };
      }),
    };
  }

  async estimateRows(table: string): Promise<number | null> {
    const r = await this.client.query<{ n: number }>(`SELECT reltuples::float8 AS n FROM pg_class WHERE oid = to_regclass($1)`, [quote(table)]);
    const n = r.rows[0]?.n;
    return n === undefined || n < 0 ? null : Math.round(n);
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

/** SQLSTATEs the DBA fixes: the source stops with the fix instead of retrying. */
const SETUP_STATES: Record<string, string> = {
  '28P01': 'the password was refused: check connection.user and connection.passwordFile',
  '28000': 'the server refused the login (pg_hba.conf): allow the agent host for this user and database',
  '3D000': 'the database does not exist: check connection.database',
  '42501': 'permission denied: GRANT SELECT ON the table (and its tombstone table) TO the agent user, and USAGE ON its schema',
  '42P01': 'a polled table does not exist any more',
  '42703': 'a polled column does not exist any more',
};

export const postgresPollDialect: PollDialect = {
  name: 'postgres',
  quote,
  async connect(options: PollConnectOptions): Promise<PollConnection> {
    const client = new pg.Client({
      host: options.host,
      port: options.port,
      database: options.database,
      user: options.user,
      password: options.password,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: 'wardline-sql-poll',
      types: TYPES,
    });
    client.on('error', () => undefined); // a dropped connection fails the next query, which retries
    try {
      await client.connect();
      await client.query(`SET TIME ZONE 'UTC'`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return new PostgresPollConnection(client);
  },
  versionKind(type: string): VersionKind | undefined {
    if (NUMBER_TYPES.has(type)) return 'number';
    if (TIMESTAMP_TYPES.has(type)) return 'timestamp';
    return undefined;
  },
  watermarkRule(type: string): WatermarkRule {
    return type === 'xid8' ? 'xmin' : 'lag';
  },
  compareVersions: compareVersionTexts,
  setupProblem(error: unknown): string | undefined {
    if (error instanceof PollSetupProblem) return error.message;
    const code = (error as { code?: string }).code;
    if (code && code in SETUP_STATES) return `${SETUP_STATES[code]} (${(error as Error).message})`;
    return undefined;
  },
};
