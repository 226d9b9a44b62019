// Per vendor key: for each feed it is granted, where it has read up to and how
// far that is behind the feed's head — in sequence numbers, in events stored
// after its cursor, and in how long the oldest of those has waited at the relay.
// Pure: the store's answers are arguments.
import type { VendorRead } from '../feeds/index.js';
import type { UnreadEvents } from '../store/index.js';

/** Unread events are counted up to this many per vendor and feed, so a status read stays cheap. */
export const UNREAD_COUNT_CAP = 100_000;

/** What the store says about a feed after a cursor (FeedStore.unreadAfter). */
export type { UnreadEvents };

export interface VendorFeedStatus {
  hospital: string;
  feed: string;
  /** The seq of the last event handed to the vendor; null before its first read since the relay started. */
  cursor: number | null;
  highWaterSeq: number;
  /** highWaterSeq − cursor: how far behind in journal sequence numbers (other feeds' seqs included). */
  behindSeq: number | null;
  /** Events of the feed stored after the cursor. */
  unreadEvents: number | null;
  /** True when unreadEvents stopped at the count's cap: "at least". */
  unreadCapped: boolean;
  /** How long the oldest unread event has waited at the relay, in seconds; 0 when caught up. */
  lagSeconds: number | null;
  lastReadAt: string | null;
  api: string | null;
  openSubscriptions: number;
}

export interface VendorStatus {
  vendor: string;
  feeds: VendorFeedStatus[];
}

export interface VendorStatusInput {
  nowMs: number;
  /** The configured vendors and their grants. */
  vendors: readonly { name: string; grants: readonly { hospital: string; feeds: readonly string[] }[] }[];
  reads: readonly VendorRead[];
  /** Each feed's head: hospital and feed to high-water seq. */
  highWater: (hospital: string, feed: string) => number;
  unread: (hospital: string, feed: string, afterSeq: number) => UnreadEvents;
}

export function buildVendorStatus(input: VendorStatusInput): VendorStatus[] {
  const readOf = new Map(input.reads.map((r) => [JSON.stringify([r.vendor, r.hospital, r.feed]), r]));
  return input.vendors.map((vendor) => ({
    vendor: vendor.name,
    feeds: vendor.grants.flatMap((grant) =>
      grant.feeds.map((feed): VendorFeedStatus => {
        const read = readOf.get(JSON.stringify([vendor.name, grant.hospital, feed]));
        const highWaterSeq = input.highWater(grant.hospital, feed);
        if (!read) {
          return { hospital: grant.hospital, feed, cursor: null, highWaterSeq, behindSeq: null, unreadEvents: null, unreadCapped: false, lagSeconds: null, lastReadAt: null, api: null, openSubscriptions: 0 };
        }
        const unread = input.unread(grant.hospital, feed, read.cursor);
        return {
          hospital: grant.hospital,
          feed,
          cursor: read.cursor,
          highWaterSeq,
          behindSeq: Math.max(0, highWaterSeq - read.cursor),
          unreadEvents: unread.events,
          unreadCapped: unread.capped,
          lagSeconds: unread.oldestStoredAtMs === null ? 0 : Math.max(0, (input.nowMs - unread.oldestStoredAtMs) / 1000),
          lastReadAt: new Date(read.lastReadAtMs).toISOString(),
          api: read.api,
          openSubscriptions: read.openSubscriptions,
        };
      }),
    ),
  }));
}
