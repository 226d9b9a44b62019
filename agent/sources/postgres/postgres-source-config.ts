// A PostgreSQL source's entry in agent.yaml (`sources[i]` with kind: postgres):
// logical replication (pgoutput) through a persistent slot and a publication.
import { z } from 'zod';
import { CAPTURE_SOURCE_KEYS, SqlIdentifierSchema } from '../database/index.js';

export const PostgresSourceConfigSchema = z.strictObject({
  kind: z.literal('postgres'),
  ...CAPTURE_SOURCE_KEYS,
  /** The replication slot (persistent, never temporary). Default `wardline_<source>` with "-" and "." as "_". */
  slot: SqlIdentifierSchema.optional(),
  /** The publication listing the tables (created by the DBA, README "Database sources"). Default the slot's name. */
  publication: SqlIdentifierSchema.optional(),
  /** Streaming with a commit-to-journal lag above this is `lagging`. Default 5 s. */
  lagThreshold: z.number().int().positive().default(5_000),
  /** How often the position is confirmed to the server while idle (and a heartbeat keeps idle slots advancing). Default 10 s. */
  heartbeatInterval: z.number().int().positive().default(10_000),
});
export type PostgresSourceConfig = z.output<typeof PostgresSourceConfigSchema>;

/** The slot and publication names a source uses. */
export function postgresSlotNames(source: PostgresSourceConfig): { slot: string; publication: string } {
  const slot = source.slot ?? `wardline_${source.name.replace(/[^A-Za-z0-9_]/g, '_')}`.toLowerCase();
  return { slot, publication: source.publication ?? slot };
}
