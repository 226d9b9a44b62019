// The relay's feed store as a port: what ingest, the vendor APIs and the status
// page need from wherever feed events are kept durably. SqliteFeedStore
// (sqlite-feed-store.ts) implements it on one SQLite file; a networked backend
// (PostgreSQL) implements the same interface and runs the same contract suite
// (test/contract/feed-store.contract.ts).
//
// storeBatch is the one place a batch is decided: it re-reads the feed's mark
// and its revocation under the backend's write lock, decides with
// protocol/batch-decision.ts and says what it did; the caller acts on that
// decision and checks nothing itself. position() is the one synchronous read,
// only there to skip decoding work storeBatch would not need.
//
// Two marks per feed. The high-water mark is what is stored: agents resume after
// it (position(), Hello). The visible seq is what vendors see (readEvents,
// pageExtent, onAdvance): a source transaction cut into several batches stays
// hidden until the batch holding its last event is stored, so no vendor read
// ever shows part of one. Both are 0 for a feed never written.
//
// Every method that a networked backend would do I/O for returns a Promise.
// Every method except close() rejects (throws, for position()) FeedStoreClosedError
// once the store is closed.
import { advancesFeed, decideBatch, type BatchDecision, type JournalEvent } from '../../protocol/index.js';

/** Told after a commit that advanced a feed, with the seq vendors may now read through (live tails wake up). */
export type FeedAdvanceListener = (hospital: string, feed: string, visibleSeq: number) => void;

/** What a backend tells the rest of the relay about, whichever backend it is. */
export type { FeedRange } from '../errors.js';
import type { FeedRange } from '../errors.js';

export interface FeedStoreListeners {
  /** Called after a commit that moved a feed's high-water mark, with its visible seq (see FeedStore). */
  onAdvance?: FeedAdvanceListener;
  /** Called after a feed was revoked (live tails end with the revocation error). */
  onRevoke?: (hospital: string, feed: string) => void;
}

/** A page read stops adding events once their bodies pass this many bytes (at least one event is returned). */
export const DEFAULT_PAGE_MAX_BYTES = 8 * 1024 * 1024;

/** Where a feed stands, as of the store's last commit. */
export interface FeedPosition {
  /**
   * The last seq stored durably (0 for a feed never written). For a revoked feed:
   * its mark when it was revoked, which a reinstated feed continues from.
   */
  highWaterSeq: number;
  /** True while the hospital has the feed revoked: nothing of it is stored or served. */
  revoked: boolean;
}

/**
 * True when storeBatch would store [firstSeq, lastSeq] as of `position`, so the
 * caller must decode the batch's events first; false for a resend, a gap, an
 * invalid range or a revoked feed, which storeBatch answers without events.
 */
export function needsEvents(position: FeedPosition, firstSeq: number, lastSeq: number): boolean {
  return !position.revoked && advancesFeed(decideBatch(position.highWaterSeq, firstSeq, lastSeq));
}

/** A head as an agent sent it: the egress-ledger record's index and its SHA-256. */
export interface LedgerHeadInput {
  index: number;
  hash: Uint8Array;
}

/** One batch [firstSeq, lastSeq] of (hospital, feed) as an agent sent it. */
export interface BatchToStore {
  hospital: string;
  feed: string;
  firstSeq: number;
  lastSeq: number;
  /**
   * The batch's events, in seq order, each within [firstSeq, lastSeq]; seqs may
   * skip (policy-filtered positions). Undefined when the caller has not decoded
   * the batch because position() showed it would not be stored (see needsEvents).
   */
  events?: readonly JournalEvent[];
  /** Batch.journal_head_seq: the agent's journal head when it built the batch; 0 or absent when not announced. */
  journalHeadSeq?: number;
  /**
   * Batch.complete_through_seq: the last seq of the range that no transaction of
   * the agent's journal spans; events after it are stored but not yet shown to
   * vendors. 0 or absent (an agent older than the field) = lastSeq.
   */
  completeThroughSeq?: number;
  /** The agent's egress-ledger head sent with the batch; null or absent from an agent without a ledger. */
  ledgerHead?: LedgerHeadInput | null;
  /**
   * Batch.repair: a resend of events a completeness proof found missing below the
   * mark. Only events not held are stored; neither mark moves (decision `repaired`).
   */
  repair?: boolean;
}

/**
 * What storeBatch decided: protocol/batch-decision.ts's decision, or one of two
 * the store adds — the feed is revoked, or the batch would be stored but came
 * without its events.
 */
export type StoreDecision = BatchDecision | { kind: 'revoked'; revokedAtMs: number } | { kind: 'needs-events' } | { kind: 'repaired' };

/** What storeBatch did. */
export interface StoredBatch {
  /** The decision taken against the mark and revocation read under the write lock. */
  decision: StoreDecision;
  /**
   * The feed's durable high-water mark after the call; for `revoked`, the mark
   * at revocation (the agent resends from highWater + 1 once reinstated).
   */
  highWater: number;
  /** Events newly written (0 unless the decision is append or overlap). */
  storedEvents: number;
}

/** Server-side filters of a vendor read; an absent or empty list passes everything. */
export interface FeedFilter {
  /** Only events of these streams. */
  streams?: readonly string[];
  /**
   * Only events whose headers.messageType is one of these ("ADT^A01"), or whose
   * message code is ("ADT" passes every ADT trigger, and a bare "ADT"). An entry
   * holding "^" matches exactly; one without is a code. An event with no message
   * type never passes a non-empty list. Applied by the backend, in its query.
   */
  messageTypes?: readonly string[];
}

/** What a feed's retention keeps (cloud-relay/retention): events received within the age, and the newest events up to the size. */
export interface RetentionRule {
  /** Remove events the relay received before this instant, ms since the epoch. */
  receivedBeforeMs?: number;
  /** Remove the oldest events until the feed's bodies take at most this many bytes. */
  maxBytes?: number;
}

/** What one applyRetention call removed (0 and 0 when the rule kept everything, or the feed is revoked or unknown). */
export interface RetentionOutcome {
  removedEvents: number;
  /** Body bytes of the removed events. */
  removedBytes: number;
  /** The feed's retention floor after the call (0 = nothing ever removed). */
  retentionFloorSeq: number;
}

/** One page of a feed, read in one snapshot. */
export interface FeedPage {
  /** Events with afterSeq < seq <= highWater passing the read's filter, in seq order. */
  events: JournalEvent[];
  /**
   * The feed's visible seq in the same snapshot: how far vendors may read, which
   * is below the stored high-water mark while a transaction is only partly stored
   * (0 for a feed never written).
   */
  highWater: number;
  /**
   * True when `events` holds every event in (afterSeq, highWater] passing the
   * filter; false when cut by limit or size. A complete page moves the cursor
   * to highWater (feeds/feed-cursor.ts nextCursor), past seqs the filter left out.
   */
  complete: boolean;
  /**
   * The seq of the feed's last event at or before afterSeq passing the read's
   * filter, in the same snapshot; when no such event is held, the retention
   * floor (0 when nothing was ever removed). The first event's prevSeq for a
   * vendor (protocol/vendor-event.ts); each next one's is the event before it.
   */
  prevSeq: number;
  /** The seq of the newest event retention removed from the feed, in the same snapshot (0 = none); a cursor below it is refused. */
  retentionFloorSeq: number;
}

/** Where a page would end, read without the bodies (a page streamed in chunks sends its headers first). */
export interface FeedPageExtent {
  /** The feed's visible seq in the snapshot, as FeedPage.highWater. */
  highWater: number;
  /** The seq of the page's last event; undefined for an empty page. */
  lastSeq: number | undefined;
  /** Events in the page (passing the filter). */
  events: number;
  /** As FeedPage.complete. */
  complete: boolean;
  /** As FeedPage.prevSeq. */
  prevSeq: number;
  /** As FeedPage.retentionFloorSeq. */
  retentionFloorSeq: number;
}

/** A feed's size, for status pages. */
export interface FeedSize {
  hospital: string;
  feed: string;
  highWaterSeq: number;
  /** Events stored (a batch may advance the mark without carrying events). */
  events: number;
  /** When the last batch was stored, in milliseconds since the epoch. */
  updatedAtMs: number;
  /** The seq of the newest event retention removed (0 = none ever). */
  retentionFloorSeq: number;
  /** The seq of the oldest event held; undefined when the feed holds none. */
  oldestSeq: number | undefined;
}

/** Events of a feed after a vendor's cursor, for the vendor status. */
export interface UnreadEvents {
  /** Events stored after the cursor, counted up to the cap; `capped` says when it was reached. */
  events: number;
  capped: boolean;
  /** When the oldest of them was stored, ms since the epoch; null when none. */
  oldestStoredAtMs: number | null;
}

export interface AgentLedgerHead {
  hospital: string;
  feed: string;
  /** 0 while no batch with a head was received. */
  ledgerIndex: number;
  /** Hex SHA-256; "" when ledgerIndex is 0. */
  ledgerHead: string;
  /** When the head was received, ms since the epoch. */
  receivedAtMs: number;
  /** Batches of the feed received (stored, resent or refused). */
  batches: number;
  /** When the last batch of the feed was received, ms since the epoch; null before the first. */
  lastBatchAtMs: number | null;
}

export interface FeedRevocation {
  hospital: string;
  feed: string;
  /** The feed's high-water mark when it was revoked; a reinstated feed continues from it. */
  highWaterSeq: number;
  /** Events and body bytes deleted for this revocation so far, over all requests. */
  eventsDeleted: number;
  bytesDeleted: number;
  reason: string;
  /** Milliseconds since the epoch. */
  revokedAtMs: number;
}

/** What was done so the deleted bytes cannot be read back from the backend's files. */
export interface Erasure {
  /** The write-ahead log no longer holds the deleted bytes (false: a reader kept it busy; revoking again retries). */
  walTruncated: boolean;
  /** Free pages handed back to the file system. */
  freePagesReleased: number;
  /** How they were handed back: none needed, in steps, or one full rewrite of the database. */
  vacuum: 'none' | 'incremental' | 'full';
}

/** What one revoke request did. */
export interface RevokeOutcome {
  revocation: FeedRevocation;
  /** Deleted by this request. */
  eventsDeleted: number;
  bytesDeleted: number;
  alreadyRevoked: boolean;
  erasure: Erasure;
}

/** What a reinstate did. */
export interface ReinstateOutcome {
  /** False when the feed was not revoked (nothing changed). */
  wasRevoked: boolean;
  /** The mark the feed continues from. */
  highWaterSeq: number;
}

/** One leaf of a feed's completeness tree: an event's seq and the SHA-256 of its body as stored. */
export interface FeedLeaf {
  seq: number;
  /** 32 bytes, computed from the stored body at read time (so an altered body shows). */
  bodySha256: Buffer;
}

/** A window of a feed whose RFC 9162 root the agent and the relay agreed on, as the relay signed it. */
export interface StoredTreeHead {
  hospital: string;
  feed: string;
  /** The window, inclusive. */
  fromSeq: number;
  toSeq: number;
  treeSize: number;
  /** 32 bytes. */
  root: Buffer;
  signedAtMs: number;
  /** protocol/tree-head.ts treeHeadText of the fields above: the exact text signed. */
  signedText: string;
  /** minisign signature of signedText by the relay's key. */
  signature: string;
}

/** A Revoke or Reinstate from the hospital's agent. */
export interface FeedControlRequest {
  hospital: string;
  feed: string;
  /** The agent's egress-ledger head sent with the request; kept like a batch's, not counted as a batch. */
  ledgerHead?: LedgerHeadInput | null;
}

// --- Purge (cloud-relay/exit/feed-purge.ts) ---

/** A purge request for one feed: a revoke that also deletes everything else of the feed kept in the store. */
export interface FeedPurgeRequest extends FeedControlRequest {
  reason: string;
  /**
   * Deletes what other stores hold of the feed (its blob references and chunks),
   * run after the events are deleted and before the one erasure, so that erasure
   * covers it too.
   */
  alsoDelete?: () => Promise<void>;
}

/** What purgeFeed deleted (the revoke's figures) and how it was erased. */
export interface FeedPurgeDeletion extends RevokeOutcome {
  /** Signed tree heads of the feed deleted (0 where the backend keeps none). */
  treeHeadsDeleted: number;
}

/** A feed's purge as kept: the signed receipt, fetchable again. */
export interface FeedPurgeRecord {
  hospital: string;
  feed: string;
  /** Milliseconds since the epoch. */
  purgedAtMs: number;
  /** The receipt's canonical JSON text, exactly as signed. */
  receipt: string;
  /** Its minisign signature by the relay's key. */
  signature: string;
}

export interface FeedStore {
  /** False once close() was called. */
  readonly open: boolean;

  /**
   * The feed's readable range now: its visible seq, its retention floor and its
   * oldest event held. Rejects with FeedRevokedError for a revoked feed.
   */
  feedRange(hospital: string, feed: string): Promise<FeedRange>;

  /**
   * The cursor from which a read starts at the first event (in commit-time
   * order, the agent's clock) with tsMs >= `tsMs`: that event's seq - 1, or the
   * visible seq when no event is that recent. Found by an index on
   * (hospital, feed, ts_ms): the event with the smallest tsMs >= `tsMs` (the
   * lowest seq among equal ones), so where the agent's clock stepped back the
   * order is the clock's. May be below the retention floor when the event it
   * would start at was removed (retention removed events and `tsMs` is before
   * the oldest event kept: the floor - 1): the caller refuses it then.
   * Rejects with FeedRevokedError for a revoked feed.
   */
  cursorAtTime(hospital: string, feed: string, tsMs: number): Promise<number>;

  /**
   * Removes the feed's oldest events that `rule` no longer keeps, and raises
   * its retention floor to the newest seq removed (never lowers it); never
   * removes events above the visible seq. What is removed is always a prefix of
   * the feed in seq order, so every event kept lies above the floor:
   * - receivedBeforeMs: through the last event the relay received before it
   *   (a repair stored later in between does not stop the sweep);
   * - maxBytes: then the oldest events while the feed's bodies take more.
   * Works in chunks of a bounded number of events, each its own transaction
   * under the feed's write lock (the one storeBatch takes), so a first sweep of
   * millions holds the lock only briefly at a time. Idempotent, and safe when
   * several relay processes run it at once (each chunk re-reads the floor and
   * counts under the lock). A revoked or unknown feed: removes nothing, floor 0.
   * Blob references (imaging instances named by removed blob-ref events) and
   * their chunks are left in place: the blob store keeps them.
   */
  applyRetention(hospital: string, feed: string, rule: RetentionRule): Promise<RetentionOutcome>;

  /**
   * Where (hospital, feed) stands as of the store's last commit: pure and
   * synchronous (a backend may answer from memory it keeps at commit), so the
   * session can skip decoding a batch storeBatch would not store (needsEvents)
   * and answer Hello. Not a decision: storeBatch re-reads under its write lock.
   * Throws FeedStoreClosedError after close().
   */
  position(hospital: string, feed: string): FeedPosition;

  /**
   * Brings what position() answers for the hospital's feeds up to date with the
   * backend, before a Hello is answered: where several relay processes share
   * one database, another process may have stored batches of an agent that has
   * just hopped here. A backend whose position() always reads its own commits
   * (SQLite, one process) resolves at once.
   */
  loadPositions(hospital: string): Promise<void>;

  /**
   * The single decision point for a batch. Under the backend's write lock it
   * reads the feed's revocation and mark, decides, and in one durable
   * transaction writes the events with seq > mark, sets the mark to lastSeq,
   * moves the visible seq to min(lastSeq, completeThroughSeq || lastSeq) unless
   * it is already past that (it never goes backward), and keeps the agent's
   * ledger head; resolves only once that is durable, so the caller may
   * acknowledge at once.
   *
   * - append / overlap: stores the new events; `highWater` = lastSeq. Idempotent
   *   on (hospital, feed, seq): an event already held is never written twice.
   * - duplicate (lastSeq <= mark): stores nothing; `highWater` = the mark.
   * - gap (firstSeq > mark + 1): stores nothing; `expectedSeq` = mark + 1.
   * - invalid (a range that is not one): stores nothing.
   * - beyond-head (lastSeq past batchCeiling of the events and journalHeadSeq):
   *   stores nothing, not even the ledger head.
   * - revoked: stores nothing; `highWater` = the mark at revocation.
   * - needs-events: `events` was undefined yet the batch would be stored;
   *   nothing changed: decode and call again.
   *
   * Every decision but beyond-head and needs-events keeps the ledger head and
   * counts the batch (ledgerHeads()). Rejects with RangeError, keeping nothing,
   * when an event lies outside [firstSeq, lastSeq]; FeedStoreClosedError after close().
   * After an advancing commit the store's onAdvance listener is told the visible seq.
   */
  storeBatch(batch: BatchToStore): Promise<StoredBatch>;

  /**
   * Up to `limit` events of (hospital, feed) with afterSeq < seq <= min(visible seq, untilSeq),
   * stopping early once bodies pass `maxBytes` bytes (at least one event is
   * returned), with the mark of the same snapshot. With `filter`, only matching
   * events are read and counted against limit and maxBytes. Rejects with FeedRevokedError
   * for a revoked feed. Default maxBytes DEFAULT_PAGE_MAX_BYTES, untilSeq unbounded.
   */
  readEvents(hospital: string, feed: string, afterSeq: number, limit: number, maxBytes?: number, untilSeq?: number, filter?: FeedFilter): Promise<FeedPage>;

  /**
   * Where readEvents(hospital, feed, afterSeq, limit, maxBytes) would end, from
   * seqs and body sizes alone, so a page can be sent in chunks (readEvents with
   * untilSeq = lastSeq). Rejects with FeedRevokedError for a revoked feed.
   */
  pageExtent(hospital: string, feed: string, afterSeq: number, limit: number, maxBytes?: number, filter?: FeedFilter): Promise<FeedPageExtent>;

  /** Every feed held (revoked feeds excluded), ordered by hospital then feed. */
  feedSizes(): Promise<FeedSize[]>;

  /**
   * Events of (hospital, feed) stored after `afterSeq` (a vendor's cursor),
   * counted up to `cap`, and when the oldest of them was stored.
   */
  unreadAfter(hospital: string, feed: string, afterSeq: number, cap: number): Promise<UnreadEvents>;

  /**
   * Revokes the feed: from the moment it resolves — and already while it runs —
   * nothing of it is stored or served; its events are deleted and erased from
   * the backend's files (`erasure` says how far). Idempotent: a repeat deletes
   * whatever is left and says alreadyRevoked. Keeps the request's ledger head.
   * The store's onRevoke listener is told.
   */
  revokeFeed(request: FeedControlRequest & { reason: string }): Promise<RevokeOutcome>;

  /**
   * Lifts a revocation: the feed is accepted and served again, continuing from
   * its mark at revocation (its erased events stay gone). For a feed not revoked,
   * changes nothing and says wasRevoked false. Keeps the request's ledger head.
   */
  reinstateFeed(request: FeedControlRequest): Promise<ReinstateOutcome>;

  /** Feeds revoked now, ordered by hospital then feed. */
  revocations(): Promise<FeedRevocation[]>;

  /** The newest ledger head and batch count per (hospital, feed), ordered by hospital then feed. */
  ledgerHeads(): Promise<AgentLedgerHead[]>;

  /**
   * The completeness-tree leaves of (hospital, feed) with fromSeq <= seq <= min(toSeq,
   * high-water mark), in seq order, each body's SHA-256 computed from the stored
   * bytes. Stored, not visible: the agent compares what it had acknowledged.
   * Rejects with FeedRevokedError for a revoked feed.
   */
  feedLeaves(hospital: string, feed: string, fromSeq: number, toSeq: number): Promise<FeedLeaf[]>;

  /** Keeps a signed tree head; a head for the same (hospital, feed, fromSeq) is replaced. */
  recordTreeHead(head: StoredTreeHead): Promise<void>;

  /** The signed tree heads of (hospital, feed), ordered by fromSeq; [] for none. */
  treeHeads(hospital: string, feed: string): Promise<StoredTreeHead[]>;

  /**
   * Purges the feed: revokes it (nothing of it is stored or served from then on,
   * and its batches are refused as `revoked`), deletes its events, position and
   * tree heads, runs `alsoDelete`, then erases everything deleted from the
   * backend's files (as revokeFeed does). Idempotent like revokeFeed. The caller
   * takes the receipt's figures (scanFeed) before and keeps the receipt with recordPurge.
   */
  purgeFeed(request: FeedPurgeRequest): Promise<FeedPurgeDeletion>;

  /** Keeps (replacing an older one) the signed receipt of a feed's purge. */
  recordPurge(record: FeedPurgeRecord): Promise<void>;

  /** The receipts kept, of one hospital or of all, ordered by hospital then feed. */
  purges(hospital?: string): Promise<FeedPurgeRecord[]>;

  /** Deletes the hospital's agent ledger heads (a contract-end purge of the whole hospital); returns how many. */
  forgetLedgerHeads(hospital: string): Promise<number>;

  /** Closes the store; what storeBatch acknowledged stays for the next open. Idempotent. */
  close(): Promise<void>;
}
