// The relay's durable store of feed events in one SQLite file: the FeedStore
// port (feed-store.ts) on better-sqlite3. A batch is
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
//     check the mark inside their transaction, and storeBatch answers
//     `revoked` with the mark at revocation.
//  7. A batch whose range runs past what its events and the agent's announced
//     journal head justify: decided beyond-head against the mark read under
//     the lock, nothing stored (protocol/batch-decision.ts, case 6).
//  8. A source transaction cut into several batches (one journal append of
//     100,000 rows): each batch says how far it is complete
//     (completeThroughSeq); vendors read up to feed_positions.visible_seq,
//     which storeBatch moves in the batch's own transaction and never backward,
//     so a page holds all of a transaction or none of it. Hello and resends go
//     by the high-water mark: the agent resumes after what is stored.
//  9. A repair batch (Batch.repair, a completeness proof found events missing
//     below the mark): only events not held are inserted (INSERT OR IGNORE);
//     neither mark moves, so vendors' cursors and the agent's resume are untouched.
// 10. Retention (feed-retention.ts) removes a prefix of the feed and raises
//     feed_positions.retention_floor_seq: a repair never stores an event at or
//     below the floor again (it would be an event no cursor can reach), and a
//     page's prevSeq falls back to the floor when no earlier event is kept.
// 11. A filtered read (FeedFilter): the filter is part of the page's query
//     (feed-filter-clause.ts), so the limit counts matching events and the
//     page still reports highWater and complete, letting the cursor move past
//     a range holding nothing that matches.
//  6. Deleted events left readable on disk (free pages, slack of live pages,
//     old WAL frames): secure_delete zeroes them; a revoke then checkpoints and
//     truncates the WAL and hands free pages back (feed-revocations.ts).
import { createHash } from 'node:crypto';
import { makePrivateDir, preparePrivateSqliteFile } from '../../runtime/index.js';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { eventFromRow, type EventOp, type EventRow, type JournalEvent } from '../../protocol/index.js';
import { FeedRevokedError, FeedStoreClosedError } from '../errors.js';
import { advancesFeed, batchCeiling, decideBatch } from '../../protocol/index.js';
import {
  DEFAULT_PAGE_MAX_BYTES,
  type AgentLedgerHead,
  type BatchToStore,
  type FeedControlRequest,
  type FeedLeaf,
  type FeedPage,
  type FeedPageExtent,
  type FeedRange,
  type RetentionRule,
  type RetentionOutcome,
  type FeedPurgeDeletion,
  type FeedPurgeRecord,
  type FeedPurgeRequest,
  type FeedFilter,
  type FeedPosition,
  type FeedRevocation,
  type FeedSize,
  type FeedStore,
  type FeedStoreListeners,
  type ReinstateOutcome,
  type RevokeOutcome,
  type StoredBatch,
  type StoredTreeHead,
  type UnreadEvents,
} from './feed-store.js';
import { AgentLedgerHeads } from './agent-ledger-heads.js';
import { FeedPurges } from './feed-purges.js';
import { FeedRevocations } from './feed-revocations.js';
import { FeedRetention } from './feed-retention.js';
import { cursorBeforeFirst } from './time-cursor.js';
import { feedFilterLists, sqliteFilterClause, type FeedFilterLists } from './feed-filter-clause.js';
import { migrate } from './migrations.js';
import { treeHeadOf, type TreeHeadRow } from './feed-rows.js';

/** How long a statement waits for another connection's lock before failing, in milliseconds. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

export interface SqliteFeedStoreOptions extends FeedStoreListeners {
  /** The SQLite file (`${dataDir}/relay.db`); its directory is created if missing. */
  file: string;
  /** Clock for updated_at_ms / received_at_ms, in milliseconds since the epoch. Default Date.now. */
  now?: () => number;
  /** Default DEFAULT_BUSY_TIMEOUT_MS. */
  busyTimeoutMs?: number;
  /** Events applyRetention examines per transaction; default DEFAULT_RETENTION_CHUNK_ROWS (feed-retention.ts). */
  retentionChunkRows?: number;
}

export class SqliteFeedStore implements FeedStore {
  private closed = false;
  private readonly now: () => number;
  private readonly onAdvance: FeedStoreListeners['onAdvance'];
  private readonly onRevoke: FeedStoreListeners['onRevoke'];
  private readonly statements;
  private readonly storeTransaction;
  private readonly readTransaction;
  private readonly extentTransaction;
  private readonly leavesTransaction;
  private readonly rangeTransaction;
  private readonly atTimeTransaction;
  private readonly heads: AgentLedgerHeads;
  private readonly revoked: FeedRevocations;
  private readonly purged: FeedPurges;
  private readonly retention: FeedRetention;
  /** Prepared statements of filtered reads, by the filter clause's text (a handful of shapes). */
  private readonly filtered = new Map<string, FilteredStatements>();

  private constructor(
    private readonly db: Database.Database,
    options: SqliteFeedStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.onAdvance = options.onAdvance;
    this.onRevoke = options.onRevoke;
    this.statements = {
      highWater: db.prepare<[string, string], { high_water_seq: number }>(
        'SELECT high_water_seq FROM feed_positions WHERE hospital = ? AND feed = ?',
      ),
      visible: db.prepare<[string, string], { visible_seq: number }>(
        'SELECT coalesce(visible_seq, high_water_seq) AS visible_seq FROM feed_positions WHERE hospital = ? AND feed = ?',
      ),
      marks: db.prepare<[string, string], { visible_seq: number; retention_floor_seq: number }>(
        'SELECT coalesce(visible_seq, high_water_seq) AS visible_seq, retention_floor_seq FROM feed_positions WHERE hospital = ? AND feed = ?',
      ),
      floor: db.prepare<[string, string], { retention_floor_seq: number }>('SELECT retention_floor_seq FROM feed_positions WHERE hospital = ? AND feed = ?'),
      insertEvent: db.prepare(
        `INSERT OR IGNORE INTO feed_events
           (hospital, feed, seq, stream, key, op, ts_ms, source, content_type, body, headers, received_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      advance: db.prepare(
        `INSERT INTO feed_positions (hospital, feed, high_water_seq, visible_seq, event_count, body_bytes, updated_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (hospital, feed) DO UPDATE SET
           high_water_seq = excluded.high_water_seq,
           visible_seq = excluded.visible_seq,
           event_count = event_count + excluded.event_count,
           body_bytes = body_bytes + excluded.body_bytes,
           updated_at_ms = excluded.updated_at_ms`,
      ),
      events: db.prepare<[string, string, number, number, number], EventRow>(
        `SELECT seq, stream, key, op, ts_ms, source, content_type, body, headers
           FROM feed_events
          WHERE hospital = ? AND feed = ? AND seq > ? AND seq <= ?
          ORDER BY seq
          LIMIT ?`,
      ),
      oldest: db.prepare<[string, string], { seq: number | null }>('SELECT min(seq) AS seq FROM feed_events WHERE hospital = ? AND feed = ?'),
      // One seek in feed_events_by_time (migration 11), whose entries carry the seq.
      atTime: db.prepare<[string, string, number, number], { seq: number; ts_ms: number }>(
        'SELECT seq, ts_ms FROM feed_events WHERE hospital = ? AND feed = ? AND ts_ms >= ? AND seq <= ? ORDER BY ts_ms, seq LIMIT 1',
      ),
      prev: db.prepare<[string, string, number], { seq: number | null }>('SELECT max(seq) AS seq FROM feed_events WHERE hospital = ? AND feed = ? AND seq <= ?'),
      extent: db.prepare<[string, string, number, number, number], { seq: number; bytes: number }>(
        `SELECT seq, length(body) AS bytes
           FROM feed_events
          WHERE hospital = ? AND feed = ? AND seq > ? AND seq <= ?
          ORDER BY seq
          LIMIT ?`,
      ),
      sizes: db.prepare<[], { hospital: string; feed: string; high_water_seq: number; event_count: number; updated_at_ms: number; retention_floor_seq: number; oldest_seq: number | null }>(
        `SELECT p.hospital, p.feed, p.high_water_seq, p.event_count, p.updated_at_ms, p.retention_floor_seq,
                (SELECT min(e.seq) FROM feed_events e WHERE e.hospital = p.hospital AND e.feed = p.feed) AS oldest_seq
           FROM feed_positions p ORDER BY p.hospital, p.feed`,
      ),
      // A vendor far behind must not make a status read scan millions of rows: counted up to a cap.
      unread: db.prepare<[string, string, number, number], { events: number }>(
        'SELECT COUNT(*) AS events FROM (SELECT 1 FROM feed_events WHERE hospital = ? AND feed = ? AND seq > ? LIMIT ?)',
      ),
      leafBodies: db.prepare<[string, string, number, number], { seq: number; body: Buffer }>(
        'SELECT seq, body FROM feed_events WHERE hospital = ? AND feed = ? AND seq >= ? AND seq <= ? ORDER BY seq',
      ),
      bumpCount: db.prepare('UPDATE feed_positions SET event_count = event_count + ?, body_bytes = body_bytes + ?, updated_at_ms = ? WHERE hospital = ? AND feed = ?'),
      putTreeHead: db.prepare(
        `INSERT OR REPLACE INTO feed_tree_heads
           (hospital, feed, from_seq, to_seq, tree_size, root, signed_at_ms, signed_text, signature)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      treeHeads: db.prepare<[string, string], TreeHeadRow>('SELECT * FROM feed_tree_heads WHERE hospital = ? AND feed = ? ORDER BY from_seq'),
      oldestUnread: db.prepare<[string, string, number], { received_at_ms: number }>(
        'SELECT received_at_ms FROM feed_events WHERE hospital = ? AND feed = ? AND seq > ? ORDER BY seq LIMIT 1',
      ),
    };
    this.heads = new AgentLedgerHeads(db);
    this.revoked = new FeedRevocations(db, this.now);
    this.purged = new FeedPurges(db);
    this.retention = new FeedRetention(db, options.retentionChunkRows);
    this.storeTransaction = db.transaction(this.storeInTransaction.bind(this));
    this.readTransaction = db.transaction(this.readInTransaction.bind(this));
    this.extentTransaction = db.transaction(this.extentInTransaction.bind(this));
    this.leavesTransaction = db.transaction(this.leavesInTransaction.bind(this));
    this.rangeTransaction = db.transaction(this.rangeInTransaction.bind(this));
    this.atTimeTransaction = db.transaction(this.atTimeInTransaction.bind(this));
  }

  /** Opens (creating and migrating if needed) the store at `options.file`. */
  static open(options: SqliteFeedStoreOptions): SqliteFeedStore {
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
      return new SqliteFeedStore(db, options);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  get open(): boolean {
    return !this.closed;
  }

  position(hospital: string, feed: string): FeedPosition {
    this.assertOpen();
    const revoked = this.revoked.get(hospital, feed);
    if (revoked) return { highWaterSeq: revoked.highWaterSeq, revoked: true };
    return { highWaterSeq: this.highWater(hospital, feed), revoked: false };
  }

  /** One process writes this file, so position() already reads every commit. */
  async loadPositions(): Promise<void> {
    this.assertOpen();
  }

  /** See FeedStore.storeBatch: decided and written in one BEGIN IMMEDIATE transaction. */
  async storeBatch(batch: BatchToStore): Promise<StoredBatch> {
    this.assertOpen();
    const { stored, visibleSeq } = this.storeTransaction.immediate(batch);
    // Live tails are woken for what they may read: told the high-water mark, a
    // tail at the visible seq would wake, find nothing and wake again at once.
    if (visibleSeq !== undefined) this.onAdvance?.(batch.hospital, batch.feed, visibleSeq);
    return stored;
  }

  async readEvents(
    hospital: string,
    feed: string,
    afterSeq: number,
    limit: number,
    maxBytes = DEFAULT_PAGE_MAX_BYTES,
    untilSeq = Number.MAX_SAFE_INTEGER,
    filter?: FeedFilter,
  ): Promise<FeedPage> {
    this.assertOpen();
    return this.readTransaction(hospital, feed, afterSeq, limit, maxBytes, untilSeq, feedFilterLists(filter));
  }

  async pageExtent(hospital: string, feed: string, afterSeq: number, limit: number, maxBytes = DEFAULT_PAGE_MAX_BYTES, filter?: FeedFilter): Promise<FeedPageExtent> {
    this.assertOpen();
    return this.extentTransaction(hospital, feed, afterSeq, limit, maxBytes, feedFilterLists(filter));
  }

  async feedRange(hospital: string, feed: string): Promise<FeedRange> {
    this.assertOpen();
    return this.rangeTransaction(hospital, feed);
  }

  async cursorAtTime(hospital: string, feed: string, tsMs: number): Promise<number> {
    this.assertOpen();
    return this.atTimeTransaction(hospital, feed, tsMs);
  }

  /** See FeedStore.applyRetention and FeedRetention.apply (chunks, each a BEGIN IMMEDIATE transaction). */
  async applyRetention(hospital: string, feed: string, rule: RetentionRule): Promise<RetentionOutcome> {
    this.assertOpen();
    return this.retention.apply(hospital, feed, rule, () => this.assertOpen());
  }

  async feedSizes(): Promise<FeedSize[]> {
    this.assertOpen();
    return this.statements.sizes.all().map((row) => ({
      hospital: row.hospital,
      feed: row.feed,
      highWaterSeq: row.high_water_seq,
      events: row.event_count,
      updatedAtMs: row.updated_at_ms,
      retentionFloorSeq: row.retention_floor_seq,
      oldestSeq: row.oldest_seq ?? undefined,
    }));
  }

  async unreadAfter(hospital: string, feed: string, afterSeq: number, cap: number): Promise<UnreadEvents> {
    this.assertOpen();
    const events = this.statements.unread.get(hospital, feed, afterSeq, cap)?.events ?? 0;
    const oldest = events > 0 ? (this.statements.oldestUnread.get(hospital, feed, afterSeq)?.received_at_ms ?? null) : null;
    return { events, capped: events >= cap, oldestStoredAtMs: oldest };
  }

  /** See FeedStore.revokeFeed and FeedRevocations.revoke (chunked deletion, then erasure). */
  async revokeFeed(request: FeedControlRequest & { reason: string }): Promise<RevokeOutcome> {
    this.assertOpen();
    const { hospital, feed } = request;
    this.heads.record(hospital, feed, request.ledgerHead ?? null, this.now(), false);
    const outcome = await this.revoked.revoke(hospital, feed, request.reason);
    this.onRevoke?.(hospital, feed);
    return outcome;
  }

  async reinstateFeed(request: FeedControlRequest): Promise<ReinstateOutcome> {
    this.assertOpen();
    this.heads.record(request.hospital, request.feed, request.ledgerHead ?? null, this.now(), false);
    return this.revoked.reinstate(request.hospital, request.feed);
  }

  async revocations(): Promise<FeedRevocation[]> {
    this.assertOpen();
    return this.revoked.all();
  }

  async ledgerHeads(): Promise<AgentLedgerHead[]> {
    this.assertOpen();
    return this.heads.all();
  }

  async feedLeaves(hospital: string, feed: string, fromSeq: number, toSeq: number): Promise<FeedLeaf[]> {
    this.assertOpen();
    return this.leavesTransaction(hospital, feed, fromSeq, toSeq);
  }

  async recordTreeHead(head: StoredTreeHead): Promise<void> {
    this.assertOpen();
    this.statements.putTreeHead.run(head.hospital, head.feed, head.fromSeq, head.toSeq, head.treeSize, head.root, head.signedAtMs, head.signedText, head.signature);
  }

  async treeHeads(hospital: string, feed: string): Promise<StoredTreeHead[]> {
    this.assertOpen();
    return this.statements.treeHeads.all(hospital, feed).map(treeHeadOf);
  }

  /** See FeedStore.purgeFeed: the revoke's marking and deletion, the tree heads, `alsoDelete`, then one erasure. */
  async purgeFeed(request: FeedPurgeRequest): Promise<FeedPurgeDeletion> {
    this.assertOpen();
    const { hospital, feed } = request;
    this.heads.record(hospital, feed, request.ledgerHead ?? null, this.now(), false);
    const deleted = await this.revoked.markAndDelete(hospital, feed, request.reason);
    this.onRevoke?.(hospital, feed);
    const treeHeadsDeleted = this.purged.deleteTreeHeads(hospital, feed);
    await request.alsoDelete?.();
    const erasure = await this.revoked.erase();
    return { ...deleted, treeHeadsDeleted, erasure };
  }

  async recordPurge(record: FeedPurgeRecord): Promise<void> {
    this.assertOpen();
    this.purged.record(record);
  }

  async purges(hospital?: string): Promise<FeedPurgeRecord[]> {
    this.assertOpen();
    return this.purged.all(hospital);
  }

  async forgetLedgerHeads(hospital: string): Promise<number> {
    this.assertOpen();
    return this.purged.deleteLedgerHeads(hospital);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private highWater(hospital: string, feed: string): number {
    return this.statements.highWater.get(hospital, feed)?.high_water_seq ?? 0;
  }

  /** The batch's outcome and, when it advanced the feed, the seq vendors may now read through. */
  private storeInTransaction(batch: BatchToStore): { stored: StoredBatch; visibleSeq?: number } {
    const stored = this.decideAndStore(batch);
    if (stored.decision.kind !== 'append' && stored.decision.kind !== 'overlap') return { stored };
    return { stored, visibleSeq: this.visibleSeq(batch.hospital, batch.feed) };
  }

  private decideAndStore(batch: BatchToStore): StoredBatch {
    const { hospital, feed, firstSeq, lastSeq, events } = batch;
    const ledgerHead = batch.ledgerHead ?? null;
    const revoked = this.revoked.get(hospital, feed);
    if (revoked) {
      this.heads.record(hospital, feed, ledgerHead, this.now(), true);
      return { decision: { kind: 'revoked', revokedAtMs: revoked.revokedAtMs }, highWater: revoked.highWaterSeq, storedEvents: 0 };
    }
    const highWater = this.highWater(hospital, feed);
    if (batch.repair) return this.storeRepair(batch, highWater);
    // Only decoded events justify a range: without them the ceiling is unknown.
    const ceilingSeq = events
      ? batchCeiling({ highWater, lastEventSeq: events.at(-1)?.seq ?? 0, announcedHeadSeq: batch.journalHeadSeq ?? 0 })
      : Number.POSITIVE_INFINITY;
    const decision = decideBatch(highWater, firstSeq, lastSeq, ceilingSeq);
    // Refused outright: the range claims positions the agent never had; nothing of it is kept.
    if (decision.kind === 'beyond-head') return { decision, highWater, storedEvents: 0 };
    if (!events && advancesFeed(decision)) return { decision: { kind: 'needs-events' }, highWater, storedEvents: 0 };
    this.heads.record(hospital, feed, ledgerHead, this.now(), true);
    if (!advancesFeed(decision) || !events) return { decision, highWater, storedEvents: 0 };

    const now = this.now();
    let storedEvents = 0;
    let storedBytes = 0;
    for (const event of events) {
      if (event.seq < firstSeq || event.seq > lastSeq) {
        // Throwing rolls the transaction back: nothing of the batch is kept.
        throw new RangeError(`event seq ${event.seq} is outside the batch range [${firstSeq}, ${lastSeq}]`);
      }
      if (event.seq <= highWater) continue;
      if (this.insertEvent(hospital, feed, event, now) === 0) continue;
      storedEvents += 1;
      storedBytes += event.body.length;
    }
    // Never backward (a later batch of a transaction already shown may be complete
    // through less), never past the mark (a claim beyond its own range).
    const completeThrough = Math.min(lastSeq, batch.completeThroughSeq || lastSeq);
    const visible = Math.max(this.visibleSeq(hospital, feed), completeThrough);
    this.statements.advance.run(hospital, feed, lastSeq, visible, storedEvents, storedBytes, now);
    return { decision, highWater: lastSeq, storedEvents };
  }

  /** Writes one event unless (hospital, feed, seq) is already held; 1 when written. */
  private insertEvent(hospital: string, feed: string, event: JournalEvent, now: number): number {
    return this.statements.insertEvent.run(
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

  /**
   * Failure modes 9 and 10: the events of a repair batch this store lacks below
   * the mark and above the retention floor; no mark moves.
   */
  private storeRepair(batch: BatchToStore, highWater: number): StoredBatch {
    const { hospital, feed, firstSeq, lastSeq } = batch;
    this.heads.record(hospital, feed, batch.ledgerHead ?? null, this.now(), true);
    const now = this.now();
    const floor = this.statements.floor.get(hospital, feed)?.retention_floor_seq ?? 0;
    let storedEvents = 0;
    let storedBytes = 0;
    for (const event of batch.events ?? []) {
      if (event.seq < firstSeq || event.seq > lastSeq) throw new RangeError(`event seq ${event.seq} is outside the batch range [${firstSeq}, ${lastSeq}]`);
      if (event.seq > highWater) continue; // never past the mark: that is an ordinary batch's job
      if (event.seq <= floor) continue; // retention removed it: no cursor may reach it again
      if (this.insertEvent(hospital, feed, event, now) === 0) continue;
      storedEvents += 1;
      storedBytes += event.body.length;
    }
    if (storedEvents > 0) this.statements.bumpCount.run(storedEvents, storedBytes, now, hospital, feed);
    return { decision: { kind: 'repaired' }, highWater, storedEvents };
  }

  private leavesInTransaction(hospital: string, feed: string, fromSeq: number, toSeq: number): FeedLeaf[] {
    const revoked = this.revoked.get(hospital, feed);
    if (revoked) throw new FeedRevokedError(hospital, feed, revoked.revokedAtMs);
    const through = Math.min(toSeq, this.highWater(hospital, feed));
    const leaves: FeedLeaf[] = [];
    for (const row of this.statements.leafBodies.iterate(hospital, feed, fromSeq, through)) {
      leaves.push({ seq: row.seq, bodySha256: createHash('sha256').update(row.body).digest() });
    }
    return leaves;
  }

  private readInTransaction(hospital: string, feed: string, afterSeq: number, limit: number, maxBytes: number, untilSeq: number, lists?: FeedFilterLists): FeedPage {
    const { visible: highWater, floor } = this.readableMarks(hospital, feed);
    const events: JournalEvent[] = [];
    let bytes = 0;
    let complete = true;
    const through = Math.min(highWater, untilSeq);
    const filtered = lists && this.filteredStatements(lists);
    // One row more than the limit tells whether the page is the end of the feed.
    const rows = filtered
      ? filtered.statements.events.iterate(hospital, feed, afterSeq, through, ...filtered.params, limit + 1)
      : this.statements.events.iterate(hospital, feed, afterSeq, through, limit + 1);
    for (const row of rows) {
      if (pageEndsBefore(events.length, bytes, row.body.length, limit, maxBytes)) {
        complete = false;
        break;
      }
      bytes += row.body.length;
      events.push(eventFromRow(row));
    }
    return { events, highWater, complete, prevSeq: this.prevSeq(hospital, feed, afterSeq, floor, filtered), retentionFloorSeq: floor };
  }

  private extentInTransaction(hospital: string, feed: string, afterSeq: number, limit: number, maxBytes: number, lists?: FeedFilterLists): FeedPageExtent {
    const { visible: highWater, floor } = this.readableMarks(hospital, feed);
    let events = 0;
    let bytes = 0;
    let lastSeq: number | undefined;
    let complete = true;
    const filtered = lists && this.filteredStatements(lists);
    const rows = filtered
      ? filtered.statements.extent.iterate(hospital, feed, afterSeq, highWater, ...filtered.params, limit + 1)
      : this.statements.extent.iterate(hospital, feed, afterSeq, highWater, limit + 1);
    for (const row of rows) {
      if (pageEndsBefore(events, bytes, row.bytes, limit, maxBytes)) {
        complete = false;
        break;
      }
      bytes += row.bytes;
      events += 1;
      lastSeq = row.seq;
    }
    return { highWater, lastSeq, events, complete, prevSeq: this.prevSeq(hospital, feed, afterSeq, floor, filtered), retentionFloorSeq: floor };
  }

  /** The last event at or before afterSeq passing the filter; the floor when none is kept (every kept event lies above it). */
  private prevSeq(hospital: string, feed: string, afterSeq: number, floor: number, filtered?: { statements: FilteredStatements; params: string[] }): number {
    const seq = filtered ? filtered.statements.prev.get(hospital, feed, afterSeq, ...filtered.params)?.seq : this.statements.prev.get(hospital, feed, afterSeq)?.seq;
    return seq ?? floor;
  }

  private rangeInTransaction(hospital: string, feed: string): FeedRange {
    const { visible, floor } = this.readableMarks(hospital, feed);
    return { highWater: visible, retentionFloorSeq: floor, oldestSeq: this.statements.oldest.get(hospital, feed)?.seq ?? undefined };
  }

  private atTimeInTransaction(hospital: string, feed: string, tsMs: number): number {
    const { visible, floor } = this.readableMarks(hospital, feed);
    const first = this.statements.atTime.get(hospital, feed, tsMs, visible);
    if (first === undefined) return visible;
    return cursorBeforeFirst({ seq: first.seq, tsMs: first.ts_ms }, tsMs, floor, this.statements.oldest.get(hospital, feed)?.seq ?? undefined);
  }

  /** The statements of one filter shape, prepared once, with the filter's parameters. */
  private filteredStatements(lists: FeedFilterLists): { statements: FilteredStatements; params: string[] } {
    const clause = sqliteFilterClause(lists);
    let statements = this.filtered.get(clause.sql);
    if (!statements) {
      statements = {
        events: this.db.prepare(
          `SELECT seq, stream, key, op, ts_ms, source, content_type, body, headers
             FROM feed_events
            WHERE hospital = ? AND feed = ? AND seq > ? AND seq <= ?${clause.sql}
            ORDER BY seq
            LIMIT ?`,
        ),
        extent: this.db.prepare(
          `SELECT seq, length(body) AS bytes
             FROM feed_events
            WHERE hospital = ? AND feed = ? AND seq > ? AND seq <= ?${clause.sql}
            ORDER BY seq
            LIMIT ?`,
        ),
        // Walks back from afterSeq to the first match, not max() over the whole prefix.
        prev: this.db.prepare(`SELECT seq FROM feed_events WHERE hospital = ? AND feed = ? AND seq <= ?${clause.sql} ORDER BY seq DESC LIMIT 1`),
      };
      this.filtered.set(clause.sql, statements);
    }
    return { statements, params: clause.params };
  }

  /** The visible seq and retention floor vendors read against; throws FeedRevokedError for a revoked feed. */
  private readableMarks(hospital: string, feed: string): { visible: number; floor: number } {
    const revoked = this.revoked.get(hospital, feed);
    if (revoked) throw new FeedRevokedError(hospital, feed, revoked.revokedAtMs);
    const row = this.statements.marks.get(hospital, feed);
    return { visible: row?.visible_seq ?? 0, floor: row?.retention_floor_seq ?? 0 };
  }

  /** How far vendors may read the feed: at most its high-water mark (feed_positions.visible_seq). */
  private visibleSeq(hospital: string, feed: string): number {
    return this.statements.visible.get(hospital, feed)?.visible_seq ?? 0;
  }

  private assertOpen(): void {
    if (this.closed) throw new FeedStoreClosedError();
  }
}

interface FilteredStatements {
  events: Database.Statement<unknown[], EventRow>;
  extent: Database.Statement<unknown[], { seq: number; bytes: number }>;
  prev: Database.Statement<unknown[], { seq: number }>;
}

/** A page holds at most `limit` events and stops before the bodies pass `maxBytes` (yet holds at least one event). */
function pageEndsBefore(events: number, bytes: number, rowBytes: number, limit: number, maxBytes: number): boolean {
  return events >= limit || (events > 0 && bytes + rowBytes > maxBytes);
}

