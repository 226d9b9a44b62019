// The VendorCursorStore port (../vendor-cursor-store.ts) on PostgreSQL (schema
// v5): one upsert per flush, the most recent read winning under the row's
// lock, so two processes serving one vendor never move its cursor back to an
// older read.
import type { StoredVendorCursor, VendorCursorStore } from '../vendor-cursor-store.js';
import type { RelayDatabase } from './relay-database.js';

export class PgVendorCursorStore implements VendorCursorStore {
  constructor(private readonly database: RelayDatabase) {}

  async save(cursors: readonly StoredVendorCursor[]): Promise<void> {
    if (cursors.length === 0) return;
    // One cursor per key in one statement (ON CONFLICT may not touch a row twice).
    const latest = new Map<string, StoredVendorCursor>();
    for (const c of cursors) {
      const key = JSON.stringify([c.vendor, c.hospital, c.feed]);
      const seen = latest.get(key);
      if (!seen || c.lastReadAtMs >= seen.lastReadAtMs) latest.set(key, c);
    }
    const rows = [...latest.values()];
    await this.database.query(
      `INSERT INTO vendor_cursors (vendor, hospital, feed, cursor, last_read_at_ms, api)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[])
       ON CONFLICT (vendor, hospital, feed) DO UPDATE SET cursor = EXCLUDED.cursor, last_read_at_ms = EXCLUDED.last_read_at_ms, api = EXCLUDED.api
       WHERE EXCLUDED.last_read_at_ms >= vendor_cursors.last_read_at_ms`,
      [rows.map((r) => r.vendor), rows.map((r) => r.hospital), rows.map((r) => r.feed), rows.map((r) => r.cursor), rows.map((r) => r.lastReadAtMs), rows.map((r) => r.api)],
    );
  }

  async all(): Promise<StoredVendorCursor[]> {
    const { rows } = await this.database.query<{ vendor: string; hospital: string; feed: string; cursor: number; last_read_at_ms: number; api: 'http' | 'grpc' }>(
      'SELECT vendor, hospital, feed, cursor, last_read_at_ms, api FROM vendor_cursors ORDER BY vendor, hospital, feed',
    );
    return rows.map((r) => ({ vendor: r.vendor, hospital: r.hospital, feed: r.feed, cursor: r.cursor, lastReadAtMs: r.last_read_at_ms, api: r.api }));
  }

  async forgetFeed(hospital: string, feed: string): Promise<void> {
    await this.database.query('DELETE FROM vendor_cursors WHERE hospital = $1 AND feed = $2', [hospital, feed]);
  }
}
