// The journal has no index on time, but its seqs are assigned in commit order
// and each row's ts_ms is the commit clock, so time grows with seq (a clock
// stepped back by NTP breaks this only for the rows around the step). A time
// bound becomes a seq bound by binary search over the rows, with a few point
// reads of the primary key, instead of an index every append would pay for.

/** The first row at or after a seq: what the search reads, one primary-key lookup. */
export type RowAtOrAfter = (seq: number) => { seq: number; tsMs: number } | undefined;

/**
 * The smallest seq in [lo, hi] whose row has ts_ms >= atMs, or hi + 1 when none
 * has. Gaps (trimmed rows) are stepped over by `rowAtOrAfter`. About log2(hi - lo)
 * lookups.
 */
export function firstSeqAtOrAfter(rowAtOrAfter: RowAtOrAfter, lo: number, hi: number, atMs: number): number {
  // reached(s): the first row from s on is at or after atMs, or there is none up to hi.
  // Monotonic in s, false below the answer and true from it on; reached(hi + 1) holds.
  const reached = (s: number): boolean => {
    const row = rowAtOrAfter(s);
    return !row || row.seq > hi || row.tsMs >= atMs;
  };
  let low = lo;
  let high = hi + 1;
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if (reached(mid)) high = mid;
    else low = mid + 1;
  }
  return low;
}
