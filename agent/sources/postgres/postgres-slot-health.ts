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
}

/** Reads the slot's row from pg_replication_slots over an ordinary (not replication) connection. */
export async function readSlotHealth(client: Pick<pg.Client, 'query'>, slot: string): Promise<SlotHealth> {
  const result = await client.query<{
    active: boolean;
    confirmed_flush_lsn: string | null;
    wal_status: string | null;
    retained: string | null;
    budget: string | null;
  }>(
    `SELECT s.active, s.confirmed_flush_lsn::text, s.wal_status,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint::text AS retained,
            CASE WHEN current_setting('max_slot_wal_keep_size') = '-1' THEN NULL
                 ELSE (pg_size_bytes(current_setting('max_slot_wal_keep_size')))::bigint::text END AS budget
       FROM pg_replication_slots s WHERE s.slot_name = $1`,
    [slot],
  );
  const row = result.rows[0];
  if (!row) return { exists: false, active: false, confirmedFlushLsn: null, walStatus: null, bytes: null, budgetBytes: null, status: null, secondsToBudget: null };
  const bytes = row.retained === null ? null : Number(row.retained);
  const budgetBytes = row.budget === null ? null : Number(row.budget);
  return {
    exists: true,
    active: row.active,
    confirmedFlushLsn: row.confirmed_flush_lsn,
    walStatus: row.wal_status,
    bytes,
    budgetBytes,
    status: row.wal_status,
    secondsToBudget: null,
  };
}

/**
 * Seconds until the retained bytes reach the budget, from readings over time (a
 * least-squares slope over the last few minutes, so one burst does not swing it).
 * Null when the budget is unlimited or the retained WAL is not growing.
 */
export class WalBudgetForecast {
  private readonly readings: { atMs: number; bytes: number }[] = [];

  constructor(private readonly windowMs = 5 * 60_000) {}

  observe(atMs: number, bytes: number): void {
    this.readings.push({ atMs, bytes });
    while (this.readings.length > 2 && this.readings[0]!.atMs < atMs - this.windowMs) this.readings.shift();
  }

  secondsToBudget(budgetBytes: number | null): number | null {
    if (budgetBytes === null || this.readings.length < 2) return null;
    const n = this.readings.length;
    const meanT = this.readings.reduce((s, r) => s + r.atMs, 0) / n;
    const meanB = this.readings.reduce((s, r) => s + r.bytes, 0) / n;
    let num = 0;
    let den = 0;
    for (const r of this.readings) {
      num += (r.atMs - meanT) * (r.bytes - meanB);
      den += (r.atMs - meanT) ** 2;
    }
    const bytesPerMs = den === 0 ? 0 : num / den;
    if (bytesPerMs <= 0) return null;
    const last = this.readings[n - 1]!.bytes;
    return Math.max(0, (budgetBytes - last) / bytesPerMs / 1000);
  }
}
