// Reads of the local copy: the current state of every (stream, key), kept in step
// with the journal by Journal.append (a record points at the journal row of its
// current version, which the trimmer never deletes). Served to local applications even when the
// line to the relay is down.
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './agent-database.js';

export interface LocalRecord {
  stream: string;
  key: string;
  /** The journal seq of the event that produced this version. */
  seq: number;
  tsMs: number;
  source: string;
  contentType: string;
  body: Buffer;
  headers: Record<string, string>;
}

export class LocalCopy {
  private readonly selectOne: Statement;
  private readonly countByStream: Statement;
  private readonly keysOfStream: Statement;

  constructor(db: SqliteDatabase) {
    this.selectOne = db.prepare(
      // A record's version lives in the journal row it points at; records written
      // before migration 5 carry their own copy (see migrations.ts).
      `SELECT r.stream, r.key, r.seq, COALESCE(r.ts_ms, j.ts_ms) AS ts_ms, COALESCE(r.source, j.source) AS source,
              COALESCE(r.content_type, j.content_type) AS content_type, COALESCE(r.body, j.body) AS body,
              COALESCE(r.headers, j.headers) AS headers
       FROM records r LEFT JOIN journal j ON r.body IS NULL AND j.seq = r.seq
       WHERE r.stream = ? AND r.key = ?`,
    );
    this.countByStream = db.prepare('SELECT stream, COUNT(*) AS records FROM records GROUP BY stream ORDER BY stream');
    this.keysOfStream = db.prepare('SELECT key FROM records WHERE stream = ?').pluck();
  }

  get(stream: string, key: string): LocalRecord | undefined {
    const row = this.selectOne.get(stream, key) as
      | { stream: string; key: string; seq: number; ts_ms: number; source: string; content_type: string; body: Buffer; headers: string }
      | undefined;
    if (!row) return undefined;
    return {
      stream: row.stream,
      key: row.key,
      seq: row.seq,
      tsMs: row.ts_ms,
      source: row.source,
      contentType: row.content_type,
      body: row.body,
      headers: JSON.parse(row.headers) as Record<string, string>,
    };
  }

  /**
   * Every key the stream holds (in no particular order): what a capture source's
   * re-snapshot compares with the table, to journal the rows deleted while its
   * change log was lost.
   */
  keys(stream: string): string[] {
    return this.keysOfStream.all(stream) as string[];
  }

  /** Records held per stream. */
  counts(): { stream: string; records: number }[] {
    return this.countByStream.all() as { stream: string; records: number }[];
  }
}
