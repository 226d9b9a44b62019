import type { FeedPage, FeedPageExtent } from '../store/index.js';

/**
 * The cursor a vendor passes next (`after`) once it has processed `page`, read
 * after `afterSeq`. A complete page moves the cursor to the page's high-water
 * mark even past the last event: seqs up to the mark that are not in the feed
 * (filtered by policy, or ranges without events) will never appear, so the next
 * read starts beyond them. A cursor never moves backwards.
 */
export function nextCursor(afterSeq: number, page: FeedPage | FeedPageExtent): number {
  const lastSeq = 'lastSeq' in page ? page.lastSeq : page.events[page.events.length - 1]?.seq;
  if (!page.complete) return lastSeq ?? afterSeq;
  return Math.max(afterSeq, page.highWater);
}

/**
 * True when a vendor's cursor lies outside what the page read after it can
 * serve: past the feed's visible seq (nothing up to it exists yet), or below its
 * retention floor (events after it were removed). The caller refuses the read
 * with CursorOutOfRangeError (the feed's range from FeedStore.feedRange).
 */
export function cursorOutOfRange(afterSeq: number, page: Pick<FeedPage, 'highWater' | 'retentionFloorSeq'>): boolean {
  return afterSeq > page.highWater || afterSeq < page.retentionFloorSeq;
}
