// A polling source's entry in agent.yaml (`sources[i]` with kind: sql-poll): tables or
// views (中间表) read by a monotonic column up to a safe watermark.
import { z } from 'zod';
import { CAPTURE_SOURCE_KEYS, CaptureTableSchema, SqlIdentifierSchema } from '../database/index.js';

export const SqlPollTableSchema = CaptureTableSchema.extend({
  /** The monotonic column (row version, update sequence, timestamp) read up to the watermark. */
  versionColumn: SqlIdentifierSchema,
  /** A table of deleted keys (the key columns and the version column, filled by an AFTER DELETE trigger), where the schema has one. */
  tombstoneTable: z.string().min(1).optional(),
  /** A column marking a row deleted (true / non-zero / non-null), where the schema has one. */
  deletedColumn: SqlIdentifierSchema.optional(),
});

export const SqlPollSourceConfigSchema = z.strictObject({
  kind: z.literal('sql-poll'),
  ...CAPTURE_SOURCE_KEYS,
  tables: z.array(SqlPollTableSchema).min(1, { error: 'expected at least one table to poll' }),
  /** postgres and mysql (MySQL/MariaDB) are tested; sqlserver and oracle follow the documented dialect interface. */
  dialect: z.enum(['postgres', 'mysql']),
  /** How often each table is read when caught up (a full page is followed at once by the next). Default 1 s. */
  interval: z.number().int().positive().default(1_000),
  /**
   * The `lag` rule (every mysql version column; postgres sequence and timestamp
   * columns, not xid8): the watermark stays this far behind now (and behind the
   * oldest open transaction's start where the server shows it), and each poll
   * re-reads one more window, skipping rows already journaled. A transaction that
   * commits a row more than about two windows after drawing its version, unseen by
   * the server's transaction list, can be missed: set it above the longest write
   * transaction. Default 5 s.
   */
  lagWindow: z.number().int().nonnegative().default(5_000),
});
export type SqlPollSourceConfig = z.output<typeof SqlPollSourceConfigSchema>;
