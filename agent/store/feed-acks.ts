// The agent's copy of what each relay has acknowledged per feed. The relay's
// Welcome is the authority when a stream opens; this copy survives restarts so
// status and backlog figures are right before the line comes back.
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './agent-database.js';

/** When a seq was acknowledged: in (afterMs, atMs]; afterMs undefined when the history holds nothing older. */
export interface AckedAt {
  atMs: number;
  afterMs: number | undefined;
}

export class FeedAcks {
  private readonly upsert: Statement;
  private readonly selectAll: Statement;
  private readonly insertHistory: Statement;
  private readonly trimHistory: Statement;
  private readonly selectAckedBy: Statement;
  private readonly selectAckedBefore: Statement;
  private readonly recordWithHistory: (feed: string, relay: string, ackedSeq: number, atMs: number) => void;

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
    this.insertHistory = db.prepare('INSERT INTO feed_ack_history (feed, acked_seq, at_ms) VALUES (?, ?, ?) ON CONFLICT (feed, acked_seq) DO NOTHING');
    // The journal's trim floor bounds the history: a seq below it can no longer be looked up.
    this.trimHistory = db.prepare('DELETE FROM feed_ack_history WHERE feed = ? AND acked_seq < (SELECT trimmed_through FROM journal_trim_floor)');
    this.selectAckedBy = db.prepare('SELECT acked_seq, at_ms FROM feed_ack_history WHERE feed = ? AND acked_seq >= ? ORDER BY acked_seq LIMIT 1');
    this.selectAckedBefore = db.prepare('SELECT acked_seq, at_ms FROM feed_ack_history WHERE feed = ? AND acked_seq < ? ORDER BY acked_seq DESC LIMIT 1');
    this.recordWithHistory = db.transaction((feed: string, relay: string, ackedSeq: number, atMs: number) => {
      this.upsert.run(feed, relay, ackedSeq, atMs);
      this.insertHistory.run(feed, ackedSeq, atMs);
      this.trimHistory.run(feed);
    });
  }

  /** Saves the feed's acked seq and notes it, with the time, in the ack history. */
  record(feed: string, relay: string, ackedSeq: number): void {
    this.recordWithHistory(feed, relay, ackedSeq, this.clock());
  }

  /**
   * When the feed's relay acknowledged `seq`, as the history can tell: by `atMs`
   * (the first save that covered it) and after `afterMs` (the save before, which did
   * not), so the true time lies in (afterMs, atMs]. Undefined when no save has covered it yet.
   */
  ackedAt(feed: string, seq: number): AckedAt | undefined {
    const by = this.selectAckedBy.get(feed, seq) as { acked_seq: number; at_ms: number } | undefined;
    if (!by) return undefined;
    const before = this.selectAckedBefore.get(feed, seq) as { acked_seq: number; at_ms: number } | undefined;
    return { atMs: by.at_ms, afterMs: before?.at_ms };
  }

  all(): Map<string, number> {
    const rows = this.selectAll.all() as { feed: string; acked_seq: number }[];
    return new Map(rows.map((r) => [r.feed, r.acked_seq]));
  }
}
