// The VendorCursorStore port (../vendor-cursor-store.ts) on PostgreSQL (schemas
// v5 and v9): one upsert per flush, the most recent read winning under the row's
// lock, so two processes serving one vendor never move its last read back to an
// older read; a commit is one upsert, the last commit winning.
import type { CommittedConsumer, StoredVendorCursor, VendorCursorApi, VendorCursorStore } from '../vendor-cursor-store.js';
import type { RelayDatabase } from './relay-database.js';

interface CommitRow { vendor: string; hospital: string; feed: string; consumer: string; cursor: number; committed_at_ms: number }
const COMMIT_COLUMNS = 'vendor, hospital, feed, consumer, cursor, committed_at_ms';

export class PgVendorCursorStore implements VendorCursorStore {
  constructor(private readonly database: RelayDatabase) {}

  async save(cursors: readonly StoredVendorCursor[]): Promise<void> {
    if (cursors.length === 0) return;
    // One cursor per key in one statement (ON CONFLICT may not touch a row twice).
    const latest = new Map<string, StoredVendorCursor>();
    for (const c of cursors) {
      const key = JSON.stringify([c.vendor, c.hospital, c.feed, c.consumer]);
      const seen = latest.get(key);
      if (!seen || c.lastReadAtMs >= seen.lastReadAtMs) latest.set(key, c);
    }
    const rows = [...latest.values()];
    await this.database.query(
      `INSERT INTO vendor_cursors (vendor, hospital, feed, consumer, cursor, last_read_at_ms, api)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[])
       ON CONFLICT (vendor, hospital, feed, consumer) DO UPDATE SET cursor = EXCLUDED.cursor, last_read_at_ms = EXCLUDED.last_read_at_ms, api = EXCLUDED.api
       WHERE EXCLUDED.last_read_at_ms >= vendor_cursors.last_read_at_ms`,
      [rows.map((r) => r.vendor), rows.map((r) => r.hospital), rows.map((r) => r.feed), rows.map((r) => r.consumer), rows.map((r) => r.cursor), rows.map((r) => r.lastReadAtMs), rows.map((r) => r.api)],
    );
  }

  async all(): Promise<StoredVendorCursor[]> {
    const { rows } = await this.database.query<{ vendor: string; hospital: string; feed: string; consumer: string; cursor: number; last_read_at_ms: number; api: VendorCursorApi }>(
      'SELECT vendor, hospital, feed, consumer, cursor, last_read_at_ms, api FROM vendor_cursors ORDER BY vendor COLLATE "C", hospital COLLATE "C", feed COLLATE "C", consumer COLLATE "C"',
    );
    return rows.map((r) => ({ vendor: r.vendor, hospital: r.hospital, feed: r.feed, consumer: r.consumer, cursor: r.cursor, lastReadAtMs: r.last_read_at_ms, api: r.api }));
  }

  async commit(p: CommittedConsumer): Promise<void> {
    await this.database.query(
      `INSERT INTO vendor_consumers (${COMMIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (vendor, hospital, feed, consumer) DO UPDATE SET cursor = EXCLUDED.cursor, committed_at_ms = EXCLUDED.committed_at_ms`,
      [p.vendor, p.hospital, p.feed, p.consumer, p.cursor, p.committedAtMs],
    );
  }

  async committed(vendor: string, hospital: string, feed: string, consumer: string): Promise<CommittedConsumer | null> {
    const { rows } = await this.database.query<CommitRow>(`SELECT ${COMMIT_COLUMNS} FROM vendor_consumers WHERE vendor = $1 AND hospital = $2 AND feed = $3 AND consumer = $4`, [vendor, hospital, feed, consumer]);
    return rows[0] ? committedOf(rows[0]) : null;
  }

  async committedConsumers(): Promise<CommittedConsumer[]> {
    const { rows } = await this.database.query<CommitRow>(`SELECT ${COMMIT_COLUMNS} FROM vendor_consumers ORDER BY vendor COLLATE "C", hospital COLLATE "C", feed COLLATE "C", consumer COLLATE "C"`);
    return rows.map(committedOf);
  }

  async removeConsumer(vendor: string, hospital: string, feed: string, consumer: string): Promise<boolean> {
    const { rows } = await this.database.query<{ removed: string }>(
      `WITH c AS (DELETE FROM vendor_consumers WHERE vendor = $1 AND hospital = $2 AND feed = $3 AND consumer = $4 RETURNING 1),
            r AS (DELETE FROM vendor_cursors WHERE vendor = $1 AND hospital = $2 AND feed = $3 AND consumer = $4 RETURNING 1)
       SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM r) AS removed`,
      [vendor, hospital, feed, consumer],
    );
    return Number(rows[0]?.removed ?? 0) > 0;
  }

  async forgetFeed(hospital: string, feed: string): Promise<void> {
    await this.database.query(
      `WITH r AS (DELETE FROM vendor_cursors WHERE hospital = $1 AND feed = $2)
       DELETE FROM vendor_consumers WHERE hospital = $1 AND feed = $2`,
      [hospital, feed],
    );
  }
}

function committedOf(r: CommitRow): CommittedConsumer {
  return { vendor: r.vendor, hospital: r.hospital, feed: r.feed, consumer: r.consumer, cursor: Number(r.cursor), committedAtMs: Number(r.committed_at_ms) };
}
