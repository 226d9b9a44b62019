// Named consumers: a position per (vendor key, hospital, feed, consumer name)
// that the relay keeps for the vendor and that moves only when the vendor
// commits it (Feeds.Commit, PUT /v1/feeds/{feed}/consumers/{name}), as a NATS
// JetStream durable consumer's does. Reads name the consumer to start after its
// committed cursor and to be shown by name on the status page.
//
// Failure modes handled:
//  1. A commit past the feed's visible seq (a cursor from another feed, or from
//     a relay since restored from an older copy) or below its retention floor:
//     refused with CursorOutOfRangeError('cursor', …) naming the range, nothing stored.
//  2. A bad name or cursor (not a name by CONSUMER_NAME_PATTERN, a negative or
//     fractional cursor): BadRequestError naming the parameter, nothing stored.
//  3. A committed cursor the feed has since moved beyond (retention raised the
//     floor past it): get() still reports it with the feed's range, and the read
//     starting there is refused by the read's own range check, so the vendor
//     learns of the gap instead of skipping it silently.
//  4. Several relay processes: the commit is one write to the shared store, so
//     any process answers get()/startCursor() with it at once.
import { BadRequestError, ConsumerNotFoundError, CursorOutOfRangeError } from '../errors.js';
import type { CommittedConsumer, FeedStore, VendorCursorStore } from '../store/index.js';
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

/** A position as both APIs answer it: the .proto's ConsumerPosition fields (the gRPC message's, and the HTTP JSON's). */
export type ConsumerPositionAnswer = Omit<ConsumerPositionView, 'hospital'> & { hospitalId: string };

export function consumerPositionAnswer(view: ConsumerPositionView): ConsumerPositionAnswer {
  return {
    hospitalId: view.hospital,
    feed: view.feed,
    consumer: view.consumer,
    cursor: view.cursor,
    committedAtMs: view.committedAtMs,
    highWater: view.highWater,
    retentionFloorSeq: view.retentionFloorSeq,
  };
}

/** What else is told of commits and removals at once (this process's status view: VendorCursorSync). */
export interface ConsumerForgetter {
  /** A commit was stored. */
  noteCommitted(position: CommittedConsumer): void;
  /** The consumer was removed; true when it knew the consumer. */
  forgetConsumer(vendor: string, hospital: string, feed: string, consumer: string): boolean;
}

export interface ConsumerPositionsOptions {
  store: FeedStore;
  cursors: VendorCursorStore;
  /** Told of each removed consumer so the status page drops it at once. */
  reads?: ConsumerForgetter;
  clock?: () => number;
}

/** Failure mode 2: throws BadRequestError unless `consumer` is a consumer name. */
export function checkConsumerName(consumer: string, parameter = 'consumer'): string {
  if (!CONSUMER_NAME_PATTERN.test(consumer)) {
    throw new BadRequestError(`${parameter}: ${JSON.stringify(consumer)} is not a consumer name (1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit)`, parameter);
  }
  return consumer;
}

export class ConsumerPositions {
  private readonly clock: () => number;

  constructor(private readonly options: ConsumerPositionsOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /** Commits `cursor`; CursorOutOfRangeError past the feed's visible seq or below its retention floor. */
  async commit(access: FeedAccess, consumer: string, cursor: number): Promise<ConsumerPositionView> {
    checkConsumerName(consumer);
    if (!Number.isSafeInteger(cursor) || cursor < 0) throw new BadRequestError(`cursor: expected a whole number >= 0, got ${JSON.stringify(cursor)}`, 'cursor');
    const range = await this.options.store.feedRange(access.hospital, access.feed);
    if (cursor > range.highWater || cursor < range.retentionFloorSeq) throw new CursorOutOfRangeError('cursor', cursor, range);
    const position: CommittedConsumer = { vendor: access.vendor, hospital: access.hospital, feed: access.feed, consumer, cursor, committedAtMs: this.clock() };
    await this.options.cursors.commit(position);
    this.options.reads?.noteCommitted(position);
    return { hospital: access.hospital, feed: access.feed, consumer, cursor, committedAtMs: position.committedAtMs, highWater: range.highWater, retentionFloorSeq: range.retentionFloorSeq };
  }

  /** The consumer's committed position; ConsumerNotFoundError for a name never committed. */
  async get(access: FeedAccess, consumer: string): Promise<ConsumerPositionView> {
    checkConsumerName(consumer);
    const committed = await this.options.cursors.committed(access.vendor, access.hospital, access.feed, consumer);
    if (!committed) throw new ConsumerNotFoundError(consumer);
    const range = await this.options.store.feedRange(access.hospital, access.feed);
    return { hospital: access.hospital, feed: access.feed, consumer, cursor: committed.cursor, committedAtMs: committed.committedAtMs, highWater: range.highWater, retentionFloorSeq: range.retentionFloorSeq };
  }

  /** Where a read naming the consumer and no cursor starts: its committed cursor, 0 when never committed. */
  async startCursor(access: FeedAccess, consumer: string): Promise<number> {
    checkConsumerName(consumer);
    const committed = await this.options.cursors.committed(access.vendor, access.hospital, access.feed, consumer);
    return committed?.cursor ?? 0;
  }

  /** Forgets the consumer (its committed cursor and its last read); false when it was unknown. */
  async remove(access: FeedAccess, consumer: string): Promise<boolean> {
    checkConsumerName(consumer);
    const inMemory = this.options.reads?.forgetConsumer(access.vendor, access.hospital, access.feed, consumer) ?? false;
    const stored = await this.options.cursors.removeConsumer(access.vendor, access.hospital, access.feed, consumer);
    return stored || inMemory;
  }
}
