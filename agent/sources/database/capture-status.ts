// What a change-capture source reports beyond every source's counts: where it is
// (snapshotting n%, streaming, lagging, paused, stopped with the reason), how far
// behind the database's commits the journal is, rows/s, what the server retains for
// it, and the last error. Served under SourceStatus.capture on /v1/status, drawn by
// the dashboard, exported to /metrics, and alerted once per state change.

/**
 * - `starting`: connecting and checking the server's settings.
 * - `snapshotting`: copying the rows that existed before streaming began.
 * - `streaming`: caught up, commit-to-journal lag under its threshold.
 * - `lagging`: streaming, but the journal is behind the database by more than the threshold.
 * - `paused`: the agent's admission check refuses input (disk critical); the server keeps the changes.
 * - `retrying`: the server cannot be reached or dropped the connection; retried with backoff.
 * - `stopped`: will not capture until fixed (`reason` says what and how), or the agent is stopping.
 */
export type CaptureState = 'starting' | 'snapshotting' | 'streaming' | 'lagging' | 'paused' | 'retrying' | 'stopped';
export const CAPTURE_STATES: readonly CaptureState[] = ['starting', 'snapshotting', 'streaming', 'lagging', 'paused', 'retrying', 'stopped'];

export interface SnapshotProgress {
  /** The table being copied now (null when done). */
  table: string | null;
  rowsCopied: number;
  /** The server's estimate of the rows to copy (planner statistics), null when unknown. */
  rowsEstimated: number | null;
  /** 0–100, from rowsCopied / rowsEstimated over every table; null when unknown. */
  percent: number | null;
  tablesDone: number;
  tablesTotal: number;
}

export interface RetainedLog {
  /** PostgreSQL: the slot's retained WAL; MySQL/MariaDB: binlog bytes after the saved position. */
  bytes: number | null;
  /** The budget the server enforces (max_slot_wal_keep_size) or the agent was given; null = none. */
  budgetBytes: number | null;
  /** PostgreSQL's wal_status (reserved, extended, unreserved, lost); the binlog file for MySQL. */
  status: string | null;
  /** At the current write rate, seconds until the budget is used up; null when not filling. */
  secondsToBudget: number | null;
}

export interface CaptureStatus {
  state: CaptureState;
  /** Why it is stopped, paused or retrying, naming the table or setting and the fix. */
  reason: string | null;
  /** The position last committed with its events (LSN, GTID set, watermark), as text. */
  position: string | null;
  /** The schema version last recorded (bumped by ADD/DROP COLUMN). */
  schemaVersion: number | null;
  snapshot: SnapshotProgress | null;
  /** Commit in the database to commit in the journal, last transaction, ms. */
  lagMs: number | null;
  /** Rows journaled per second over the last minute. */
  rowsPerSecond: number;
  /** Transactions journaled since start. */
  transactions: number;
  retained: RetainedLog | null;
  /**
   * The last error, and its stable code when it has one (`WL_A024` setup, `WL_A025`
   * position lost: CaptureSetupError / CapturePositionLostError `.code`). The
   * capture-position-lost alert is raised from `code`.
   */
  lastError: { atMs: number; message: string; code?: string } | null;
}
