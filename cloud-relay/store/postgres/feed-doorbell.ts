// The doorbell between relay processes sharing one PostgreSQL database: after a
// commit that moves a feed (a batch stored, a revoke, a reinstate, a purge),
// the writing process sends one NOTIFY on FEED_DOORBELL_CHANNEL from inside
// the same transaction, so it is delivered only if, and once, the commit is.
// It carries the feed's marks, never its data: the other processes' live
// tails wake and read the events from the database. A notification can be
// lost (the listener was reconnecting), so every process also re-reads the
// marks every few seconds (the polling fallback): a lost doorbell delays a
// tail, never loses an event.

/** The LISTEN/NOTIFY channel. */
export const FEED_DOORBELL_CHANNEL = 'wardline_feed';

/** Where a feed stands as of a commit: what the doorbell carries and what the polling fallback reads. */
export interface FeedMark {
  hospital: string;
  feed: string;
  /** The stored high-water mark (for a revoked feed: its mark at revocation). */
  highWaterSeq: number;
  /** How far vendors may read (at most highWaterSeq). */
  visibleSeq: number;
  revoked: boolean;
}

/** The NOTIFY payload of a mark (well under PostgreSQL's 8,000-byte limit: names are at most 128 characters). */
export function feedDoorbellPayload(mark: FeedMark): string {
  return JSON.stringify([mark.hospital, mark.feed, mark.highWaterSeq, mark.visibleSeq, mark.revoked ? 1 : 0]);
}

/** The mark a payload carries; undefined for anything else on the channel (it is ignored, not trusted). */
export function parseFeedDoorbell(payload: string | undefined): FeedMark | undefined {
  if (payload === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 5) return undefined;
  const [hospital, feed, highWaterSeq, visibleSeq, revoked] = value as unknown[];
  if (typeof hospital !== 'string' || typeof feed !== 'string') return undefined;
  if (!Number.isSafeInteger(highWaterSeq) || !Number.isSafeInteger(visibleSeq) || (revoked !== 0 && revoked !== 1)) return undefined;
  return { hospital, feed, highWaterSeq: highWaterSeq as number, visibleSeq: visibleSeq as number, revoked: revoked === 1 };
}
