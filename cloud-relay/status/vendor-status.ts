// Per vendor key: for each feed it is granted, one row per consumer it reads
// the feed as (the reads that named none, and each named consumer): where that
// consumer has read up to and committed, and how far that is behind the feed's
// head — in sequence numbers, in events stored after its cursor, and in how
// long the oldest of those has waited at the relay. Pure: the store's answers
// are arguments.
//
// Failure modes handled:
//  1. A cursor past the feed's head (stored before the relay's feed store was
//     restored from an older copy, or before cursors were range-checked): the
//     row's cursorState is 'ahead-of-head' and its lag is unknown (null), never
//     "behind 0" as if it were caught up.
//  2. A consumer that committed but has not read since the relay started (nor
//     any process stored a read): its lag is measured from the committed cursor,
//     where its next read starts.
import type { VendorRead } from '../feeds/index.js';
import type { CommittedConsumer, UnreadEvents } from '../store/index.js';

/** Unread events are counted up to this many per vendor and feed, so a status read stays cheap. */
export const UNREAD_COUNT_CAP = 100_000;

/** What the store says about a feed after a cursor (FeedStore.unreadAfter). */
export type { UnreadEvents };

/** How a row's cursor stands against the feed: not read (nor committed) yet, within the feed, or past its head (an error). */
export type VendorCursorState = 'not-read' | 'in-range' | 'ahead-of-head';

/** How the page and metrics name the reads that named no consumer. */
export const UNNAMED_CONSUMER_LABEL = '(unnamed)';

export interface VendorFeedStatus {
  hospital: string;
  feed: string;
  /** The consumer the row is of; '' for reads that named none. */
  consumer: string;
  /** The seq of the last event handed to this consumer; null before its first read (stored by any process). */
  cursor: number | null;
  /** The consumer's committed cursor; null when never committed (always for the unnamed reads). */
  committedCursor: number | null;
  committedAt: string | null;
  highWaterSeq: number;
  /** Failure mode 1: 'ahead-of-head' when the last read or the committed cursor is past highWaterSeq. */
  cursorState: VendorCursorState;
  /** highWaterSeq − the row's position (the last read, else the committed cursor): how far behind in journal sequence numbers; null when not read or ahead of head. */
  behindSeq: number | null;
  /** Events of the feed stored after the row's position. */
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
  /** One row per (hospital, feed, consumer) of every granted feed; a feed nobody read yet has one unnamed 'not-read' row. */
  feeds: VendorFeedStatus[];
}

export interface VendorStatusInput {
  nowMs: number;
  /** The configured vendors and their grants. */
  vendors: readonly { name: string; grants: readonly { hospital: string; feeds: readonly string[] }[] }[];
  reads: readonly VendorRead[];
  /** Named consumers' committed cursors (VendorCursorSync.committed); default none. */
  committed?: readonly CommittedConsumer[];
  /** Each feed's head: hospital and feed to high-water seq. */
  highWater: (hospital: string, feed: string) => number;
  /** Asked only for the cursors statusCursors() lists. */
  unread: (hospital: string, feed: string, afterSeq: number) => UnreadEvents;
}

/** The row's position: where the consumer stands for its lag (the last read, else the committed cursor: failure mode 2). */
function positionOf(read: VendorRead | undefined, committed: CommittedConsumer | undefined): number | null {
  return read?.cursor ?? committed?.cursor ?? null;
}

/** The (hospital, feed, cursor) triples whose unread events buildVendorStatus asks for, to read them from the store first. */
export function statusCursors(reads: readonly VendorRead[], committed: readonly CommittedConsumer[] = []): { hospital: string; feed: string; cursor: number }[] {
  const readKeys = new Set(reads.map(consumerKey));
  return [...reads.map((r) => ({ hospital: r.hospital, feed: r.feed, cursor: r.cursor })), ...committed.filter((c) => !readKeys.has(consumerKey(c))).map((c) => ({ hospital: c.hospital, feed: c.feed, cursor: c.cursor }))];
}

export function buildVendorStatus(input: VendorStatusInput): VendorStatus[] {
  const readOf = new Map(input.reads.map((r) => [consumerKey(r), r]));
  const committedOf = new Map((input.committed ?? []).map((c) => [consumerKey(c), c]));
  const consumersOf = (vendor: string, hospital: string, feed: string): string[] => {
    const names = new Set<string>();
    for (const c of [...input.reads, ...(input.committed ?? [])]) if (c.vendor === vendor && c.hospital === hospital && c.feed === feed) names.add(c.consumer);
    if (names.size === 0) names.add('');
    return [...names].sort((a, b) => a.localeCompare(b));
  };
  return input.vendors.map((vendor) => ({
    vendor: vendor.name,
    feeds: vendor.grants.flatMap((grant) =>
      grant.feeds.flatMap((feed) => {
        const highWaterSeq = input.highWater(grant.hospital, feed);
        return consumersOf(vendor.name, grant.hospital, feed).map((consumer): VendorFeedStatus => {
          const key = consumerKey({ vendor: vendor.name, hospital: grant.hospital, feed, consumer });
          const read = readOf.get(key);
          const committed = committedOf.get(key);
          const base = {
            hospital: grant.hospital,
            feed,
            consumer,
            cursor: read?.cursor ?? null,
            committedCursor: committed?.cursor ?? null,
            committedAt: committed ? new Date(committed.committedAtMs).toISOString() : null,
            highWaterSeq,
            lastReadAt: read ? new Date(read.lastReadAtMs).toISOString() : null,
            api: read?.api ?? null,
            openSubscriptions: read?.openSubscriptions ?? 0,
          };
          const position = positionOf(read, committed);
          const none = { behindSeq: null, unreadEvents: null, unreadCapped: false, lagSeconds: null };
          if (position === null) return { ...base, cursorState: 'not-read', ...none };
          if (Math.max(read?.cursor ?? 0, committed?.cursor ?? 0) > highWaterSeq) return { ...base, cursorState: 'ahead-of-head', ...none };
          const unread = input.unread(grant.hospital, feed, position);
          return {
            ...base,
            cursorState: 'in-range',
            behindSeq: highWaterSeq - position,
            unreadEvents: unread.events,
            unreadCapped: unread.capped,
            lagSeconds: unread.oldestStoredAtMs === null ? 0 : Math.max(0, (input.nowMs - unread.oldestStoredAtMs) / 1000),
          };
        });
      }),
    ),
  }));
}

function consumerKey(c: { vendor: string; hospital: string; feed: string; consumer: string }): string {
  return JSON.stringify([c.vendor, c.hospital, c.feed, c.consumer]);
}
