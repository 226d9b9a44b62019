// What the source needs to poll one configured table, found on the server and
// checked once per connection: the qualified name, the key columns (the primary key
// or `key:`), the version column's type and watermark rule, the tombstone table, the
// columns to select. Every way the table is not fit to poll becomes a
// PollSetupProblem naming the source, the table, the column and the fix.
import { captureStream } from '../database/index.js';
import { PollSetupProblem, type PollConnection, type PollDialect, type VersionKind, type WatermarkRule } from './poll-dialect.js';
import type { SqlPollSourceConfig } from './sql-poll-source-config.js';

type TableConfig = SqlPollSourceConfig['tables'][number];

export interface PollTablePlan {
  /** The table as configured: the key of its position. */
  name: string;
  /** As the server names it, for the headers and the reads. */
  table: string;
  stream: string;
  keyColumns: string[];
  versionColumn: string;
  versionType: string;
  kind: VersionKind;
  rule: WatermarkRule;
  /** The columns to select: the configured ones plus the key, version and deleted columns; absent = every column. */
  selectColumns?: string[];
  filter?: string;
  deletedColumn?: string;
  tombstone?: { table: string; versionType: string };
}

export async function planTable(source: SqlPollSourceConfig, index: number, config: TableConfig, connection: PollConnection, dialect: PollDialect): Promise<PollTablePlan> {
  const at = `tables[${index}]`;
  const problem = (message: string) => new PollSetupProblem(message);
  const shape = await connection.describe(config.table);
  if (!shape) {
    throw problem(`table or view "${config.table}" (${at}.table) does not exist in database ${source.connection.database}, or the user ${source.connection.user} cannot see it: create it, correct ${at}.table, or GRANT SELECT ON it TO ${source.connection.user}`);
  }
  const columnNames = new Set(shape.columns.map((c) => c.name));
  const version = shape.columns.find((c) => c.name === config.versionColumn);
  if (!version) {
    throw problem(`table ${shape.table} has no column "${config.versionColumn}" (${at}.versionColumn): add a version column (see the README: an xid8 or update-sequence column maintained by a trigger, or a timestamp) or name the right one`);
  }
  const kind = dialect.versionKind(version.type);
  if (!kind) {
    throw problem(`column ${shape.table}.${version.name} is of type ${version.type}, which cannot order changes (${at}.versionColumn): use an integer, ${dialect.name === 'postgres' ? 'xid8, ' : ''}or timestamp column`);
  }
  const keyColumns = config.key ?? shape.primaryKey;
  if (keyColumns.length === 0) {
    throw problem(`table ${shape.table} has no primary key: add one (ALTER TABLE ${config.table} ADD PRIMARY KEY (…)) or set ${at}.key to the columns that identify a row (a view always needs key)`);
  }
  for (const column of keyColumns) {
    if (!columnNames.has(column)) throw problem(`table ${shape.table} has no column "${column}" (${at}.key): name columns of the table`);
  }
  if (config.columns) {
    for (const column of config.columns) if (!columnNames.has(column)) throw problem(`table ${shape.table} has no column "${column}" (${at}.columns)`);
  }
  if (config.deletedColumn && !columnNames.has(config.deletedColumn)) {
    throw problem(`table ${shape.table} has no column "${config.deletedColumn}" (${at}.deletedColumn): add it or remove deletedColumn`);
  }
  const selectColumns = config.columns ? [...new Set([...config.columns, ...keyColumns, config.versionColumn, ...(config.deletedColumn ? [config.deletedColumn] : [])])] : undefined;
  await connection.checkReadable(shape.table, selectColumns ?? [...columnNames]);

  let tombstone: PollTablePlan['tombstone'];
  if (config.tombstoneTable) {
    const tomb = await connection.describe(config.tombstoneTable);
    if (!tomb) {
      throw problem(`tombstone table "${config.tombstoneTable}" (${at}.tombstoneTable) does not exist, or the user ${source.connection.user} cannot see it: create it (the key columns and ${config.versionColumn}, filled by an AFTER DELETE trigger) or GRANT SELECT ON it`);
    }
    const tombColumns = new Map(tomb.columns.map((c) => [c.name, c.type]));
    for (const column of [...keyColumns, config.versionColumn]) {
      if (!tombColumns.has(column)) throw problem(`tombstone table ${tomb.table} has no column "${column}" (${at}.tombstoneTable): it needs the key columns and the version column ${config.versionColumn}`);
    }
    await connection.checkReadable(tomb.table, [...keyColumns, config.versionColumn]);
    tombstone = { table: tomb.table, versionType: tombColumns.get(config.versionColumn)! };
  }

  return {
    name: config.table,
    table: shape.table,
    stream: captureStream(source.name, config),
    keyColumns,
    versionColumn: config.versionColumn,
    versionType: version.type,
    kind,
    rule: dialect.watermarkRule(version.type),
    selectColumns,
    filter: config.filter,
    deletedColumn: config.deletedColumn,
    tombstone,
  };
}
