// Where a vendor read starts and whether the feed can serve it, shared by the
// gRPC Subscribe and the HTTP pages so both resolve a consumer or a time, and
// refuse a cursor outside the feed, the same way.
import { CursorOutOfRangeError } from '../errors.js';
import type { FeedPage, FeedStore } from '../store/index.js';
import type { ConsumerPositions } from './consumer-positions.js';
import { cursorOutOfRange } from './feed-cursor.js';
import type { SubscribeStart } from './subscribe-request.js';
import type { FeedAccess } from './vendor-auth.js';

/** A resolved start: the cursor, and the request parameter it came from (named when the feed cannot serve it). */
export interface ReadStartCursor {
  after: number;
  parameter: string;
}

/** The request's names for the parameters a start can come from (gRPC's after_time_ms, HTTP's after_time). */
export interface ReadStartParameters {
  time: string;
}

/** The cursor `start` resolves to: the store's cursor at a time, the consumer's committed cursor (0 before any commit), or 0. */
export async function resolveReadStart(
  store: FeedStore,
  consumers: ConsumerPositions | undefined,
  access: FeedAccess,
  start: SubscribeStart,
  parameters: ReadStartParameters,
): Promise<ReadStartCursor> {
  switch (start.kind) {
    case 'cursor':
      return { after: start.after, parameter: 'after' };
    case 'time':
      return { after: await store.cursorAtTime(access.hospital, access.feed, start.afterTimeMs), parameter: parameters.time };
    case 'consumer':
      // A relay built without consumer positions has no commits: every consumer starts at 0.
      return { after: consumers ? await consumers.startCursor(access, start.consumer) : 0, parameter: 'consumer' };
    case 'beginning':
      return { after: 0, parameter: 'after' };
  }
}

/**
 * Throws CursorOutOfRangeError naming `parameter`, with the feed's range now,
 * when `page` (read after `cursor`) says the feed cannot serve the cursor:
 * past its visible seq, or below its retention floor.
 */
export async function refuseOutOfRange(
  store: FeedStore,
  access: FeedAccess,
  cursor: number,
  page: Pick<FeedPage, 'highWater' | 'retentionFloorSeq'>,
  parameter: string,
): Promise<void> {
  if (cursorOutOfRange(cursor, page)) throw new CursorOutOfRangeError(parameter, cursor, await store.feedRange(access.hospital, access.feed));
}
