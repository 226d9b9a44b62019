// A polling source's entry in agent.yaml (`sources[i]` with kind: sql-poll): tables or
// views (中间表) read by a monotonic column up to a safe watermark.
import { z } from 'zod';
import { CAPTURE_SOURCE_KEYS, CaptureTableSchema, SqlIdentifierSchema } from '../database/index.js';

export const SqlPollTableSchema = CaptureTableSchema.extend({
  /** The monotonic column (row version, update sequence, timestamp) read up to the watermark. */
  versionColumn: SqlIdentifierSchema,
  /** A table of deleted keys (key columns and the version column), where the schema has one. */
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
  /** How often each table is read. Default 1 s. */
  interval: z.number().int().positive().default(1_000),
  /** mysql: rows newer than now minus this are left for the next poll (no snapshot of in-flight transactions). Default 5 s. */
  lagWindow: z.number().int().nonnegative().default(5_000),
});
export type SqlPollSourceConfig = z.output<typeof SqlPollSourceConfigSchema>;
