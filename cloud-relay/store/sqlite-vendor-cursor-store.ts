// The VendorCursorStore port (vendor-cursor-store.ts) on relay.db (migration 10).
// It shares the file with the feed store, which has opened and migrated it
// before this opens its own connection (WAL: the two do not block each other's reads).
import Database from 'better-sqlite3';
import { migrate } from './migrations.js';
import { DEFAULT_BUSY_TIMEOUT_MS } from './sqlite-feed-store.js';
import type { StoredVendorCursor, VendorCursorStore } from './vendor-cursor-store.js';

export class SqliteVendorCursorStore implements VendorCursorStore {
  private readonly upsert: Database.Statement<[string, string, string, number, number, string]>;
  private readonly select: Database.Statement<[], { vendor: string; hospital: string; feed: string; cursor: number; last_read_at_ms: number; api: 'http' | 'grpc' }>;
  private readonly forget: Database.Statement<[string, string]>;

  private constructor(private readonly db: Database.Database) {
    this.upsert = db.prepare(
      `INSERT INTO vendor_cursors (vendor, hospital, feed, cursor, last_read_at_ms, api) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (vendor, hospital, feed) DO UPDATE SET cursor = excluded.cursor, last_read_at_ms = excluded.last_read_at_ms, api = excluded.api
       WHERE excluded.last_read_at_ms >= vendor_cursors.last_read_at_ms`,
    );
    this.select = db.prepare('SELECT vendor, hospital, feed, cursor, last_read_at_ms, api FROM vendor_cursors ORDER BY vendor, hospital, feed');
    this.forget = db.prepare('DELETE FROM vendor_cursors WHERE hospital = ? AND feed = ?');
  }

  /** Opens relay.db (already created private by the feed store) and migrates it. */
  static open(options: { file: string; busyTimeoutMs?: number }): SqliteVendorCursorStore {
    const db = new Database(options.file);
    try {
      db.pragma('journal_mode = WAL');
      // NORMAL: a cursor lost to a power cut is the status page a few reads behind, never data.
      db.pragma('synchronous = NORMAL');
      db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`);
      migrate(db, options.file);
      return new SqliteVendorCursorStore(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  async save(cursors: readonly StoredVendorCursor[]): Promise<void> {
    this.db.transaction(() => {
      for (const c of cursors) this.upsert.run(c.vendor, c.hospital, c.feed, c.cursor, c.lastReadAtMs, c.api);
    })();
  }

  async all(): Promise<StoredVendorCursor[]> {
    return this.select.all().map((r) => ({ vendor: r.vendor, hospital: r.hospital, feed: r.feed, cursor: r.cursor, lastReadAtMs: r.last_read_at_ms, api: r.api }));
  }

  async forgetFeed(hospital: string, feed: string): Promise<void> {
    this.forget.run(hospital, feed);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
