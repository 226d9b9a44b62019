// Named consumers: a position per (vendor key, hospital, feed, consumer name)
// that the relay keeps for the vendor and that moves only when the vendor
// commits it (Feeds.Commit, PUT /v1/feeds/{feed}/consumers/{name}), as a NATS
// JetStream durable consumer's does. Reads name the consumer to start after its
// committed cursor and to be shown by name on the status page.
import type { FeedStore, VendorCursorStore } from '../store/index.js';
import type { FeedAccess } from './vendor-auth.js';

/** A consumer name: like a feed name, at most 64 characters. */
export const CONSUMER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A named consumer as the vendor is told of it. */
export interface ConsumerPositionView {
  hospital: string;
  feed: string;
  consumer: string;
  /** The committed cursor (0 before any commit). */
  cursor: number;
  /** ms since the epoch; 0 before any commit. */
  committedAtMs: number;
  highWater: number;
  retentionFloorSeq: number;
}

export interface ConsumerPositionsOptions {
  store: FeedStore;
  cursors: VendorCursorStore;
  clock?: () => number;
}

export class ConsumerPositions {
  constructor(private readonly options: ConsumerPositionsOptions) {}

  /** Commits `cursor`; CursorOutOfRangeError past the feed's visible seq or below its retention floor. */
  async commit(_access: FeedAccess, _consumer: string, _cursor: number): Promise<ConsumerPositionView> {
    void this.options;
    throw new Error('ConsumerPositions.commit: not implemented yet');
  }

  /** The consumer's committed position; ConsumerNotFoundError for a name never committed. */
  async get(_access: FeedAccess, _consumer: string): Promise<ConsumerPositionView> {
    throw new Error('ConsumerPositions.get: not implemented yet');
  }

  /** Where a read naming the consumer and no cursor starts: its committed cursor, 0 when never committed. */
  async startCursor(_access: FeedAccess, _consumer: string): Promise<number> {
    throw new Error('ConsumerPositions.startCursor: not implemented yet');
  }
}
