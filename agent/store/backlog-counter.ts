// A feed's backlog (the events of its streams after the relay's acknowledged seq),
// kept exact without rescanning it: between two calls only the newly journaled
// range (old head, head] is added and the newly acknowledged range (old acked,
// acked] subtracted. A full count is made only on the first call, when the acked
// seq moves backwards (a relay restored from a backup), or when the streams change.
// Trimming never touches the backlog: it only removes what every feed has acked.
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './agent-database.js';

export interface Backlog {
  events: number;
  /** Bytes of event bodies. */
  bytes: number;
  /** Commit time of the oldest unacknowledged event, ms since the epoch; null when none. */
  oldestTsMs: number | null;
}

interface Counted {
  streamsKey: string;
  ackedSeq: number;
  headSeq: number;
  events: number;
  bytes: number;
}

export class BacklogCounter {
  private readonly countRange: Statement;
  private readonly firstAfter: Statement;
  private readonly counted = new Map<string, Counted>();

  constructor(db: SqliteDatabase) {
    this.countRange = db.prepare(
      `SELECT COUNT(*) AS events, COALESCE(SUM(LENGTH(body)), 0) AS bytes FROM journal
       WHERE seq > ? AND seq <= ? AND stream IN (SELECT value FROM json_each(?))`,
    );
    this.firstAfter = db.prepare(
      `SELECT ts_ms FROM journal WHERE seq > ? AND seq <= ? AND stream IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT 1`,
    );
  }

  /** The backlog of `feed` given what the relay acked and the journal's committed head. */
  backlog(feed: string, streams: readonly string[], ackedSeq: number, headSeq: number): Backlog {
    const streamsKey = JSON.stringify(streams);
    const previous = this.counted.get(feed);
    let events: number;
    let bytes: number;
    if (!previous || previous.streamsKey !== streamsKey || ackedSeq < previous.ackedSeq || headSeq < previous.headSeq) {
      ({ events, bytes } = this.count(ackedSeq, headSeq, streamsKey));
    } else {
      const added = this.count(previous.headSeq, headSeq, streamsKey);
      const acknowledged = this.count(previous.ackedSeq, Math.min(ackedSeq, headSeq), streamsKey);
      events = previous.events + added.events - acknowledged.events;
      bytes = previous.bytes + added.bytes - acknowledged.bytes;
    }
    this.counted.set(feed, { streamsKey, ackedSeq, headSeq, events, bytes });
    const oldest = events > 0 ? (this.firstAfter.get(ackedSeq, headSeq, streamsKey) as { ts_ms: number } | undefined) : undefined;
    return { events, bytes, oldestTsMs: oldest?.ts_ms ?? null };
  }

  private count(afterSeq: number, throughSeq: number, streamsKey: string): { events: number; bytes: number } {
    if (throughSeq <= afterSeq) return { events: 0, bytes: 0 };
    return this.countRange.get(afterSeq, throughSeq, streamsKey) as { events: number; bytes: number };
  }
}
