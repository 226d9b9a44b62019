// A feed's backlog (the events of its streams after the relay's acknowledged seq),
// kept exact without rescanning it: between two calls the newly journaled events
// are added (from the journal's own per-stream tally, no rows read) and the newly
// acknowledged range (old acked, acked] is counted and subtracted. A full count is
// made only on the first call, when the acked seq moves backwards (a relay
// restored from a backup), or when the streams change. Trimming never touches the
// backlog: it only removes what every feed has acked.
//
// The same steps give each feed's flow (events journaled and acknowledged since
// the agent started), which the dashboard turns into rates without a scan of its own.
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './agent-database.js';
import type { Journal, StreamTally } from './journal.js';

export interface Backlog {
  events: number;
  /** Bytes of event bodies. */
  bytes: number;
  /** Commit time of the oldest unacknowledged event, ms since the epoch; null when none. */
  oldestTsMs: number | null;
}

/** Events of a feed journaled and acknowledged, counted from the agent's start. */
export interface FeedFlowTotals {
  journaled: number;
  acknowledged: number;
}

interface Counted {
  streamsKey: string;
  ackedSeq: number;
  headSeq: number;
  /** The journal's tally for the streams when headSeq was read. */
  appended: StreamTally;
  events: number;
  bytes: number;
}

export class BacklogCounter {
  private readonly countRange: Statement;
  private readonly firstOfStream: Statement;
  private readonly countAll: Statement;
  private readonly firstOfAll: Statement;
  private readonly counted = new Map<string, Counted>();
  private readonly flows = new Map<string, FeedFlowTotals>();

  constructor(
    db: SqliteDatabase,
    private readonly journal: Journal,
  ) {
    // Both by journal_by_stream: only the feed's own rows are visited, so a feed with
    // few events is counted in microseconds however much of the journal other
    // streams fill (a quiet feed's acknowledged range can span millions of rows).
    this.countRange = db.prepare(
      `SELECT COUNT(*) AS events, COALESCE(SUM(LENGTH(body)), 0) AS bytes FROM journal
       WHERE stream IN (SELECT value FROM json_each(?)) AND seq > ? AND seq <= ?`,
    );
    this.firstOfStream = db.prepare('SELECT seq, ts_ms FROM journal WHERE stream = ? AND seq > ? AND seq <= ? ORDER BY stream, seq LIMIT 1');
    // A backup feed (streams empty) carries every stream: its backlog is the whole range, by rowid.
    this.countAll = db.prepare('SELECT COUNT(*) AS events, COALESCE(SUM(LENGTH(body)), 0) AS bytes FROM journal WHERE seq > ? AND seq <= ?');
    this.firstOfAll = db.prepare('SELECT seq, ts_ms FROM journal WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 1');
  }

  /** The backlog of `feed` given what the relay acked, up to the journal's committed head. */
  backlog(feed: string, streams: readonly string[], ackedSeq: number): Backlog {
    const headSeq = this.journal.head;
    const appended = this.journal.appendedTotals(streams);
    const streamsKey = JSON.stringify(streams);
    const previous = this.counted.get(feed);
    const flow = this.flows.get(feed) ?? { journaled: 0, acknowledged: 0 };
    let events: number;
    let bytes: number;
    if (!previous || previous.streamsKey !== streamsKey || ackedSeq < previous.ackedSeq || headSeq < previous.headSeq) {
      ({ events, bytes } = this.count(ackedSeq, headSeq, streamsKey));
    } else {
      const added = { events: appended.events - previous.appended.events, bytes: appended.bytes - previous.appended.bytes };
      const acknowledged = this.count(previous.ackedSeq, Math.min(ackedSeq, headSeq), streamsKey);
      events = previous.events + added.events - acknowledged.events;
      bytes = previous.bytes + added.bytes - acknowledged.bytes;
      flow.journaled += added.events;
      flow.acknowledged += acknowledged.events;
    }
    this.counted.set(feed, { streamsKey, ackedSeq, headSeq, appended, events, bytes });
    this.flows.set(feed, flow);
    return { events, bytes, oldestTsMs: events > 0 ? this.oldestTsMs(streams, ackedSeq, headSeq) : null };
  }

  /** The feed's flow as of its last backlog() call (zeros before the first). */
  flow(feed: string): FeedFlowTotals {
    return { ...(this.flows.get(feed) ?? { journaled: 0, acknowledged: 0 }) };
  }

  private count(afterSeq: number, throughSeq: number, streamsKey: string): { events: number; bytes: number } {
    if (throughSeq <= afterSeq) return { events: 0, bytes: 0 };
    if (streamsKey === '[]') return this.countAll.get(afterSeq, throughSeq) as { events: number; bytes: number };
    return this.countRange.get(streamsKey, afterSeq, throughSeq) as { events: number; bytes: number };
  }

  /** Commit time of the first event of `streams` in (afterSeq, throughSeq]: each stream's first, the earliest of them. */
  private oldestTsMs(streams: readonly string[], afterSeq: number, throughSeq: number): number | null {
    if (streams.length === 0) return (this.firstOfAll.get(afterSeq, throughSeq) as { ts_ms: number } | undefined)?.ts_ms ?? null;
    let oldest: { seq: number; ts_ms: number } | undefined;
    for (const stream of streams) {
      const first = this.firstOfStream.get(stream, afterSeq, throughSeq) as { seq: number; ts_ms: number } | undefined;
      if (first && (!oldest || first.seq < oldest.seq)) oldest = first;
    }
    return oldest?.ts_ms ?? null;
  }
}
