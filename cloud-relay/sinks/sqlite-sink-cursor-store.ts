// SinkCursorStore on relay.db (migration 9). One relay process owns relay.db,
// so the lease only matters across a restart (a killed process's lease runs
// out after its ttl); each decision is still one statement, as on PostgreSQL.
import Database from 'better-sqlite3';
import { dirname } from 'node:path';
import { makePrivateDir, preparePrivateSqliteFile } from '../../runtime/index.js';
import { migrate } from '../store/index.js';
import type { SinkCursor, SinkCursorStore, SinkFeedKey, SinkLease } from './sink-cursor-store.js';
import { cursorOf, leaseOf, type CursorRow, type LeaseRow } from './sink-cursor-rows.js';

const BUSY_TIMEOUT_MS = 5_000;

export interface SqliteSinkCursorStoreOptions {
  /** relay.db */
  file: string;
  now?: () => number;
}

export class SqliteSinkCursorStore implements SinkCursorStore {
  private readonly now: () => number;
  private readonly statements;

  private constructor(
    private readonly db: Database.Database,
    options: SqliteSinkCursorStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.statements = {
      cursor: db.prepare<[string, string, string], CursorRow>('SELECT * FROM sink_cursors WHERE sink = ? AND hospital = ? AND feed = ?'),
      allCursors: db.prepare<[], CursorRow>('SELECT * FROM sink_cursors ORDER BY sink, hospital, feed'),
      sinkCursors: db.prepare<[string], CursorRow>('SELECT * FROM sink_cursors WHERE sink = ? ORDER BY hospital, feed'),
      // The lease check and the write are one statement: the cursor moves only for the live holder.
      advance: db.prepare<[Keyed & { published: number; subject: number; now: number; holder: string }]>(`
        INSERT INTO sink_cursors (sink, hospital, feed, published_seq, subject_seq, updated_at_ms)
        SELECT @sink, @hospital, @feed, @published, @subject, @now
        WHERE EXISTS (SELECT 1 FROM sink_leases WHERE sink = @sink AND hospital = @hospital AND feed = @feed AND holder = @holder AND expires_at_ms > @now)
        ON CONFLICT (sink, hospital, feed) DO UPDATE SET published_seq = excluded.published_seq, subject_seq = excluded.subject_seq, updated_at_ms = excluded.updated_at_ms
        WHERE excluded.published_seq > sink_cursors.published_seq`),
      takeLease: db.prepare<[Keyed & { holder: string; expires: number; now: number }]>(`
        INSERT INTO sink_leases (sink, hospital, feed, holder, expires_at_ms) VALUES (@sink, @hospital, @feed, @holder, @expires)
        ON CONFLICT (sink, hospital, feed) DO UPDATE SET holder = excluded.holder, expires_at_ms = excluded.expires_at_ms
        WHERE sink_leases.holder = excluded.holder OR sink_leases.expires_at_ms <= @now`),
      release: db.prepare<[string, string, string, string]>('DELETE FROM sink_leases WHERE sink = ? AND hospital = ? AND feed = ? AND holder = ?'),
      allLeases: db.prepare<[], LeaseRow>('SELECT * FROM sink_leases ORDER BY sink, hospital, feed'),
      sinkLeases: db.prepare<[string], LeaseRow>('SELECT * FROM sink_leases WHERE sink = ? ORDER BY hospital, feed'),
    };
  }

  static open(options: SqliteSinkCursorStoreOptions): SqliteSinkCursorStore {
    makePrivateDir(dirname(options.file));
    preparePrivateSqliteFile(options.file);
    const db = new Database(options.file);
    try {
      // As the feed store: WAL, so the sink's writes never block ingest for long; FULL, since a cursor
      // that moved is what a restarted sink trusts (and reconciles against the stream anyway).
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      migrate(db, options.file);
      return new SqliteSinkCursorStore(db, options);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  async cursor(key: SinkFeedKey): Promise<SinkCursor> {
    const row = this.statements.cursor.get(key.sink, key.hospital, key.feed);
    return row ? cursorOf(row) : { ...key, publishedSeq: 0, subjectSeq: 0, updatedAtMs: 0 };
  }

  async cursors(sink?: string): Promise<SinkCursor[]> {
    return (sink === undefined ? this.statements.allCursors.all() : this.statements.sinkCursors.all(sink)).map(cursorOf);
  }

  async advance(key: SinkFeedKey, holder: string, publishedSeq: number, subjectSeq: number): Promise<boolean> {
    const now = this.now();
    return this.statements.advance.run({ ...keyed(key), published: publishedSeq, subject: subjectSeq, now, holder }).changes === 1;
  }

  async takeLease(key: SinkFeedKey, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    return this.statements.takeLease.run({ ...keyed(key), holder, expires: now + ttlMs, now }).changes === 1;
  }

  async releaseLease(key: SinkFeedKey, holder: string): Promise<void> {
    this.statements.release.run(key.sink, key.hospital, key.feed, holder);
  }

  async leases(sink?: string): Promise<SinkLease[]> {
    return (sink === undefined ? this.statements.allLeases.all() : this.statements.sinkLeases.all(sink)).map(leaseOf);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

type Keyed = { sink: string; hospital: string; feed: string };

// Only the key's own fields: better-sqlite3 refuses named parameters the statement does not use.
function keyed(key: SinkFeedKey): Keyed {
  return { sink: key.sink, hospital: key.hospital, feed: key.feed };
}
