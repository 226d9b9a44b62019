// A captured table as the server describes it (information_schema), and its rows
// as journal values. The binlog (zongji) and the snapshot's SELECT (mysql2) hand
// the same column in different JavaScript shapes; valueOf() turns both into one,
// so a snapshot row and a streamed row of the same content have the same body:
// BIGINT and DECIMAL as strings, BLOB/BINARY/BIT base64, DATE "YYYY-MM-DD",
// DATETIME and TIMESTAMP ISO 8601 in UTC (DATETIME has no zone in MySQL: its wall
// clock is read as UTC, both connections run with timezone 'Z' and the session
// time_zone '+00:00'), JSON columns (MySQL JSON, MariaDB's json_valid LONGTEXT) as JSON.
import { canonicalValue, type CaptureRow, type CaptureTableConfig, type CaptureValue } from '../database/index.js';

export type ColumnKind = 'integer' | 'bigint' | 'decimal' | 'float' | 'text' | 'set' | 'binary' | 'date' | 'datetime' | 'time' | 'year' | 'json';

/** information_schema DATA_TYPE -> how its values are carried. Anything else is refused at start. */
const KIND_OF_TYPE: Record<string, ColumnKind> = {
  tinyint: 'integer',
  smallint: 'integer',
  mediumint: 'integer',
  int: 'integer',
  bigint: 'bigint',
  decimal: 'decimal',
  float: 'float',
  double: 'float',
  char: 'text',
  varchar: 'text',
  tinytext: 'text',
  text: 'text',
  mediumtext: 'text',
  longtext: 'text',
  enum: 'text',
  set: 'set',
  binary: 'binary',
  varbinary: 'binary',
  tinyblob: 'binary',
  blob: 'binary',
  mediumblob: 'binary',
  longblob: 'binary',
  bit: 'binary',
  date: 'date',
  datetime: 'datetime',
  timestamp: 'datetime',
  time: 'time',
  year: 'year',
  json: 'json',
};

export function columnKind(dataType: string): ColumnKind | undefined {
  return KIND_OF_TYPE[dataType.toLowerCase()];
}

/** The kind of a column from its COLUMN_TYPE ("int(11) unsigned" -> int); JSON-checked text columns are json. */
export function kindOfColumnType(columnType: string, isJson: boolean): ColumnKind | undefined {
  if (isJson) return 'json';
  return columnKind(/^[a-z]+/i.exec(columnType)?.[0] ?? columnType);
}

export const SUPPORTED_TYPES = Object.keys(KIND_OF_TYPE);

export interface TableColumn {
  name: string;
  /** information_schema COLUMN_TYPE, e.g. "decimal(10,2)". */
  type: string;
  kind: ColumnKind;
}

export interface CapturedTable {
  config: CaptureTableConfig;
  /** The database (schema) and table as the server names them. */
  database: string;
  table: string;
  /** "db.table": the events' `table` header. */
  qualified: string;
  stream: string;
  /** Every column of the table, in order. */
  columns: TableColumn[];
  /** The key columns, in key order (the primary key or config `key`). */
  key: string[];
  /** The columns journaled: config `columns` plus the key; every column (now or added later) when the config names none. */
  selected: string[];
}

/** The shape every consumer reads, from whichever driver read the value. */
export function valueOf(kind: ColumnKind, value: unknown): CaptureValue {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'bigint':
    case 'decimal':
      return String(value);
    case 'binary':
      return Buffer.isBuffer(value) ? value.toString('base64') : Buffer.from(String(value)).toString('base64');
    case 'date':
      return value instanceof Date ? (Number.isNaN(value.getTime()) ? String(value) : value.toISOString().slice(0, 10)) : String(value);
    case 'datetime':
      return value instanceof Date ? canonicalValue(value) : String(value);
    case 'set':
      return Array.isArray(value) ? value.join(',') : String(value);
    case 'json':
      if (typeof value === 'string') {
        try {
          return canonicalValue(JSON.parse(value));
        } catch {
          return value;
        }
      }
      return canonicalValue(value);
    case 'integer':
    case 'year':
      return typeof value === 'number' ? value : Number(value);
    default:
      return canonicalValue(value);
  }
}

/**
 * The journaled body of a row read by either driver: the selected columns only.
 * `columns` are the ones the row was decoded with (a binlog event's own table
 * map, which after an ALTER TABLE may differ from the table's columns now).
 */
export function rowOf(table: CapturedTable, raw: Record<string, unknown>, columns: readonly TableColumn[] = table.columns): CaptureRow {
  const row: CaptureRow = {};
  for (const column of columns) {
    if (table.config.columns !== undefined && !table.selected.includes(column.name)) continue;
    row[column.name] = valueOf(column.kind, raw[column.name]);
  }
  return row;
}

export function keyOf(table: CapturedTable, raw: Record<string, unknown>): CaptureValue[] {
  return table.key.map((name) => valueOf(table.columns.find((c) => c.name === name)!.kind, raw[name]));
}

/**
 * Orders two keys as the server's ORDER BY on the key does, for the snapshot's
 * "already copied?" test: numeric columns by value (exactly, as BigInt where
 * integral), text by code point. Code-point order is the server's order for
 * binary and _bin collations; a case- or accent-insensitive collation can order
 * some text keys differently, so capture such a table with a numeric key.
 */
export function compareKeys(table: CapturedTable, a: readonly CaptureValue[], b: readonly CaptureValue[]): number {
  for (let i = 0; i < table.key.length; i++) {
    const kind = table.columns.find((c) => c.name === table.key[i])!.kind;
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    if (x === null) return -1;
    if (y === null) return 1;
    let order: number;
    if (kind === 'integer' || kind === 'bigint' || kind === 'year') {
      const bx = BigInt(String(x));
      const by = BigInt(String(y));
      order = bx < by ? -1 : bx > by ? 1 : 0;
    } else if (kind === 'decimal' || kind === 'float') {
      order = Number(x) - Number(y);
    } else {
      const sx = String(x);
      const sy = String(y);
      order = sx < sy ? -1 : sx > sy ? 1 : 0;
    }
    if (order !== 0) return order < 0 ? -1 : 1;
  }
  return 0;
}

/** The column types the binlog's TABLE_MAP gives, as the signature of a schema version. */
export function tableMapSignature(columnTypes: readonly number[]): string {
  return columnTypes.join(',');
}
