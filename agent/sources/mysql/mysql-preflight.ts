// The checks a MySQL/MariaDB server must pass before the source reads its binlog:
// the binlog on, in ROW format with FULL row images; the user may read the binlog
// (REPLICATION SLAVE) and see it (REPLICATION CLIENT / BINLOG MONITOR) and SELECT
// each table; every table exists, has a primary key (or config `key`) and only
// column types the source can carry. Each failure is a CaptureSetupError naming
// the setting or table and the fix. Returns the tables as the server describes them.
import type mysql from 'mysql2/promise';
import { captureStream, CaptureSetupError, type CaptureTableConfig } from '../database/index.js';
import { kindOfColumnType, SUPPORTED_TYPES, type CapturedTable, type TableColumn } from './mysql-table.js';

export interface PreflightResult {
  tables: CapturedTable[];
  isMariaDb: boolean;
  /** binlog_row_metadata (MINIMAL/NO_LOG/FULL); FULL makes ALTER TABLE mid-stream exact. */
  rowMetadata: string | null;
}

type Row = Record<string, unknown>;

async function rows(connection: mysql.Connection, sql: string, params: unknown[] = []): Promise<Row[]> {
  const [result] = await connection.query(sql, params);
  return result as Row[];
}

async function variable(connection: mysql.Connection, name: string): Promise<string | null> {
  const found = await rows(connection, 'SHOW GLOBAL VARIABLES LIKE ?', [name]);
  return found.length > 0 ? String(found[0]!.Value) : null;
}

export async function preflight(source: string, connection: mysql.Connection, database: string, configs: readonly CaptureTableConfig[]): Promise<PreflightResult> {
  const version = String((await rows(connection, 'SELECT VERSION() AS v'))[0]!.v);
  const isMariaDb = /mariadb/i.test(version);
  const cnf = (line: string): string => `(and in my.cnf under [mysqld]: ${line}, so it survives a restart)`;

  const logBin = await variable(connection, 'log_bin');
  if (logBin !== 'ON' && logBin !== '1') {
    throw new CaptureSetupError(source, `the server's binary log is off (log_bin=${logBin ?? 'unknown'}): set in my.cnf under [mysqld] log_bin = binlog, binlog_format = ROW, binlog_row_image = FULL and server_id = 1, and restart the server`);
  }
  const format = await variable(connection, 'binlog_format');
  if (format?.toUpperCase() !== 'ROW') {
    throw new CaptureSetupError(source, `binlog_format is ${format ?? 'unknown'}, row changes need ROW: run SET GLOBAL binlog_format = 'ROW' ${cnf('binlog_format = ROW')}`);
  }
  const image = await variable(connection, 'binlog_row_image');
  if (image !== null && image.toUpperCase() !== 'FULL') {
    throw new CaptureSetupError(source, `binlog_row_image is ${image}, whole rows need FULL: run SET GLOBAL binlog_row_image = 'FULL' ${cnf('binlog_row_image = FULL')}`);
  }
  if (!isMariaDb) {
    const gtidMode = await variable(connection, 'gtid_mode');
    if (gtidMode?.toUpperCase() !== 'ON') {
      throw new CaptureSetupError(source, `gtid_mode is ${gtidMode ?? 'unknown'}, resuming by GTID needs ON: set gtid_mode = ON and enforce_gtid_consistency = ON in my.cnf under [mysqld] and restart the server`);
    }
  }
  const rowMetadata = await variable(connection, 'binlog_row_metadata');

  await checkGrants(source, connection, isMariaDb);

  const tables: CapturedTable[] = [];
  for (const config of configs) tables.push(await describeTable(source, connection, database, config));
  return { tables, isMariaDb, rowMetadata };
}

/** REPLICATION SLAVE to read the binlog, REPLICATION CLIENT (BINLOG MONITOR on MariaDB) for SHOW BINARY LOGS. */
async function checkGrants(source: string, connection: mysql.Connection, isMariaDb: boolean): Promise<void> {
  const grants = (await rows(connection, 'SHOW GRANTS FOR CURRENT_USER()'))
    .map((row) => String(Object.values(row)[0]))
    .filter((grant) => / ON \*\.\* TO /i.test(grant))
    .join('\n')
    .toUpperCase();
  const all = grants.includes('ALL PRIVILEGES');
  const user = String((await rows(connection, 'SELECT CURRENT_USER() AS u'))[0]!.u).replace(/^(.*)@(.*)$/, "'$1'@'$2'");
  const missing: string[] = [];
  if (!all && !grants.includes('REPLICATION SLAVE')) missing.push('REPLICATION SLAVE');
  if (!all && !grants.includes('REPLICATION CLIENT') && !grants.includes('BINLOG MONITOR') && !grants.includes('SUPER')) missing.push(isMariaDb ? 'BINLOG MONITOR' : 'REPLICATION CLIENT');
  if (missing.length > 0) {
    throw new CaptureSetupError(source, `the user lacks ${missing.join(' and ')} to read the binlog: run GRANT ${missing.join(', ')} ON *.* TO ${user}`);
  }
}

async function describeTable(source: string, connection: mysql.Connection, defaultDatabase: string, config: CaptureTableConfig): Promise<CapturedTable> {
  const [database, table] = config.table.includes('.') ? (config.table.split('.') as [string, string]) : [defaultDatabase, config.table];
  const qualified = `${database}.${table}`;
  const columnRows = await rows(
    connection,
    'SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [database, table],
  );
  if (columnRows.length === 0) {
    throw new CaptureSetupError(source, `table ${qualified} does not exist (or the user cannot see it): create it, or run GRANT SELECT ON ${database}.${table} TO the source's user, or remove it from sources[].tables`);
  }
  const primary = (
    await rows(
      connection,
      "SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
      [database, table],
    )
  ).map((row) => String(row.name));
  const key = config.key ?? primary;
  if (key.length === 0) {
    throw new CaptureSetupError(source, `table ${qualified} has no primary key, so its rows cannot be told apart: add one (ALTER TABLE ${qualified} ADD PRIMARY KEY (…)) or name the key columns in tables[].key`);
  }
  const names = new Set(columnRows.map((row) => String(row.name)));
  for (const name of [...key, ...(config.columns ?? [])]) {
    if (!names.has(name)) throw new CaptureSetupError(source, `table ${qualified} has no column ${name} (named in tables[].${config.key?.includes(name) ? 'key' : 'columns'}): correct the name`);
  }
  // The binlog carries every column (MySQL cannot leave one out at the source);
  // a column not in `columns` is dropped here, before anything is journaled.
  const isSelected = (name: string): boolean => config.columns === undefined || config.columns.includes(name) || key.includes(name);
  const jsonColumns = await jsonCheckedColumns(connection, database, table);
  const columns: TableColumn[] = [];
  for (const row of columnRows) {
    const name = String(row.name);
    const type = String(row.type);
    const kind = kindOfColumnType(type, jsonColumns.has(name));
    if (kind === undefined && isSelected(name)) {
      throw new CaptureSetupError(
        source,
        `column ${qualified}.${name} has type ${type}, which the source cannot carry: leave it out with tables[].columns, or change its type (supported: ${SUPPORTED_TYPES.join(', ')})`,
      );
    }
    columns.push({ name, type, kind: kind ?? 'text' });
  }
  const selected = columns.map((c) => c.name).filter(isSelected);
  try {
    await connection.query(`SELECT ${selected.map(quoteIdentifier).join(', ')} FROM ${quoteIdentifier(database)}.${quoteIdentifier(table)} LIMIT 0`);
  } catch (error) {
    if ((error as { errno?: number }).errno === 1142 || (error as { errno?: number }).errno === 1143) {
      throw new CaptureSetupError(source, `the user may not SELECT from ${qualified}: run GRANT SELECT ON ${database}.${table} TO the source's user`, { cause: error });
    }
    throw error;
  }
  return { config, database, table, qualified, stream: captureStream(source, config), columns, key, selected };
}

/** MariaDB's JSON is LONGTEXT with a json_valid() check; those columns are journaled as JSON. */
async function jsonCheckedColumns(connection: mysql.Connection, database: string, table: string): Promise<Set<string>> {
  try {
    const checks = await rows(connection, 'SELECT CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?', [database, table]);
    const names = new Set<string>();
    for (const check of checks) {
      const match = /^json_valid\(`([^`]+)`\)$/i.exec(String(check.clause).trim());
      if (match) names.add(match[1]!);
    }
    return names;
  } catch {
    return new Set();
  }
}

export function quoteIdentifier(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}
