// Polling MySQL and MariaDB. Neither has a transaction-ordered column with an exact
// safe bound (AUTO_INCREMENT and CURRENT_TIMESTAMP are both drawn before commit), so
// every version column uses the `lag` rule (poll-dialect.ts): for a TIMESTAMP or
// DATETIME column the watermark is the older of now and the oldest active InnoDB
// transaction's start (information_schema.INNODB_TRX, which needs the PROCESS
// privilege; without it only the window protects), minus lagWindow; each poll
// re-reads one more window below and skips the (key, version) pairs it journaled.
// A DATETIME column is taken to be written in the server's time zone
// (@@global.time_zone), a TIMESTAMP is zoned by the server itself.
import mysql from 'mysql2/promise';
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

const NUMBER_TYPES = new Set(['bigint', 'int', 'mediumint', 'smallint', 'decimal']);
const TIMESTAMP_TYPES = new Set(['timestamp', 'datetime']);
const TIMESTAMP_FORMAT = `'%Y-%m-%dT%H:%i:%s.%f'`;
const ER_SPECIFIC_ACCESS_DENIED = 1227;

function quote(identifier: string): string {
  return identifier
    .split('.')
    .map((part) => `\`${part.replace(/`/g, '``')}\``)
    .join('.');
}

function versionText(column: string, type: string): string {
  return TIMESTAMP_TYPES.has(type) ? `DATE_FORMAT(${quote(column)}, ${TIMESTAMP_FORMAT})` : `CAST(${quote(column)} AS CHAR)`;
}

/** The parameter typed as the column, so BIGINT versions compare exactly (not as doubles). */
function versionParam(type: string): string {
  return TIMESTAMP_TYPES.has(type) ? 'CAST(? AS DATETIME(6))' : 'CAST(? AS DECIMAL(65,0))';
}

/** TIMESTAMP values in the session's UTC get their Z; DATETIME and DATE have no zone and get none. */
const typeCast: mysql.TypeCast = (field, next) => {
  if (field.type === 'TIMESTAMP' || field.type === 'DATETIME' || field.type === 'DATE') {
    const text = field.string();
    if (text === null) return null;
    const iso = text.replace(' ', 'T');
    return field.type === 'TIMESTAMP' ? `${iso}Z` : iso;
  }
  return next();
};

function splitTable(table: string): { schema: string | null; name: string } {
  const dot = table.indexOf('.');
  return dot < 0 ? { schema: null, name: table } : { schema: table.slice(0, dot), name: table.slice(dot + 1) };
}

class MysqlPollConnection implements PollConnection {
  /** False once INNODB_TRX was refused (no PROCESS privilege): the window alone bounds the watermark. */
  private seesTransactions = true;

  constructor(
    private readonly connection: mysql.Connection,
    private readonly warn: (message: string) => void,
  ) {}

  private async rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const [rows] = await this.connection.query(sql, params);
    return rows as T[];
  }

  async describe(table: string): Promise<PollTableShape | null> {
    const { schema, name } = splitTable(table);
    const found = await this.rows<{ s: string; t: string }>(
      'SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?',
      [schema, name],
    );
    const relation = found[0];
    if (!relation) return null;
    const columns = await this.rows<{ name: string; type: string }>(
      'SELECT COLUMN_NAME AS name, LOWER(DATA_TYPE) AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [relation.s, relation.t],
    );
    const key = await this.rows<{ name: string }>(
      `SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`,
      [relation.s, relation.t],
    );
    return { table: `${relation.s}.${relation.t}`, columns, primaryKey: key.map((r) => r.name) };
  }

  async checkReadable(table: string, columns: readonly string[]): Promise<void> {
    await this.rows(`SELECT ${columns.map(quote).join(', ')} FROM ${quote(table)} LIMIT 0`);
  }

  async watermark(query: WatermarkQuery): Promise<Watermark> {
    if (query.kind === 'timestamp') {
      const frame = (t: string) => (query.versionType === 'datetime' ? `CONVERT_TZ(${t}, '+00:00', @@global.time_zone)` : t);
      const oldest = this.seesTransactions ? '(SELECT MIN(trx_started) FROM information_schema.INNODB_TRX)' : 'NULL';
      const sql = `SELECT DATE_FORMAT(b - INTERVAL ? MICROSECOND, ${TIMESTAMP_FORMAT}) AS up_to, DATE_FORMAT(b - INTERVAL ? MICROSECOND, ${TIMESTAMP_FORMAT}) AS overlap_from,
        DATE_FORMAT(${frame('UTC_TIMESTAMP(6)')}, ${TIMESTAMP_FORMAT}) AS head
        FROM (SELECT ${frame(`LEAST(UTC_TIMESTAMP(6), COALESCE(${oldest}, UTC_TIMESTAMP(6)))`)} AS b) AS bound`;
      const window = query.lagWindowMs * 1000;
      try {
        const [r] = await this.rows<{ up_to: string; overlap_from: string; head: string }>(sql, [window, 2 * window]);
        return { upTo: r!.up_to, overlapFrom: r!.overlap_from, head: r!.head };
      } catch (error) {
        if ((error as { errno?: number }).errno !== ER_SPECIFIC_ACCESS_DENIED || !this.seesTransactions) throw error;
        this.seesTransactions = false;
        this.warn('cannot read information_schema.INNODB_TRX (GRANT PROCESS ON *.* TO the agent user): the watermark is bounded by lagWindow alone, and a transaction open longer than it can be missed');
        return this.watermark(query);
      }
    }
    const maxOf = (table: string) => `(SELECT CAST(MAX(${quote(query.versionColumn)}) AS DECIMAL(65,0)) FROM ${quote(table)})`;
    const sql = query.tombstoneTable
      ? `SELECT CAST(GREATEST(COALESCE(${maxOf(query.table)}, 0), COALESCE(${maxOf(query.tombstoneTable)}, 0)) AS CHAR) AS up_to`
      : `SELECT CAST(${maxOf(query.table)} AS CHAR) AS up_to`;
    const [r] = await this.rows<{ up_to: string | null }>(sql);
    return { upTo: r!.up_to, overlapFrom: null, head: r!.up_to };
  }

  async read(range: RangeRead): Promise<RangePage> {
    const select = range.columns ? range.columns.map(quote).join(', ') : '*';
    const params: unknown[] = [range.watermark];
    const where = [`${quote(range.versionColumn)} <= ${versionParam(range.versionType)}`];
    if (range.after) {
      params.push(range.after.version);
      if (range.after.key === null) {
        where.push(`${quote(range.versionColumn)} > ${versionParam(range.versionType)}`);
      } else {
        params.push(...range.after.key);
        where.push(`(${quote(range.versionColumn)}, ${range.keyColumns.map(quote).join(', ')}) > (${versionParam(range.versionType)}, ${range.keyColumns.map(() => '?').join(', ')})`);
      }
    }
    if (range.filter) where.push(`(${range.filter})`);
    params.push(range.limit);
    const sql = `SELECT ${select}, ${versionText(range.versionColumn, range.versionType)} AS __wl_version FROM ${quote(range.table)}
      WHERE ${where.join(' AND ')} ORDER BY ${quote(range.versionColumn)}, ${range.keyColumns.map(quote).join(', ')} LIMIT ?`;
    const [rows, fields] = await this.connection.query(sql, params);
    const columns = (fields as mysql.FieldPacket[]).map((f) => f.name).filter((n) => n !== '__wl_version');
    return {
      columns,
      rows: (rows as Record<string, unknown>[]).map((raw) => {
        const row: Record<string, CaptureValue> = {};
        for (const name of columns) row[name] = canonicalValue(raw[name]);
        return { version: String(raw.__wl_version), key: range.keyColumns.map((k) => canonicalValue(raw[k])), row };
      }),
    };
  }

  async estimateRows(table: string): Promise<number | null> {
    const { schema, name } = splitTable(table);
    const [r] = await this.rows<{ n: number | string | null }>('SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?', [schema, name]);
    return r?.n === null || r?.n === undefined ? null : Number(r.n);
  }

  async close(): Promise<void> {
    await this.connection.end().catch(() => this.connection.destroy());
  }
}

/** Server errors the DBA fixes: the source stops with the fix instead of retrying. */
const SETUP_ERRNOS: Record<number, string> = {
  1045: 'the password was refused: check connection.user and connection.passwordFile',
  1044: 'the user may not use this database: GRANT SELECT ON <database>.* TO the agent user',
  1049: 'the database does not exist: check connection.database',
  1142: 'permission denied: GRANT SELECT ON the table (and its tombstone table) TO the agent user',
  1143: 'permission denied on a column: GRANT SELECT on the polled columns TO the agent user',
  1146: 'a polled table does not exist any more',
  1054: 'a polled column does not exist any more',
};

export function mysqlPollDialect(warn: (message: string) => void = () => undefined): PollDialect {
  return {
    name: 'mysql',
    quote,
    async connect(options: PollConnectOptions): Promise<PollConnection> {
      const connection = await mysql.createConnection({
        host: options.host,
        port: options.port,
        database: options.database,
        user: options.user,
        password: options.password,
        connectTimeout: options.connectTimeoutMs,
        supportBigNumbers: true,
        bigNumberStrings: true,
        dateStrings: true,
        typeCast,
        timezone: 'Z',
      });
      connection.on('error', () => undefined); // a dropped connection fails the next query, which retries
      try {
        await connection.query(`SET time_zone = '+00:00'`);
      } catch (error) {
        connection.destroy();
        throw error;
      }
      return new MysqlPollConnection(connection, warn);
    },
    versionKind(type: string): VersionKind | undefined {
      if (NUMBER_TYPES.has(type)) return 'number';
      if (TIMESTAMP_TYPES.has(type)) return 'timestamp';
      return undefined;
    },
    watermarkRule(): WatermarkRule {
      return 'lag';
    },
    compareVersions: compareVersionTexts,
    setupProblem(error: unknown): string | undefined {
      if (error instanceof PollSetupProblem) return error.message;
      const errno = (error as { errno?: number }).errno;
      if (errno !== undefined && errno in SETUP_ERRNOS) return `${SETUP_ERRNOS[errno]} (${(error as Error).message})`;
      return undefined;
    },
  };
}
