// What PostgresFeedStore.position() answers from: every feed's marks held in
// memory, because position() is synchronous and the session calls it for every
// batch. It is a hint, never a decision: storeBatch re-reads the mark under
// the feed's row lock, so a mark made stale by another relay process costs a
// decode or a resend, never a wrong ack.
//
// Marks arrive from this process's commits, from other processes (their
// doorbell or the polling fallback: observe), and from full reads of the
// database (open, loadPositions). They may arrive out of order — a poll that
// read before a commit landing after it — so the seqs only move forward
// (a feed's marks never go back, not even across a revoke and a reinstate);
// the revoked flag takes the latest word, and a stale one is corrected by
// storeBatch's answer.
import type { FeedPosition, FeedStoreListeners } from '../feed-store.js';
import type { FeedMark } from './feed-doorbell.js';

export class PgFeedMarks {
  private readonly marks = new Map<string, FeedMark>();

  constructor(private readonly listeners: FeedStoreListeners) {}

  position(hospital: string, feed: string): FeedPosition {
    const mark = this.marks.get(markKey(hospital, feed));
    return mark ? { highWaterSeq: mark.highWaterSeq, revoked: mark.revoked } : { highWaterSeq: 0, revoked: false };
  }

  /** The held mark of (hospital, feed); undefined for a feed not seen. */
  get(hospital: string, feed: string): FeedMark | undefined {
    return this.marks.get(markKey(hospital, feed));
  }

  /**
   * Takes a mark; tells the listeners when the visible seq moved forward (live
   * tails wake) or the feed became revoked (live tails end). `notify` false for
   * this process's own commits, whose listeners the store calls itself.
   */
  apply(mark: FeedMark, notify = true): void {
    const key = markKey(mark.hospital, mark.feed);
    const held = this.marks.get(key);
    const next: FeedMark = {
      hospital: mark.hospital,
      feed: mark.feed,
      highWaterSeq: Math.max(held?.highWaterSeq ?? 0, mark.highWaterSeq),
      visibleSeq: Math.max(held?.visibleSeq ?? 0, mark.visibleSeq),
      revoked: mark.revoked,
    };
    this.marks.set(key, next);
    if (!notify) return;
    if (next.revoked && !held?.revoked) this.listeners.onRevoke?.(mark.hospital, mark.feed);
    else if (!next.revoked && next.visibleSeq > (held?.visibleSeq ?? 0)) this.listeners.onAdvance?.(mark.hospital, mark.feed, next.visibleSeq);
  }
}

function markKey(hospital: string, feed: string): string {
  // Names never hold NUL (protocol NAME_PATTERN), so the pair maps to one key.
  return `${hospital}\u0000${feed}`;
}
