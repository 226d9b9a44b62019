// What every change-capture source (postgres, mysql, sql-poll) shares in agent.yaml:
// the connection, the tables it captures and how each maps to a stream, and the
// snapshot and memory bounds. Each kind's own *-source-config.ts spreads these keys
// into its schema and adds what only it has (slot, server id, version column…).
import { z } from 'zod';
import { NameSchema, StreamNameSchema } from '../../../protocol/index.js';

/** An SQL identifier Wardline will quote itself: letters, digits, _ and $, not starting with a digit. */
export const SqlIdentifierSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, { error: 'expected an SQL identifier: letters, digits, "_" or "$", not starting with a digit, at most 63 characters' });

/** "table" or "schema.table". */
export const TableNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$/, { error: 'expected a table name such as "patients" or "his.patients"' });

export const DatabaseConnectionSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(1).max(65_535),
  database: z.string().min(1),
  user: z.string().min(1),
  /** A file holding the password (owner-only, as every secret file); absent = no password (trust, peer or certificate auth). */
  passwordFile: z.string().min(1).optional(),
  /** Seconds to wait for the server to answer a connection. Default 10. */
  connectTimeout: z.number().int().positive().default(10),
});
export type DatabaseConnectionConfig = z.output<typeof DatabaseConnectionSchema>;

export const CaptureTableSchema = z.strictObject({
  table: TableNameSchema,
  /** The journal stream; default `<source>.<table>`. */
  stream: StreamNameSchema.optional(),
  /**
   * The columns that may leave the database, primary key included. Where the server
   * supports it (PostgreSQL publication column lists, the SELECT of a snapshot or a
   * poll) the others are never sent to the agent at all. Absent = every column.
   */
  columns: z.array(SqlIdentifierSchema).min(1).optional(),
  /** A row filter in the server's SQL (a PostgreSQL publication WHERE, the WHERE of a snapshot or poll). */
  filter: z.string().min(1).optional(),
  /** The key columns where the table (or a view) has no primary key the server can report. */
  key: z.array(SqlIdentifierSchema).min(1).optional(),
});
export type CaptureTableConfig = z.output<typeof CaptureTableSchema>;

/** Keys every change-capture source has, spread into each kind's strictObject. */
export const CAPTURE_SOURCE_KEYS = {
  name: NameSchema,
  connection: DatabaseConnectionSchema,
  tables: z.array(CaptureTableSchema).min(1, { error: 'expected at least one table to capture' }),
  /** `initial`: copy every existing row before streaming (default); `never`: stream changes from now on. */
  snapshot: z.enum(['initial', 'never']).default('initial'),
  /** Rows per snapshot chunk; a killed snapshot resumes at the chunk it was in. Default 10,000. */
  snapshotChunkRows: z.number().int().min(1).max(1_000_000).default(10_000),
  /** A source transaction with more rows than this is staged on disk until its commit instead of held in memory. Default 10,000. */
  maxTransactionRowsInMemory: z.number().int().min(1).default(10_000),
  /** Still accepted when the disk is critical. */
  critical: z.boolean().default(false),
};

/** The stream a captured table's rows go to: its own, or `<source>.<table>`. */
export function captureStream(source: string, table: CaptureTableConfig): string {
  return table.stream ?? `${source}.${table.table}`;
}
