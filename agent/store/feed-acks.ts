// The agent's copy of what each relay has acknowledged per feed. The relay's
// Welcome is the authority when a stream opens; this copy survives restarts so
// status and backlog figures are right before the line comes back.
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './agent-database.js';

export class FeedAcks {
  private readonly upsert: Statement;
  private readonly selectAll: Statement;

  constructor(
    db: SqliteDatabase,
    private readonly clock: () => number = Date.now,
  ) {
    this.upsert = db.prepare(
      `INSERT INTO feed_acks (feed, relay, acked_seq, updated_at_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (feed) DO UPDATE SET relay = excluded.relay, acked_seq = excluded.acked_seq,
         updated_at_ms = excluded.updated_at_ms`,
    );
    this.selectAll = db.prepare('SELECT feed, acked_seq FROM feed_acks');
  }

  record(feed: string, relay: string, ackedSeq: number): void {
    this.upsert.run(feed, relay, ackedSeq, this.clock());
  }

  all(): Map<string, number> {
    const rows = this.selectAll.all() as { feed: string; acked_seq: number }[];
    return new Map(rows.map((r) => [r.feed, r.acked_seq]));
  }
}
