// A MySQL/MariaDB source's entry in agent.yaml (`sources[i]` with kind: mysql): the
// row-based binlog read as a replica, resumed by GTID.
//
// The server needs (checked at every start; each missing one stops the source
// with its fix): in my.cnf under [mysqld] `log_bin`, `binlog_format = ROW`,
// `binlog_row_image = FULL`, a `server_id`, on MySQL also `gtid_mode = ON` and
// `enforce_gtid_consistency = ON`; recommended `binlog_row_metadata = FULL` (the
// binlog then names each row's columns, so ALTER TABLE is decoded exactly, even
// one made while the agent was down) and binlogs kept longer than the agent may
// be down (`binlog_expire_logs_seconds`). The user: GRANT REPLICATION SLAVE,
// REPLICATION CLIENT (BINLOG MONITOR on MariaDB 10.5+) ON *.* and SELECT on each
// captured table. `serverId` must differ from every other replica of the server.
//
// `columns` is applied by the agent as each row is decoded, before anything is
// journaled: the binlog carries every column of a row and MySQL/MariaDB cannot
// leave one out at the source (only the snapshot's SELECT can). `filter` (a row
// filter in SQL) is refused for this kind: the binlog cannot be filtered by a WHERE
// at the server, and evaluating SQL in the agent would differ from the server's.
import { z } from 'zod';
import { CAPTURE_SOURCE_KEYS } from '../database/index.js';

export const MysqlSourceConfigSchema = z
  .strictObject({
    kind: z.literal('mysql'),
    ...CAPTURE_SOURCE_KEYS,
    /** The replica server id the agent presents (unique among the server's replicas). */
    serverId: z.number().int().min(1).max(4_294_967_295),
    /** Streaming with a commit-to-journal lag above this is `lagging`. Default 5 s. */
    lagThreshold: z.number().int().positive().default(5_000),
  })
  .check((ctx) => {
    ctx.value.tables.forEach((table, i) => {
      if (table.filter !== undefined) {
        ctx.issues.push({
          code: 'custom',
          path: ['tables', i, 'filter'],
          input: table.filter,
          message: 'a row filter is not supported for kind mysql: the binlog carries every row and cannot be filtered at the server; capture a table (or a table kept by a trigger) holding only the rows that may leave',
        });
      }
    });
  });
export type MysqlSourceConfig = z.output<typeof MysqlSourceConfigSchema>;
