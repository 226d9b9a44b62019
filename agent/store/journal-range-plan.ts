// How Journal.readRange finds a feed's rows in a journal range. Both plans run
// the same SQL semantics (the rows of the feed's streams in (afterSeq, upper],
// by seq, at most LIMIT), so they return the same rows in the same order; they
// differ only in what SQLite visits:
//
//  - 'seq-scan': the rowid range with `+stream` (the index disabled). Rows come
//    in seq order, so the read stops as soon as the byte budget is spent, but
//    every row of the range is visited, the other streams' ones too.
//  - 'stream-index': the feed's seqs from journal_by_stream (stream, seq), one
//    index range per stream, sorted and cut to LIMIT, then only those rows read
//    by rowid, in seq order (the sort holds seqs, not bodies).
//
// Measured on a 200,000-row journal (bodies 0.5-2 KB, default read limits),
// both plans in one run: draining a feed holding 5% of the rows took half the
// time through the index (median of 5 interleaved runs), the raw query for 1%
// of the rows ~7x less; the two are even at ~30%, and at 95% the index plan is
// 1.2-1.6x slower. Hence the index below SPARSE_FEED_DENSITY, the scan above.

/** Which way readRange reads a feed's rows; 'auto' chooses by the feed's density. */
export type RangePlan = 'seq-scan' | 'stream-index';
export type RangePlanChoice = RangePlan | 'auto';

/** What the previous read of a stream list found: its events over the positions it covered. */
export interface RangeDensity {
  events: number;
  positions: number;
}

/** Below this share of the journal's positions, a feed is read through journal_by_stream. */
export const SPARSE_FEED_DENSITY = 0.2;

/**
 * The plan for the next read of a stream list, from what its previous read found.
 * A backup feed (no streams) has every row: always the scan. A stream list not
 * read yet takes the scan, whose result gives the first density.
 */
export function chooseRangePlan(streamCount: number, previous: RangeDensity | undefined): RangePlan {
  if (streamCount === 0 || !previous || previous.positions <= 0) return 'seq-scan';
  return previous.events < previous.positions * SPARSE_FEED_DENSITY ? 'stream-index' : 'seq-scan';
}

const COLUMNS = 'seq, stream, key, op, ts_ms, source, content_type, body, headers';

/**
 * The range query for `streamCount` streams (0: every stream). Parameters in
 * order: afterSeq, upper, the streams, LIMIT.
 */
export function journalRangeSql(streamCount: number, plan: RangePlan): string {
  if (streamCount === 0) return `SELECT ${COLUMNS} FROM journal WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`;
  const list = Array.from({ length: streamCount }, () => '?').join(', ');
  if (plan === 'seq-scan') {
    return `SELECT ${COLUMNS} FROM journal WHERE seq > ? AND seq <= ? AND +stream IN (${list}) ORDER BY seq LIMIT ?`;
  }
  return `SELECT ${COLUMNS} FROM journal WHERE seq IN (
            SELECT seq FROM journal INDEXED BY journal_by_stream
            WHERE seq > ? AND seq <= ? AND stream IN (${list}) ORDER BY seq LIMIT ?)
          ORDER BY seq`;
}
