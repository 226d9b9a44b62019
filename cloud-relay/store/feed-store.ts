// The relay's durable store of feed events, in one SQLite file. A batch is
// stored in one transaction together with the feed's new high-water mark, and
// storeBatch returns only after that transaction is on disk, so the caller may
// acknowledge the batch as soon as it returns (DESIGN invariant 1).
//
// Failure modes handled:
//  1. The same batch arrives twice (agent resend after a cut): the decision is
//     taken inside the write transaction against the stored mark, and events are
//     INSERT OR IGNOREd on (hospital, feed, seq), so nothing is stored twice.
//  2. Two streams for one feed race (an agent reconnects while its old,
//     half-open stream still delivers): both decide under the write lock
//     (BEGIN IMMEDIATE), so the second sees the first's mark.
//  3. Power loss right after an ack: synchronous=FULL, see open().
//  4. A reader pages while batches land: a page and its high-water mark come
//     from one read transaction, so the cursor never skips an event.
//  5. A revoked feed (feed-revocations.ts): neither stored nor read; both
//     check the mark inside their transaction.
//  6. Deleted events left readable on disk (free pages, slack of live pages,
//     old WAL frames): secure_delete zeroes them; a revoke then checkpoints and
//     truncates the WAL and hands free pages back (feed-revocations.ts).
import { makePrivateDir, preparePrivateSqliteFile } from '../../runtime/index.js';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { eventFromRow, type EventOp, type EventRow, type JournalEvent } from '../../protocol/index.js';
import { FeedRevokedError, FeedStoreClosedError } from '../errors.js';
import { advancesFeed, decideBatch, type BatchDecision } from '../../protocol/index.js';
import type { FeedAdvanceListener } from './feed-notifier.js';
import { AgentLedgerHeads, type LedgerHeadInput } from './agent-ledger-heads.js';
import { FeedRevocations, type RevokeOutcome } from './feed-revocations.js';
import { migrate } from './migrations.js';

/** How long a statement waits for another connection's lock before failing, in milliseconds. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;
/** A page read stops adding events once their bodies pass this many bytes (at least one event is returned). */
export const DEFAULT_PAGE_MAX_BYTES = 8 * 1024 * 1024;

export interface FeedStoreOptions {
  /** The SQLite file (`${dataDir}/relay.db`); its directory is created if missing. */
  file: string;
  /** Called after a commit that moved a feed's high-water mark (live tails). */
  onAdvance?: FeedAdvanceListener;
  /** Clock for updated_at_ms / received_at_ms, in milliseconds since the epoch. Default Date.now. */
  now?: () => number;
  /** Default DEFAULT_BUSY_TIMEOUT_MS. */
  busyTimeoutMs?: number;
  /** Called after a feed was revoked (live tails end with the revocation error). */
  onRevoke?: (hospital: string, feed: string) => void;
}

/** What storeBatch did. */
export interface StoredBatch {
  /** The decision taken against the mark read inside the transaction. */
  decision: BatchDecision;
  /** The feed's durable high-water mark after the call. */
  highWater: number;
  /** Events newly written (0 for duplicate, gap and invalid). */
  storedEvents: number;
}

/** One page of a feed, read in one snapshot. */
export interface FeedPage {
  /** Events with afterSeq < seq <= highWater, in seq order. */
  events: JournalEvent[];
  /** The feed's high-water mark in the same snapshot (0 for a feed never written). */
  highWater: number;
  /** True when `events` holds every event in (afterSeq, highWater]; false when cut by limit or size. */
  complete: boolean;
}

/** Where a page would end, read without the bodies (a page streamed in chunks sends its headers first). */
export interface FeedPageExtent {
  /** The feed's high-water mark in the snapshot. */
  highWater: number;
  /** The seq of the page's last event; undefined for an empty page. */
  lastSeq: number | undefined;
  /** Events in the page. */
  events: number;
  /** As FeedPage.complete. */
  complete: boolean;
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
}


export class FeedStore {
  private closed = false;
  private readonly now: () => number;
  private readonly onAdvance: FeedAdvanceListener | undefined;
  private readonly onRevoke: ((hospital: string, feed: string) => void) | undefined;
  private readonly statements;
  private readonly storeTransaction;
  private readonly readTransaction;
  private readonly extentTransaction;
  /** The agents' egress-ledger heads per feed. */
  readonly ledgerHeads: AgentLedgerHeads;
  /** Feeds the hospitals revoked. */
  readonly revocations: FeedRevocations;

  private constructor(
    private readonly db: Database.Database,
    options: FeedStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.onAdvance = options.onAdvance;
    this.onRevoke = options.onRevoke;
    this.statements = {
      highWater: db.prepare<[string, string], { high_water_seq: number }>(
        'SELECT high_water_seq FROM feed_positions WHERE hospital = ? AND feed = ?',
      ),
      insertEvent: db.prepare(
        `INSERT OR IGNORE INTO feed_events
           (hospital, feed, seq, stream, key, op, ts_ms, source, content_type, body, headers, received_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      advance: db.prepare(
        `INSERT INTO feed_positions (hospital, feed, high_water_seq, event_count, updated_at_ms)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (hospital, feed) DO UPDATE SET
           high_water_seq = excluded.high_water_seq,
           event_count = event_count + excluded.event_count,
           updated_at_ms = excluded.updated_at_ms`,
      ),
      events: db.prepare<[string, string, number, number, number], EventRow>(
        `SELECT seq, stream, key, op, ts_ms, source, content_type, body, headers
           FROM feed_events
          WHERE hospital = ? AND feed = ? AND seq > ? AND seq <= ?
          ORDER BY seq
          LIMIT ?`,
      ),
      extent: db.prepare<[string, string, number, number, number], { seq: number; bytes: number }>(
        `SELECT seq, length(body) AS bytes
           FROM feed_events
          WHERE hospital = ? AND feed = ? AND seq > ? AND seq <= ?
          ORDER BY seq
          LIMIT ?`,
      ),
      sizes: db.prepare<[], { hospital: string; feed: string; high_water_seq: number; event_count: number; updated_at_ms: number }>(
        'SELECT hospital, feed, high_water_seq, event_count, updated_at_ms FROM feed_positions ORDER BY hospital, feed',
      ),
      // A vendor far behind must not make a status read scan millions of rows: counted up to a cap.
      unread: db.prepare<[string, string, number, number], { events: number }>(
        'SELECT COUNT(*) AS events FROM (SELECT 1 FROM feed_events WHERE hospital = ? AND feed = ? AND seq > ? LIMIT ?)',
      ),
      oldestUnread: db.prepare<[string, string, number], { received_at_ms: number }>(
        'SELECT received_at_ms FROM feed_events WHERE hospital = ? AND feed = ? AND seq > ? ORDER BY seq LIMIT 1',
      ),
    };
    this.ledgerHeads = new AgentLedgerHeads(db);
    this.revocations = new FeedRevocations(db, this.now);
    this.storeTransaction = db.transaction(this.storeInTransaction.bind(this));
    this.readTransaction = db.transaction(this.readInTransaction.bind(this));
    this.extentTransaction = db.transaction(this.extentInTransaction.bind(this));
  }

  /** Opens (creating and migrating if needed) the store at `options.file`. */
  static open(options: FeedStoreOptions): FeedStore {
    // Every tenant's events: the service account's alone, whatever the umask.
    makePrivateDir(dirname(options.file));
    preparePrivateSqliteFile(options.file);
    const db = new Database(options.file);
    try {
      // Larger pages keep more HL7-sized rows per page in the clustered
      // (WITHOUT ROWID) event table; only takes effect when the file is new.
      db.pragma('page_size = 16384');
      // Freed pages can be handed back in steps (incremental_vacuum) after a revoke
      // instead of a VACUUM that blocks every hospital; only takes effect when the file is new.
      db.pragma('auto_vacuum = INCREMENTAL');
      // WAL: vendor reads never block agent writes, and a commit is one append.
      db.pragma('journal_mode = WAL');
      // FULL, not NORMAL: in WAL mode NORMAL skips the fsync at commit, so a power
      // cut can lose the last transactions — batches the relay already acked.
      // An ack promises durability, so every commit is fsynced.
      db.pragma('synchronous = FULL');
      db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`);
      // A revoke promises the feed is gone: deleted rows and freed pages are
      // overwritten with zeros, so no PID segment survives in free pages or in the
      // slack of live ones (feed-revocations.ts then truncates the WAL).
      db.pragma('secure_delete = ON');
      migrate(db, options.file);
      return new FeedStore(db, options);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** The feed's durable high-water mark: the last seq stored (0 for a feed never written). */
  highWater(hospital: string, feed: string): number {
    this.assertOpen();
    return this.statements.highWater.get(hospital, feed)?.high_water_seq ?? 0;
  }

  /**
   * Stores the batch [firstSeq, lastSeq] of (hospital, feed) in one durable
   * transaction: re-reads the high-water mark, decides (decideBatch), writes the
   * events with seq > mark and sets the mark to lastSeq. `events` must be in seq
   * order within the range (decodeEvents guarantees it). Returns once committed.
   * `ledgerHead`, the agent's egress-ledger head sent with the batch, is kept in
   * the same transaction. Throws FeedRevokedError for a revoked feed.
   */
  storeBatch(hospital: string, feed: string, firstSeq: number, lastSeq: number, events: readonly JournalEvent[], ledgerHead: LedgerHeadInput | null = null): StoredBatch {
    this.assertOpen();
    const stored = this.storeTransaction.immediate(hospital, feed, firstSeq, lastSeq, events, ledgerHead);
    if (advancesFeed(stored.decision)) this.onAdvance?.(hospital, feed, stored.highWater);
    return stored;
  }

  /**
   * Reads up to `limit` events after `afterSeq`, stopping early once bodies pass
   * `maxBytes`, together with the high-water mark of the same snapshot.
   * Throws FeedRevokedError for a revoked feed.
   */
  readEvents(hospital: string, feed: string, afterSeq: number, limit: number, maxBytes = DEFAULT_PAGE_MAX_BYTES, untilSeq = Number.MAX_SAFE_INTEGER): FeedPage {
    this.assertOpen();
    return this.readTransaction(hospital, feed, afterSeq, limit, maxBytes, untilSeq);
  }

  /**
   * Where readEvents(hospital, feed, afterSeq, limit, maxBytes) would end, from
   * the seqs and body sizes alone: a page can then be sent in small chunks
   * (readEvents with `untilSeq` = lastSeq) instead of being held whole in memory.
   * Throws FeedRevokedError for a revoked feed.
   */
  pageExtent(hospital: string, feed: string, afterSeq: number, limit: number, maxBytes = DEFAULT_PAGE_MAX_BYTES): FeedPageExtent {
    this.assertOpen();
    return this.extentTransaction(hospital, feed, afterSeq, limit, maxBytes);
  }

  /** Every feed the relay holds, with its mark, event count and last batch time. */
  feedSizes(): FeedSize[] {
    this.assertOpen();
    return this.statements.sizes.all().map((row) => ({
      hospital: row.hospital,
      feed: row.feed,
      highWaterSeq: row.high_water_seq,
      events: row.event_count,
      updatedAtMs: row.updated_at_ms,
    }));
  }

  /**
   * Events of (hospital, feed) stored after `afterSeq` — a vendor's cursor —
   * counted up to `cap`, and when the oldest of them was stored (ms since the epoch).
   */
  unreadAfter(hospital: string, feed: string, afterSeq: number, cap: number): { events: number; capped: boolean; oldestStoredAtMs: number | null } {
    this.assertOpen();
    const events = this.statements.unread.get(hospital, feed, afterSeq, cap)?.events ?? 0;
    const oldest = events > 0 ? (this.statements.oldestUnread.get(hospital, feed, afterSeq)?.received_at_ms ?? null) : null;
    return { events, capped: events >= cap, oldestStoredAtMs: oldest };
  }

  /** Revokes (hospital, feed): see FeedRevocations.revoke. */
  async revokeFeed(hospital: string, feed: string, reason: string): Promise<RevokeOutcome> {
    this.assertOpen();
    const outcome = await this.revocations.revoke(hospital, feed, reason);
    this.onRevoke?.(hospital, feed);
    return outcome;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private storeInTransaction(
    hospital: string,
    feed: string,
    firstSeq: number,
    lastSeq: number,
    events: readonly JournalEvent[],
    ledgerHead: LedgerHeadInput | null,
  ): StoredBatch {
    const revoked = this.revocations.get(hospital, feed);
    if (revoked) throw new FeedRevokedError(hospital, feed, revoked.revokedAtMs);
    this.ledgerHeads.record(hospital, feed, ledgerHead, this.now(), true);
    const highWater = this.statements.highWater.get(hospital, feed)?.high_water_seq ?? 0;
    const decision = decideBatch(highWater, firstSeq, lastSeq);
    if (!advancesFeed(decision)) return { decision, highWater, storedEvents: 0 };

    const now = this.now();
    let storedEvents = 0;
    for (const event of events) {
      if (event.seq < firstSeq || event.seq > lastSeq) {
        // Throwing rolls the transaction back: nothing of the batch is kept.
        throw new RangeError(`event seq ${event.seq} is outside the batch range [${firstSeq}, ${lastSeq}]`);
      }
      if (event.seq <= highWater) continue;
      storedEvents += this.statements.insertEvent.run(
        hospital,
        feed,
        event.seq,
        event.stream,
        event.key,
        event.op,
        event.tsMs,
        event.source,
        event.contentType,
        event.body,
        JSON.stringify(event.headers),
        now,
      ).changes;
    }
    this.statements.advance.run(hospital, feed, lastSeq, storedEvents, now);
    return { decision, highWater: lastSeq, storedEvents };
  }

  private readInTransaction(hospital: string, feed: string, afterSeq: number, limit: number, maxBytes: number, untilSeq: number): FeedPage {
    const highWater = this.readableHighWater(hospital, feed);
    const events: JournalEvent[] = [];
    let bytes = 0;
    let complete = true;
    // One row more than the limit tells whether the page is the end of the feed.
    for (const row of this.statements.events.iterate(hospital, feed, afterSeq, Math.min(highWater, untilSeq), limit + 1)) {
      if (pageEndsBefore(events.length, bytes, row.body.length, limit, maxBytes)) {
        complete = false;
        break;
      }
      bytes += row.body.length;
      events.push(eventFromRow(row));
    }
    return { events, highWater, complete };
  }

  private extentInTransaction(hospital: string, feed: string, afterSeq: number, limit: number, maxBytes: number): FeedPageExtent {
    const highWater = this.readableHighWater(hospital, feed);
    let events = 0;
    let bytes = 0;
    let lastSeq: number | undefined;
    let complete = true;
    for (const row of this.statements.extent.iterate(hospital, feed, afterSeq, highWater, limit + 1)) {
      if (pageEndsBefore(events, bytes, row.bytes, limit, maxBytes)) {
        complete = false;
        break;
      }
      bytes += row.bytes;
      events += 1;
      lastSeq = row.seq;
    }
    return { highWater, lastSeq, events, complete };
  }

  private readableHighWater(hospital: string, feed: string): number {
    const revoked = this.revocations.get(hospital, feed);
    if (revoked) throw new FeedRevokedError(hospital, feed, revoked.revokedAtMs);
    return this.statements.highWater.get(hospital, feed)?.high_water_seq ?? 0;
  }

  private assertOpen(): void {
    if (this.closed) throw new FeedStoreClosedError();
  }
}

/** A page holds at most `limit` events and stops before the bodies pass `maxBytes` (yet holds at least one event). */
function pageEndsBefore(events: number, bytes: number, rowBytes: number, limit: number, maxBytes: number): boolean {
  return events >= limit || (events > 0 && bytes + rowBytes > maxBytes);
}

