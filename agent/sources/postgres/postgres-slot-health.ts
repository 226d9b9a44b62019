// What the server retains for a source's replication slot while the agent is
// behind or away: retained WAL bytes (from the slot's restart_lsn), wal_status
// (reserved, extended, unreserved, lost), the budget max_slot_wal_keep_size sets,
// and a forecast of when the budget is used up at the current rate. A slot whose
// wal_status is `lost` cannot be resumed: the source must alert and re-snapshot.
import type pg from 'pg';
import type { RetainedLog } from '../database/index.js';

export interface SlotHealth extends RetainedLog {
  /** The slot exists on the server. */
  exists: boolean;
  /** A walsender is attached to it. */
  active: boolean;
  /** What the server holds as confirmed by the agent (confirmed_flush_lsn). */
  confirmedFlushLsn: string | null;
  /** PostgreSQL's wal_status; `lost` = invalidated, its WAL removed. */
  walStatus: string | null;
  /**
   * The server's own count of the WAL that can still be written before the slot is
   * in danger of being lost (safe_wal_size); negative once past the budget, null when
   * the budget is unlimited or the slot is lost.
   */
  safeWalBytes: number | null;
}

/** The order of wal_status from healthy to gone; a slot only moves back from `unreserved` if its walsender catches up. */
export const WAL_STATUS_ORDER: readonly string[] = ['reserved', 'extended', 'unreserved', 'lost'];

const MISSING: SlotHealth = {
  exists: false,
  active: false,
  confirmedFlushLsn: null,
  walStatus: null,
  safeWalBytes: null,
  bytes: null,
  budgetBytes: null,
  status: null,
  secondsToBudget: null,
};

export interface ReadSlotHealthOptions {
  /** Observes the retained bytes and fills secondsToBudget from it (keep one per slot across reads). */
  forecast?: WalBudgetForecast;
  /** The time of the reading for the forecast; default Date.now(). */
  nowMs?: number;
}

/**
 * Reads the slot's row from pg_replication_slots over an ordinary (not replication)
 * connection. The retained bytes are measured from the server's current WAL position
 * (the replay position on a standby, where pg_current_wal_lsn() refuses) to the slot's
 * restart_lsn, the oldest WAL the slot still needs; that is what max_slot_wal_keep_size
 * limits. Bigints come back as text and are converted here (WAL sizes fit a double).
 */
export async function readSlotHealth(client: Pick<pg.Client, 'query'>, slot: string, options: ReadSlotHealthOptions = {}): Promise<SlotHealth> {
  const result = await client.query<{
    active: boolean;
    confirmed_flush_lsn: string | null;
    wal_status: string | null;
    retained: string | null;
    safe_wal_size: string | null;
    budget: string | null;
  }>(
    `SELECT s.active, s.confirmed_flush_lsn::text, s.wal_status,
            pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END,
                            s.restart_lsn)::bigint::text AS retained,
            s.safe_wal_size::text,
            CASE WHEN current_setting('max_slot_wal_keep_size') = '-1' THEN NULL
                 ELSE pg_size_bytes(current_setting('max_slot_wal_keep_size'))::text END AS budget
       FROM pg_replication_slots s WHERE s.slot_name = $1`,
    [slot],
  );
  const row = result.rows[0];
  if (!row) return { ...MISSING };
  const lost = row.wal_status === 'lost';
  // A lost slot's restart_lsn is gone: it retains nothing, and the budget no longer applies to it.
  const bytes = lost || row.retained === null ? null : Number(row.retained);
  const budgetBytes = row.budget === null ? null : Number(row.budget);
  let secondsToBudget: number | null = null;
  if (options.forecast && bytes !== null) {
    options.forecast.observe(options.nowMs ?? Date.now(), bytes);
    secondsToBudget = options.forecast.secondsToBudget(budgetBytes);
  }
  return {
    exists: true,
    active: row.active,
    confirmedFlushLsn: row.confirmed_flush_lsn,
    walStatus: row.wal_status,
    safeWalBytes: row.safe_wal_size === null ? null : Number(row.safe_wal_size),
    bytes,
    budgetBytes,
    status: row.wal_status,
    secondsToBudget,
  };
}

/** Retained bytes as a share of the budget (0–1, above 1 past it); null without a budget or a reading. */
export function budgetShare(health: Pick<RetainedLog, 'bytes' | 'budgetBytes'>): number | null {
  if (health.bytes === null || health.budgetBytes === null) return null;
  if (health.budgetBytes === 0) return health.bytes > 0 ? Infinity : 0;
  return health.bytes / health.budgetBytes;
}

/**
 * Seconds until the retained bytes reach the budget, from readings over time (a
 * least-squares slope over the last few minutes, so one burst does not swing it).
 * Null when the budget is unlimited or the retained WAL is not growing; 0 once past it.
 * The slope is the server's WAL write rate while the agent is away, and the write
 * rate less what the agent confirms while it is behind.
 */
export class WalBudgetForecast {
  private readonly readings: { atMs: number; bytes: number }[] = [];

  constructor(private readonly windowMs = 5 * 60_000) {}

  observe(atMs: number, bytes: number): void {
    const last = this.readings[this.readings.length - 1];
    // A clock that stepped back would give a meaningless slope: start over from this reading.
    if (last && atMs < last.atMs) this.readings.length = 0;
    this.readings.push({ atMs, bytes });
    while (this.readings.length > 2 && this.readings[0]!.atMs < atMs - this.windowMs) this.readings.shift();
  }

  /** Forget the readings (the slot was dropped and created again, or re-snapshotted). */
  reset(): void {
    this.readings.length = 0;
  }

  /** Retained WAL growth in bytes per second over the window; null before two readings apart in time. */
  bytesPerSecond(): number | null {
    const n = this.readings.length;
    if (n < 2) return null;
    const meanT = this.readings.reduce((s, r) => s + r.atMs, 0) / n;
    const meanB = this.readings.reduce((s, r) => s + r.bytes, 0) / n;
    let num = 0;
    let den = 0;
    for (const r of this.readings) {
      num += (r.atMs - meanT) * (r.bytes - meanB);
      den += (r.atMs - meanT) ** 2;
    }
    return den === 0 ? null : (num / den) * 1000;
  }

  secondsToBudget(budgetBytes: number | null): number | null {
    if (budgetBytes === null || this.readings.length === 0) return null;
    const last = this.readings[this.readings.length - 1]!.bytes;
    if (last >= budgetBytes) return 0;
    const rate = this.bytesPerSecond();
    if (rate === null || rate <= 0) return null;
    return (budgetBytes - last) / rate;
  }
}
