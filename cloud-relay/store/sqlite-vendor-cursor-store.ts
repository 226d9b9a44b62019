// The VendorCursorStore port (vendor-cursor-store.ts) on relay.db (migrations 10
// and 12). It shares the file with the feed store, which has opened and migrated
// it before this opens its own connection (WAL: the two do not block each other's reads).
import Database from 'better-sqlite3';
import { migrate } from './migrations.js';
import { DEFAULT_BUSY_TIMEOUT_MS } from './sqlite-feed-store.js';
import type { CommittedConsumer, StoredVendorCursor, VendorCursorApi, VendorCursorStore } from './vendor-cursor-store.js';

type Key = [vendor: string, hospital: string, feed: string, consumer: string];
interface ReadRow { vendor: string; hospital: string; feed: string; consumer: string; cursor: number; last_read_at_ms: number; api: VendorCursorApi }
interface CommitRow { vendor: string; hospital: string; feed: string; consumer: string; cursor: number; committed_at_ms: number }

export class SqliteVendorCursorStore implements VendorCursorStore {
  private readonly upsert: Database.Statement<[string, string, string, string, number, number, string]>;
  private readonly select: Database.Statement<[], ReadRow>;
  private readonly upsertCommit: Database.Statement<[string, string, string, string, number, number]>;
  private readonly selectCommit: Database.Statement<Key, CommitRow>;
  private readonly selectCommits: Database.Statement<[], CommitRow>;
  private readonly deleteCommit: Database.Statement<Key>;
  private readonly deleteRead: Database.Statement<Key>;
  private readonly forgetReads: Database.Statement<[string, string]>;
  private readonly forgetCommits: Database.Statement<[string, string]>;

  private constructor(private readonly db: Database.Database) {
    this.upsert = db.prepare(
      `INSERT INTO vendor_cursors (vendor, hospital, feed, consumer, cursor, last_read_at_ms, api) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (vendor, hospital, feed, consumer) DO UPDATE SET cursor = excluded.cursor, last_read_at_ms = excluded.last_read_at_ms, api = excluded.api
       WHERE excluded.last_read_at_ms >= vendor_cursors.last_read_at_ms`,
    );
    this.select = db.prepare('SELECT vendor, hospital, feed, consumer, cursor, last_read_at_ms, api FROM vendor_cursors ORDER BY vendor, hospital, feed, consumer');
    this.upsertCommit = db.prepare(
      `INSERT INTO vendor_consumers (vendor, hospital, feed, consumer, cursor, committed_at_ms) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (vendor, hospital, feed, consumer) DO UPDATE SET cursor = excluded.cursor, committed_at_ms = excluded.committed_at_ms`,
    );
    const commitColumns = 'vendor, hospital, feed, consumer, cursor, committed_at_ms';
    this.selectCommit = db.prepare(`SELECT ${commitColumns} FROM vendor_consumers WHERE vendor = ? AND hospital = ? AND feed = ? AND consumer = ?`);
    this.selectCommits = db.prepare(`SELECT ${commitColumns} FROM vendor_consumers ORDER BY vendor, hospital, feed, consumer`);
    this.deleteCommit = db.prepare('DELETE FROM vendor_consumers WHERE vendor = ? AND hospital = ? AND feed = ? AND consumer = ?');
    this.deleteRead = db.prepare('DELETE FROM vendor_cursors WHERE vendor = ? AND hospital = ? AND feed = ? AND consumer = ?');
    this.forgetReads = db.prepare('DELETE FROM vendor_cursors WHERE hospital = ? AND feed = ?');
    this.forgetCommits = db.prepare('DELETE FROM vendor_consumers WHERE hospital = ? AND feed = ?');
  }

  /** Opens relay.db (already created private by the feed store) and migrates it. */
  static open(options: { file: string; busyTimeoutMs?: number }): SqliteVendorCursorStore {
    const db = new Database(options.file);
    try {
      db.pragma('journal_mode = WAL');
      // NORMAL: a last read lost to a power cut is the status page a few reads
      // behind, never data. A commit is written FULL (commit() below): the vendor
      // was told it is kept.
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
      for (const c of cursors) this.upsert.run(c.vendor, c.hospital, c.feed, c.consumer, c.cursor, c.lastReadAtMs, c.api);
    })();
  }

  async all(): Promise<StoredVendorCursor[]> {
    return this.select.all().map((r) => ({ vendor: r.vendor, hospital: r.hospital, feed: r.feed, consumer: r.consumer, cursor: r.cursor, lastReadAtMs: r.last_read_at_ms, api: r.api }));
  }

  async commit(p: CommittedConsumer): Promise<void> {
    // The vendor is answered "committed" after this returns: durable across a power cut.
    this.db.pragma('synchronous = FULL');
    try {
      this.upsertCommit.run(p.vendor, p.hospital, p.feed, p.consumer, p.cursor, p.committedAtMs);
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  async committed(vendor: string, hospital: string, feed: string, consumer: string): Promise<CommittedConsumer | null> {
    const row = this.selectCommit.get(vendor, hospital, feed, consumer);
    return row ? committedOf(row) : null;
  }

  async committedConsumers(): Promise<CommittedConsumer[]> {
    return this.selectCommits.all().map(committedOf);
  }

  async removeConsumer(vendor: string, hospital: string, feed: string, consumer: string): Promise<boolean> {
    return this.db.transaction(() => {
      const commits = this.deleteCommit.run(vendor, hospital, feed, consumer).changes;
      const reads = this.deleteRead.run(vendor, hospital, feed, consumer).changes;
      return commits + reads > 0;
    })();
  }

  async forgetFeed(hospital: string, feed: string): Promise<void> {
    this.db.transaction(() => {
      this.forgetReads.run(hospital, feed);
      this.forgetCommits.run(hospital, feed);
    })();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function committedOf(r: CommitRow): CommittedConsumer {
  return { vendor: r.vendor, hospital: r.hospital, feed: r.feed, consumer: r.consumer, cursor: r.cursor, committedAtMs: r.committed_at_ms };
}
