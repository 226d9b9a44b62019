// SinkCursorStore on the relay's PostgreSQL database (schema v6): the same
// single-statement decisions as relay.db's, which here also settle races
// between relay processes — INSERT … ON CONFLICT DO UPDATE … WHERE takes the
// row lock, so of two processes taking an expired lease one updates the row
// and the other, re-checking the WHERE against the new row, updates nothing.
import type { SinkCursor, SinkCursorStore, SinkFeedKey, SinkLease } from '../../sinks/index.js';
import type { RelayDatabase } from './relay-database.js';
import { cursorOf, leaseOf, type CursorRow, type LeaseRow } from '../../sinks/index.js';

export interface PgSinkCursorStoreOptions {
  database: RelayDatabase;
  now?: () => number;
}

export class PgSinkCursorStore implements SinkCursorStore {
  private readonly database: RelayDatabase;
  private readonly now: () => number;

  private constructor(options: PgSinkCursorStoreOptions) {
    this.database = options.database;
    this.now = options.now ?? Date.now;
  }

  /** Assumes migratePostgres ran. The database is the caller's: close() leaves it open. */
  static async open(options: PgSinkCursorStoreOptions): Promise<PgSinkCursorStore> {
    return new PgSinkCursorStore(options);
  }

  async cursor(key: SinkFeedKey): Promise<SinkCursor> {
    const result = await this.database.query<CursorRow>('SELECT * FROM sink_cursors WHERE sink = $1 AND hospital = $2 AND feed = $3', [key.sink, key.hospital, key.feed]);
    const row = result.rows[0];
    return row ? cursorOf(row) : { ...key, publishedSeq: 0, subjectSeq: 0, updatedAtMs: 0 };
  }

  async cursors(sink?: string): Promise<SinkCursor[]> {
    const result =
      sink === undefined
        ? await this.database.query<CursorRow>('SELECT * FROM sink_cursors ORDER BY sink, hospital, feed', [])
        : await this.database.query<CursorRow>('SELECT * FROM sink_cursors WHERE sink = $1 ORDER BY hospital, feed', [sink]);
    return result.rows.map(cursorOf);
  }

  async advance(key: SinkFeedKey, holder: string, publishedSeq: number, subjectSeq: number): Promise<boolean> {
    const now = this.now();
    const result = await this.database.query(
      `INSERT INTO sink_cursors (sink, hospital, feed, published_seq, subject_seq, updated_at_ms)
       SELECT $1, $2, $3, $4, $5, $6
       WHERE EXISTS (SELECT 1 FROM sink_leases WHERE sink = $1 AND hospital = $2 AND feed = $3 AND holder = $7 AND expires_at_ms > $6)
       ON CONFLICT (sink, hospital, feed) DO UPDATE SET published_seq = excluded.published_seq, subject_seq = excluded.subject_seq, updated_at_ms = excluded.updated_at_ms
       WHERE excluded.published_seq > sink_cursors.published_seq`,
      [key.sink, key.hospital, key.feed, publishedSeq, subjectSeq, now, holder],
    );
    return result.rowCount === 1;
  }

  async takeLease(key: SinkFeedKey, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const result = await this.database.query(
      `INSERT INTO sink_leases (sink, hospital, feed, holder, expires_at_ms) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (sink, hospital, feed) DO UPDATE SET holder = excluded.holder, expires_at_ms = excluded.expires_at_ms
       WHERE sink_leases.holder = excluded.holder OR sink_leases.expires_at_ms <= $6`,
      [key.sink, key.hospital, key.feed, holder, now + ttlMs, now],
    );
    return result.rowCount === 1;
  }

  async releaseLease(key: SinkFeedKey, holder: string): Promise<void> {
    await this.database.query('DELETE FROM sink_leases WHERE sink = $1 AND hospital = $2 AND feed = $3 AND holder = $4', [key.sink, key.hospital, key.feed, holder]);
  }

  async leases(sink?: string): Promise<SinkLease[]> {
    const result =
      sink === undefined
        ? await this.database.query<LeaseRow>('SELECT * FROM sink_leases ORDER BY sink, hospital, feed', [])
        : await this.database.query<LeaseRow>('SELECT * FROM sink_leases WHERE sink = $1 ORDER BY hospital, feed', [sink]);
    return result.rows.map(leaseOf);
  }

  async close(): Promise<void> {}
}
