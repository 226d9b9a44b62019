// The one step that keeps the local copy in step with the journal: after an event
// is written at `seq`, its (stream, key) record points at that row (upsert) or is
// gone (delete). Journal.append runs it for every event it journals, and a restore
// (agent/exit/restore.ts) for every event it writes back, so a restored local copy
// is built by the very code that built the original.
import type { Statement } from 'better-sqlite3';
import type { EventOp } from '../../protocol/index.js';
import type { SqliteDatabase } from './agent-database.js';

export class LocalCopyStep {
  private readonly upsertRecord: Statement;
  private readonly deleteRecord: Statement;

  constructor(db: SqliteDatabase) {
    this.upsertRecord = db.prepare(
      // Only the pointer: the version itself is the journal row (see migrations.ts, 5).
      `INSERT INTO records (stream, key, seq) VALUES (?, ?, ?)
       ON CONFLICT (stream, key) DO UPDATE SET seq = excluded.seq, ts_ms = NULL,
         source = NULL, content_type = NULL, body = NULL, headers = NULL`,
    );
    this.deleteRecord = db.prepare('DELETE FROM records WHERE stream = ? AND key = ?');
  }

  /** Applies the event journaled at `seq`; call inside the transaction that wrote it. */
  apply(event: { stream: string; key: string; op: EventOp }, seq: number): void {
    if (event.op === 'delete') this.deleteRecord.run(event.stream, event.key);
    else this.upsertRecord.run(event.stream, event.key, seq);
  }
}
