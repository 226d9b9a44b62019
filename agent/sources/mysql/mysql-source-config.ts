// A MySQL/MariaDB source's entry in agent.yaml (`sources[i]` with kind: mysql): the
// row-based binlog read as a replica, resumed by GTID.
import { z } from 'zod';
import { CAPTURE_SOURCE_KEYS } from '../database/index.js';

export const MysqlSourceConfigSchema = z.strictObject({
  kind: z.literal('mysql'),
  ...CAPTURE_SOURCE_KEYS,
  /** The replica server id the agent presents (unique among the server's replicas). */
  serverId: z.number().int().min(1).max(4_294_967_295),
  /** Streaming with a commit-to-journal lag above this is `lagging`. Default 5 s. */
  lagThreshold: z.number().int().positive().default(5_000),
});
export type MysqlSourceConfig = z.output<typeof MysqlSourceConfigSchema>;
