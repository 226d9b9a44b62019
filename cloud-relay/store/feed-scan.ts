// One pass over a feed as vendors see it, in seq order, page by page, hashing
// each event into the feed's RFC 9162 tree as it goes. The export writes its
// NDJSON in this pass and the purge takes its final roots from it, so "the
// receipt's roots equal the export's" holds by construction: both are the same
// function of the same events.
import { createHash } from 'node:crypto';
import { feedLeafData, leafHash, MerkleAccumulator, type JournalEvent } from '../../protocol/index.js';
import type { FeedStore } from './feed-store.js';

/** Events read per page: large enough to keep the store's per-call cost small, small enough to bound memory. */
const SCAN_PAGE_EVENTS = 2_000;

/** What a scan saw. */
export interface FeedScan {
  /** The feed's visible seq when the scan started: every event through it was visited. */
  throughSeq: number;
  /** Events visited. */
  events: number;
  /** Body bytes of those events. */
  bodyBytes: number;
  /** The RFC 9162 root over (seq, SHA-256 of body) of every event visited; the empty tree's root for none. */
  root: Buffer;
}

/** An event as the scan hands it on, with its body's SHA-256 (the tree's leaf is made from it). */
export type ScannedEvent = JournalEvent & { bodySha256: Buffer };

/**
 * Visits every event of (hospital, feed) with seq <= the feed's visible seq at
 * the start, in seq order; `visit` may return a promise (a file write), which
 * is awaited before the next event. Rejects as readEvents does (FeedRevokedError
 * for a revoked feed).
 */
export async function scanFeed(store: FeedStore, hospital: string, feed: string, visit?: (event: ScannedEvent) => void | Promise<void>): Promise<FeedScan> {
  const tree = new MerkleAccumulator();
  let bodyBytes = 0;
  let after = 0;
  let throughSeq: number | undefined;
  for (;;) {
    const page = await store.readEvents(hospital, feed, after, SCAN_PAGE_EVENTS, undefined, throughSeq);
    throughSeq ??= page.highWater;
    for (const event of page.events) {
      const bodySha256 = createHash('sha256').update(event.body).digest();
      tree.push(leafHash(feedLeafData(event.seq, bodySha256)));
      bodyBytes += event.body.length;
      if (visit) await visit({ ...event, bodySha256 });
      after = event.seq;
    }
    if (page.complete || page.events.length === 0) break;
  }
  return { throughSeq, events: tree.size, bodyBytes, root: tree.root() };
}

/** A feed's figures as an export's manifest and a purge receipt both state them, so the two agree by construction. */
export interface FeedFigures {
  highWaterSeq: number;
  visibleSeq: number;
  events: number;
  bodyBytes: number;
  treeSize: number;
  /** Hex. */
  merkleRoot: string;
}

/** The figures of a scan, with the feed's high-water mark read beside it. */
export function feedFigures(scan: FeedScan, highWaterSeq: number): FeedFigures {
  return {
    highWaterSeq,
    visibleSeq: scan.throughSeq,
    events: scan.events,
    bodyBytes: scan.bodyBytes,
    treeSize: scan.events,
    merkleRoot: scan.root.toString('hex'),
  };
}
