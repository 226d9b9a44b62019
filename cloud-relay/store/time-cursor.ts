// cursorAtTime's one rule for both backends, once the first event at or after
// the instant is found (by the (hospital, feed, ts_ms) index).

/**
 * The cursor before `first` (the event with the smallest tsMs >= `tsMs`), or
 * floor - 1 — below the floor, so the caller refuses it — when `first` is the
 * oldest event kept, is later than `tsMs`, and retention removed events before
 * it: one of those may have been the event to start at.
 */
export function cursorBeforeFirst(first: { seq: number; tsMs: number }, tsMs: number, floorSeq: number, oldestSeq: number | undefined): number {
  if (floorSeq > 0 && first.seq === oldestSeq && first.tsMs > tsMs) return floorSeq - 1;
  return first.seq - 1;
}
