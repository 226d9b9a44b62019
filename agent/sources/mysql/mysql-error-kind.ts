// What a MySQL/MariaDB error means for the source: fix the setup (stop), the
// position is gone from the server (alert, re-snapshot), or try again (the server
// restarted, the network dropped). Pure, so the decision has its own tests.

export type MysqlErrorKind = 'setup' | 'position-lost' | 'retry';

/** Server error numbers that no retry will cure. */
const SETUP_ERRNOS = new Set([
  1044, // ER_DBACCESS_DENIED_ERROR
  1045, // ER_ACCESS_DENIED_ERROR (wrong password)
  1049, // ER_BAD_DB_ERROR
  1142, // ER_TABLEACCESS_DENIED_ERROR
  1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR (REPLICATION SLAVE missing)
  1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
]);

/**
 * The binlog the saved position needs is not on the server: 1236 is "could not
 * find GTID state requested by slave in any binlog files … purged" (and "could
 * not find first log file name" for a file+offset); MariaDB reports a position
 * ahead of its binlog (a server restored from backup) as 1945 / 1955.
 */
const POSITION_LOST_ERRNOS = new Set([1236, 1945, 1955]);

/**
 * zongji's words for a binlog row event it cannot decode with the columns
 * information_schema has now (a column added or dropped since the event was
 * written, with binlog_row_metadata not FULL): a retry reads the same event again.
 */
export const SCHEMA_DRIFT = /schema changed between binlog event and metadata fetch/i;

export function mysqlErrorKind(error: unknown): MysqlErrorKind {
  if (error instanceof Error && SCHEMA_DRIFT.test(error.message)) return 'setup';
  const errno = (error as { errno?: unknown } | null)?.errno;
  if (typeof errno === 'number') {
    if (POSITION_LOST_ERRNOS.has(errno)) return 'position-lost';
    if (SETUP_ERRNOS.has(errno)) return 'setup';
  }
  return 'retry';
}
