// The agent's copy of what each relay has acknowledged per feed. The relay's
// Welcome is the authority when a stream opens; this copy survives restarts so
// status and backlog figures are right before the line comes back.
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './agent-database.js';

export class FeedAcks {
  private readonly upsert: Statement;
  private readonly selectAll: Statement;
  private readonly countAfter: Statement;

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
    this.countAfter = db.prepare(
      `SELECT COUNT(*) AS events, COALESCE(SUM(LENGTH(body)), 0) AS bytes, MIN(ts_ms) AS oldest_ts_ms
       FROM journal WHERE seq > ? AND stream IN (SELECT value FROM json_each(?))`,
    );
  }

  record(feed: string, relay: string, ackedSeq: number): void {
    this.upsert.run(feed, relay, ackedSeq, this.clock());
  }

  all(): Map<string, number> {
    const rows = this.selectAll.all() as { feed: string; acked_seq: number }[];
    return new Map(rows.map((r) => [r.feed, r.acked_seq]));
  }

  /** The events of `streams` after `ackedSeq`: what the feed still owes the relay. */
  backlog(streams: readonly string[], ackedSeq: number): { events: number; bytes: number; oldestTsMs: number | null } {
    const row = this.countAfter.get(ackedSeq, JSON.stringify(streams)) as { events: number; bytes: number; oldest_ts_ms: number | null };
    return { events: row.events, bytes: row.bytes, oldestTsMs: row.oldest_ts_ms };
  }
}
