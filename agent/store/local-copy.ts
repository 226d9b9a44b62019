// Reads of the local copy: the current state of every (stream, key), kept in step
// with the journal by Journal.append. Served to local applications even when the
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

  constructor(db: SqliteDatabase) {
    this.selectOne = db.prepare(
      'SELECT stream, key, seq, ts_ms, source, content_type, body, headers FROM records WHERE stream = ? AND key = ?',
    );
    this.countByStream = db.prepare('SELECT stream, COUNT(*) AS records FROM records GROUP BY stream ORDER BY stream');
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

  /** Records held per stream. */
  counts(): { stream: string; records: number }[] {
    return this.countByStream.all() as { stream: string; records: number }[];
  }
}
