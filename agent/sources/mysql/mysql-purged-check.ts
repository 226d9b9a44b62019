// Whether the server still holds every transaction after a saved GTID position.
// The server is asked first (MariaDB answers a dump request for a purged position
// with error 1236), but that is not all: this check runs before every resume, so a
// purge is reported the same way whatever the server version does with a position
// older than its oldest binlog.
//
// MariaDB: the oldest binlog file begins with a Gtid_list event, the last GTID per
// domain before it; a saved position behind it in any domain needs purged events.
// MySQL: @@gtid_purged must be within the saved set (GTID_SUBSET).
import type mysql from 'mysql2/promise';
import { isMysqlGtidSet } from './mysql-position.js';

type Row = Record<string, unknown>;

/** A description of what is missing, or undefined when the server has everything after `saved`. */
export async function purgedAfter(connection: mysql.Connection, saved: string, isMariaDb: boolean): Promise<string | undefined> {
  if (!isMariaDb || isMysqlGtidSet(saved)) {
    if (!isMysqlGtidSet(saved) && saved !== '') return undefined;
    const [rows] = await connection.query('SELECT GTID_SUBSET(@@GLOBAL.gtid_purged, ?) AS ok, @@GLOBAL.gtid_purged AS purged', [saved]);
    const row = (rows as Row[])[0]!;
    return Number(row.ok) === 1 ? undefined : `the server purged ${String(row.purged)}`;
  }
  const [logs] = await connection.query('SHOW BINARY LOGS');
  const oldest = (logs as Row[])[0]?.Log_name;
  if (oldest === undefined) return undefined;
  const [events] = await connection.query(`SHOW BINLOG EVENTS IN ${connection.escape(String(oldest))} LIMIT 4`);
  const list = (events as Row[]).find((e) => e.Event_type === 'Gtid_list');
  if (!list) return undefined;
  const before = String(list.Info).replace(/^\[|\]$/g, '').trim();
  if (before === '') return undefined;
  const have = new Map(
    saved
      .split(',')
      .filter(Boolean)
      .map((entry) => {
        const [domain, , seq] = entry.trim().split('-');
        return [domain!, BigInt(seq!)] as const;
      }),
  );
  for (const entry of before.split(',')) {
    const [domain, , seq] = entry.trim().split('-');
    const reached = have.get(domain!);
    if (reached === undefined || reached < BigInt(seq!)) return `the oldest binlog ${String(oldest)} begins after ${before}`;
  }
  return undefined;
}
