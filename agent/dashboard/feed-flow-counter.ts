// Counts a feed's events in a journal range: how many entered the feed between
// two samples (by the journal head) and how many the relay acknowledged (by the
// feed's acked seq). Exact, and cheap: a primary-key range scan of the rows
// added since the previous sample.
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../store/index.js';

/** The most rows one count scans; a larger jump (a long backlog acknowledged at once) is reported as this many. */
export const MAX_COUNTED_ROWS = 1_000_000;

export class FeedFlowCounter {
  private readonly countStatement: Statement;

  constructor(db: SqliteDatabase) {
    this.countStatement = db.prepare(
      `SELECT COUNT(*) AS n FROM (
         SELECT 1 FROM journal WHERE seq > ? AND seq <= ? AND stream IN (SELECT value FROM json_each(?)) LIMIT ${MAX_COUNTED_ROWS}
       )`,
    );
  }

  /** Events of `streams` with afterSeq < seq <= upToSeq; 0 for an empty or backward range. */
  count(streams: readonly string[], afterSeq: number, upToSeq: number): number {
    if (upToSeq <= afterSeq) return 0;
    return (this.countStatement.get(afterSeq, upToSeq, JSON.stringify(streams)) as { n: number }).n;
  }
}
