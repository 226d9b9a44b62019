// The relay's feed store on PostgreSQL: the FeedStore port (feed-store.ts) for
// several relay processes sharing one database. storeBatch decides under the
// feed's row lock (pg-feed-batches.ts), revokes take the same lock
// (pg-feed-revocations.ts), and every read is one statement, so one snapshot:
// a page and its mark, a leaf list and its mark, never two views mixed.
//
// Failure modes handled:
//  1. position() must answer synchronously, from memory (pg-feed-marks.ts),
//     yet other processes move the same feeds: the cache takes this
//     process's commits, the other processes' marks (observe: their doorbell
//     or the polling fallback), the hospital's marks at Hello (loadPositions)
//     and every mark at open. A stale answer costs a decode or a resend,
//     never a wrong ack: storeBatch re-decides under the lock.
//  2. The database goes away: every method rejects; a connection failure is
//     StoreUnavailableError (WL_STORE_UNAVAILABLE), which the Replicate stream
//     ends with as UNAVAILABLE (cloud-relay/grpc/grpc-status.ts), so the agent
//     reconnects and resends; nothing unconfirmed is acked.
//  3. A page read of large bodies: the size cut is taken in SQL from the
//     bodies' lengths (a running sum), so no more bodies than the page holds
//     leave the database.
//  4. Name order: ORDER BY … COLLATE "C", byte order as relay.db's BINARY
//     collation, whatever the database's locale.
//  5. A filtered read (FeedFilter): the filter is part of the page's statement
//     (feed-filter-clause.ts), so the limit and the size cut count matching
//     events only, and the page's mark, floor and prevSeq come from the same
//     snapshot; the unfiltered statement is the one it was.
//  6. Retention (pg-feed-retention.ts) leaves dead index entries at the start
//     of a feed until VACUUM: reads of the oldest seq start above the floor.
import { eventFromRow, type EventRow, type JournalEvent } from '../../../protocol/index.js';
import { FeedRevokedError, FeedStoreClosedError, StoreUnavailableError } from '../../errors.js';
import {
  DEFAULT_PAGE_MAX_BYTES,
  type AgentLedgerHead,
  type BatchToStore,
  type FeedControlRequest,
  type FeedFilter,
  type FeedLeaf,
  type FeedPage,
  type FeedPageExtent,
  type FeedRange,
  type RetentionRule,
  type RetentionOutcome,
  type FeedPosition,
  type FeedPurgeDeletion,
  type FeedPurgeRecord,
  type FeedPurgeRequest,
  type FeedRevocation,
  type FeedSize,
  type FeedStore,
  type FeedStoreListeners,
  type ReinstateOutcome,
  type RevokeOutcome,
  type StoredBatch,
  type StoredTreeHead,
  type UnreadEvents,
} from '../feed-store.js';
import type { FeedMark } from './feed-doorbell.js';
import { PgFeedBatches } from './pg-feed-batches.js';
import { PgFeedMarks } from './pg-feed-marks.js';
import { PgFeedRevocations } from './pg-feed-revocations.js';
import { PgFeedRetention } from './pg-feed-retention.js';
import { feedFilterLists, postgresFilterClause, type FeedFilterLists } from '../feed-filter-clause.js';
import { cursorBeforeFirst } from '../time-cursor.js';
import { allLedgerHeads } from './pg-ledger-heads.js';
import { isConnectionError, type RelayDatabase } from './relay-database.js';
import { treeHeadOf, type TreeHeadRow } from '../feed-rows.js';

export interface PostgresFeedStoreOptions extends FeedStoreListeners {
  /** The process's pool; migratePostgres has run on it. The store does not close it. */
  database: RelayDatabase;
  /** Clock for updated_at_ms / received_at_ms, in milliseconds since the epoch. Default Date.now. */
  now?: () => number;
  /** Events applyRetention examines per transaction; default PG_RETENTION_CHUNK_ROWS (pg-feed-retention.ts). */
  retentionChunkRows?: number;
}

// Every feed's marks: positions (not revoked) and revocations (the mark at revocation).
const MARKS = `
  SELECT hospital, feed, high_water_seq, coalesce(visible_seq, high_water_seq) AS visible_seq, false AS revoked FROM feed_positions WHERE $1::text IS NULL OR hospital = $1
  UNION ALL
  SELECT hospital, feed, high_water_seq, high_water_seq AS visible_seq, true AS revoked FROM feed_revocations WHERE $1::text IS NULL OR hospital = $1`;

// The feed's visible seq and revocation, and the page after them, in one snapshot.
// `n` and `running` (the bodies' bytes through the row) let the page be cut by
// size here (failure mode 3); a row past the cut comes without its body and says
// the page is not complete. $1 hospital, $2 feed, $3 afterSeq, $4 limit,
// $5 maxBytes, $6 untilSeq; a filter's lists from $7 (`filter`, its clause).
function pageSql(withBodies: boolean, filter = ''): string {
  const columns = withBodies ? 'e.stream, e.key, e.op, e.ts_ms, e.source, e.content_type, e.headers, CASE WHEN e.n <= $4 AND (e.n = 1 OR e.running <= $5) THEN e.body END AS body,' : '';
  // Filtered: walks back from afterSeq to the first match, not max() over the whole prefix.
  const prev =
    filter === ''
      ? '(SELECT max(seq) FROM feed_events WHERE hospital = $1 AND feed = $2 AND seq <= $3)'
      : `(SELECT seq FROM feed_events WHERE hospital = $1 AND feed = $2 AND seq <= $3${filter} ORDER BY seq DESC LIMIT 1)`;
  return `
    SELECT m.visible_seq, m.floor_seq, m.revoked_at_ms, m.prev_seq, e.seq, ${columns} e.bytes, e.n, e.running
      FROM (SELECT (SELECT coalesce(visible_seq, high_water_seq) FROM feed_positions WHERE hospital = $1 AND feed = $2) AS visible_seq,
                   (SELECT retention_floor_seq FROM feed_positions WHERE hospital = $1 AND feed = $2) AS floor_seq,
                   (SELECT revoked_at_ms FROM feed_revocations WHERE hospital = $1 AND feed = $2) AS revoked_at_ms,
                   ${prev} AS prev_seq) m
      LEFT JOIN LATERAL (
        SELECT * FROM (
          SELECT seq, stream, key, op, ts_ms, source, content_type, headers, body, octet_length(body) AS bytes,
                 row_number() OVER w AS n, sum(octet_length(body)) OVER w AS running
            FROM feed_events
           WHERE hospital = $1 AND feed = $2 AND seq > $3 AND seq <= LEAST(coalesce(m.visible_seq, 0), $6::bigint)${filter}
           WINDOW w AS (ORDER BY seq)
           ORDER BY seq
           LIMIT $4::bigint + 1
        ) x WHERE x.n = 1 OR x.running - x.bytes <= $5
      ) e ON true
     ORDER BY e.seq`;
}

interface PageRow extends Partial<EventRow> {
  visible_seq: number | null;
  floor_seq: number | null;
  revoked_at_ms: number | null;
  prev_seq: number | null;
  seq: number;
  bytes: number | null;
  n: number | null;
  running: number | null;
}

interface TimeSeekRow {
  visible_seq: number | null;
  floor_seq: number | null;
  revoked_at_ms: number | null;
  oldest_seq: number | null;
  seq: number | null;
  ts_ms: number | null;
}

export class PostgresFeedStore implements FeedStore {
  private closed = false;
  private readonly now: () => number;
  private readonly listeners: FeedStoreListeners;
  private readonly marks: PgFeedMarks;
  private readonly batches: PgFeedBatches;
  private readonly revoked: PgFeedRevocations;
  private readonly retention: PgFeedRetention;

  private constructor(private readonly database: RelayDatabase, options: PostgresFeedStoreOptions) {
    this.now = options.now ?? Date.now;
    this.listeners = { onAdvance: options.onAdvance, onRevoke: options.onRevoke };
    this.marks = new PgFeedMarks(this.listeners);
    this.batches = new PgFeedBatches(database, this.marks, this.now);
    this.revoked = new PgFeedRevocations(database, this.now);
    this.retention = new PgFeedRetention(database, options.retentionChunkRows);
  }

  /** Opens the store on `options.database` (already migrated) and reads every feed's marks. */
  static async open(options: PostgresFeedStoreOptions): Promise<PostgresFeedStore> {
    const store = new PostgresFeedStore(options.database, options);
    for (const mark of await store.guard(() => store.readMarks())) store.marks.apply(mark, false);
    return store;
  }

  get open(): boolean {
    return !this.closed;
  }

  position(hospital: string, feed: string): FeedPosition {
    this.assertOpen();
    return this.marks.position(hospital, feed);
  }

  /** Failure mode 1: another process may have stored this hospital's batches. */
  async loadPositions(hospital: string): Promise<void> {
    this.assertOpen();
    for (const mark of await this.guard(() => this.queryMarks(hospital))) this.marks.apply(mark);
  }

  /**
   * A mark another relay process committed (its doorbell, or the polling
   * fallback's readMarks): updates what position() answers and tells the
   * listeners as this process's own commits do.
   */
  observe(mark: FeedMark): void {
    if (this.closed) return;
    this.marks.apply(mark);
  }

  /** Every feed's marks, revoked feeds included, for the polling fallback. */
  async readMarks(): Promise<FeedMark[]> {
    this.assertOpen();
    return this.guard(() => this.queryMarks(null));
  }

  async storeBatch(batch: BatchToStore): Promise<StoredBatch> {
    this.assertOpen();
    const outcome = await this.guard(() => this.batches.store(batch));
    if (outcome.mark) this.marks.apply(outcome.mark, false);
    // Live tails are woken for what they may read (the visible seq).
    if (outcome.advanced && outcome.mark) this.listeners.onAdvance?.(batch.hospital, batch.feed, outcome.mark.visibleSeq);
    return outcome.stored;
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
    const rows = await this.page(hospital, feed, afterSeq, limit, maxBytes, untilSeq, true, feedFilterLists(filter));
    const events: JournalEvent[] = [];
    let complete = true;
    for (const row of rows) {
      if (row.seq === null) continue;
      if (row.body === null || row.body === undefined) {
        complete = false;
        break;
      }
      events.push(eventFromRow(row as EventRow));
    }
    const floor = rows[0]?.floor_seq ?? 0;
    return { events, highWater: rows[0]?.visible_seq ?? 0, complete, prevSeq: rows[0]?.prev_seq ?? floor, retentionFloorSeq: floor };
  }

  async pageExtent(hospital: string, feed: string, afterSeq: number, limit: number, maxBytes = DEFAULT_PAGE_MAX_BYTES, filter?: FeedFilter): Promise<FeedPageExtent> {
    this.assertOpen();
    const rows = await this.page(hospital, feed, afterSeq, limit, maxBytes, Number.MAX_SAFE_INTEGER, false, feedFilterLists(filter));
    let events = 0;
    let lastSeq: number | undefined;
    let complete = true;
    for (const row of rows) {
      if (row.seq === null) continue;
      if (!(row.n! <= limit && (row.n === 1 || row.running! <= maxBytes))) {
        complete = false;
        break;
      }
      events += 1;
      lastSeq = row.seq;
    }
    const floor = rows[0]?.floor_seq ?? 0;
    return { highWater: rows[0]?.visible_seq ?? 0, lastSeq, events, complete, prevSeq: rows[0]?.prev_seq ?? floor, retentionFloorSeq: floor };
  }

  async feedRange(hospital: string, feed: string): Promise<FeedRange> {
    this.assertOpen();
    const row = await this.timeSeek(hospital, feed, null);
    return { highWater: row.visible_seq ?? 0, retentionFloorSeq: row.floor_seq ?? 0, oldestSeq: row.oldest_seq ?? undefined };
  }

  async cursorAtTime(hospital: string, feed: string, tsMs: number): Promise<number> {
    this.assertOpen();
    const row = await this.timeSeek(hospital, feed, tsMs);
    const visible = row.visible_seq ?? 0;
    if (row.seq === null || row.ts_ms === null) return visible;
    return cursorBeforeFirst({ seq: row.seq, tsMs: row.ts_ms }, tsMs, row.floor_seq ?? 0, row.oldest_seq ?? undefined);
  }

  /** See FeedStore.applyRetention and PgFeedRetention.apply (chunks, each under the feed's row lock). */
  async applyRetention(hospital: string, feed: string, rule: RetentionRule): Promise<RetentionOutcome> {
    this.assertOpen();
    return this.guard(() => this.retention.apply(hospital, feed, rule, () => this.assertOpen()));
  }

  async feedSizes(): Promise<FeedSize[]> {
    this.assertOpen();
    const { rows } = await this.guard(() =>
      this.database.query<{ hospital: string; feed: string; high_water_seq: number; event_count: number; updated_at_ms: number; retention_floor_seq: number; oldest_seq: number | null }>(
        `SELECT p.hospital, p.feed, p.high_water_seq, p.event_count, p.updated_at_ms, p.retention_floor_seq,
                (SELECT min(e.seq) FROM feed_events e WHERE e.hospital = p.hospital AND e.feed = p.feed AND e.seq > p.retention_floor_seq) AS oldest_seq
           FROM feed_positions p ORDER BY p.hospital COLLATE "C", p.feed COLLATE "C"`,
      ),
    );
    return rows.map((row) => ({
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
    // A vendor far behind must not make a status read count millions of rows: counted up to a cap.
    const { rows } = await this.guard(() =>
      this.database.query<{ events: number; oldest: number | null }>(
        `SELECT (SELECT count(*) FROM (SELECT 1 FROM feed_events WHERE hospital = $1 AND feed = $2 AND seq > $3 LIMIT $4) c)::bigint AS events,
                (SELECT received_at_ms FROM feed_events WHERE hospital = $1 AND feed = $2 AND seq > $3 ORDER BY seq LIMIT 1) AS oldest`,
        [hospital, feed, afterSeq, cap],
      ),
    );
    const events = rows[0]?.events ?? 0;
    return { events, capped: events >= cap, oldestStoredAtMs: events > 0 ? (rows[0]?.oldest ?? null) : null };
  }

  async revokeFeed(request: FeedControlRequest & { reason: string }): Promise<RevokeOutcome> {
    this.assertOpen();
    const outcome = await this.guard(() => this.revoked.revoke(request));
    this.revokedHere(request.hospital, request.feed, outcome.revocation.highWaterSeq);
    return outcome;
  }

  async reinstateFeed(request: FeedControlRequest): Promise<ReinstateOutcome> {
    this.assertOpen();
    const outcome = await this.guard(() => this.revoked.reinstate(request));
    if (outcome.wasRevoked) {
      this.marks.apply({ hospital: request.hospital, feed: request.feed, highWaterSeq: outcome.highWaterSeq, visibleSeq: outcome.highWaterSeq, revoked: false }, false);
    }
    return outcome;
  }

  async revocations(): Promise<FeedRevocation[]> {
    this.assertOpen();
    return this.guard(() => this.revoked.all());
  }

  async ledgerHeads(): Promise<AgentLedgerHead[]> {
    this.assertOpen();
    return this.guard(() => allLedgerHeads(this.database));
  }

  async feedLeaves(hospital: string, feed: string, fromSeq: number, toSeq: number): Promise<FeedLeaf[]> {
    this.assertOpen();
    // Hashed where the bytes are: only 32 bytes per event cross the network. One statement, one snapshot.
    const { rows } = await this.guard(() =>
      this.database.query<{ revoked_at_ms: number | null; seq: number | null; sha: Buffer | null }>(
        `SELECT m.revoked_at_ms, e.seq, e.sha
           FROM (SELECT (SELECT high_water_seq FROM feed_positions WHERE hospital = $1 AND feed = $2) AS high_water_seq,
                        (SELECT revoked_at_ms FROM feed_revocations WHERE hospital = $1 AND feed = $2) AS revoked_at_ms) m
           LEFT JOIN LATERAL (
             SELECT seq, sha256(body) AS sha FROM feed_events
              WHERE hospital = $1 AND feed = $2 AND seq >= $3 AND seq <= LEAST($4::bigint, coalesce(m.high_water_seq, 0))
           ) e ON true
          ORDER BY e.seq`,
        [hospital, feed, fromSeq, toSeq],
      ),
    );
    const revokedAt = rows[0]?.revoked_at_ms;
    if (revokedAt !== null && revokedAt !== undefined) throw new FeedRevokedError(hospital, feed, revokedAt);
    return rows.filter((row) => row.seq !== null).map((row) => ({ seq: row.seq!, bodySha256: Buffer.from(row.sha!) }));
  }

  async recordTreeHead(head: StoredTreeHead): Promise<void> {
    this.assertOpen();
    await this.guard(() =>
      this.database.query(
        `INSERT INTO feed_tree_heads (hospital, feed, from_seq, to_seq, tree_size, root, signed_at_ms, signed_text, signature)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (hospital, feed, from_seq) DO UPDATE SET
           to_seq = excluded.to_seq, tree_size = excluded.tree_size, root = excluded.root,
           signed_at_ms = excluded.signed_at_ms, signed_text = excluded.signed_text, signature = excluded.signature`,
        [head.hospital, head.feed, head.fromSeq, head.toSeq, head.treeSize, head.root, head.signedAtMs, head.signedText, head.signature],
      ),
    );
  }

  async treeHeads(hospital: string, feed: string): Promise<StoredTreeHead[]> {
    this.assertOpen();
    const { rows } = await this.guard(() =>
      this.database.query<TreeHeadRow>(
        'SELECT * FROM feed_tree_heads WHERE hospital = $1 AND feed = $2 ORDER BY from_seq',
        [hospital, feed],
      ),
    );
    return rows.map(treeHeadOf);
  }

  /** See FeedStore.purgeFeed: the revoke's marking and deletion, the tree heads, `alsoDelete`, then one erasure. */
  async purgeFeed(request: FeedPurgeRequest): Promise<FeedPurgeDeletion> {
    this.assertOpen();
    const { hospital, feed } = request;
    const deleted = await this.guard(() => this.revoked.markAndDelete(request));
    this.revokedHere(hospital, feed, deleted.revocation.highWaterSeq);
    const treeHeadsDeleted = await this.guard(async () => (await this.database.query('DELETE FROM feed_tree_heads WHERE hospital = $1 AND feed = $2', [hospital, feed])).rowCount ?? 0);
    await request.alsoDelete?.();
    const erasure = await this.guard(() => this.revoked.erase(['feed_events', 'feed_tree_heads']));
    return { ...deleted, treeHeadsDeleted, erasure };
  }

  async recordPurge(record: FeedPurgeRecord): Promise<void> {
    this.assertOpen();
    await this.guard(() =>
      this.database.query(
        `INSERT INTO feed_purges (hospital, feed, purged_at_ms, receipt, signature) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (hospital, feed) DO UPDATE SET purged_at_ms = excluded.purged_at_ms, receipt = excluded.receipt, signature = excluded.signature`,
        [record.hospital, record.feed, record.purgedAtMs, record.receipt, record.signature],
      ),
    );
  }

  async purges(hospital?: string): Promise<FeedPurgeRecord[]> {
    this.assertOpen();
    const { rows } = await this.guard(() =>
      this.database.query<{ hospital: string; feed: string; purged_at_ms: number; receipt: string; signature: string }>(
        'SELECT * FROM feed_purges WHERE $1::text IS NULL OR hospital = $1 ORDER BY hospital COLLATE "C", feed COLLATE "C"',
        [hospital ?? null],
      ),
    );
    return rows.map((row) => ({ hospital: row.hospital, feed: row.feed, purgedAtMs: row.purged_at_ms, receipt: row.receipt, signature: row.signature }));
  }

  async forgetLedgerHeads(hospital: string): Promise<number> {
    this.assertOpen();
    return this.guard(async () => (await this.database.query('DELETE FROM agent_ledger_heads WHERE hospital = $1', [hospital])).rowCount ?? 0);
  }

  /** Closes the store (not the database: the process's other stores share it). Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
  }

  private revokedHere(hospital: string, feed: string, highWaterSeq: number): void {
    this.marks.apply({ hospital, feed, highWaterSeq, visibleSeq: highWaterSeq, revoked: true }, false);
    this.listeners.onRevoke?.(hospital, feed);
  }

  private async queryMarks(hospital: string | null): Promise<FeedMark[]> {
    const { rows } = await this.database.query<{ hospital: string; feed: string; high_water_seq: number; visible_seq: number; revoked: boolean }>(MARKS, [hospital]);
    return rows.map((row) => ({ hospital: row.hospital, feed: row.feed, highWaterSeq: row.high_water_seq, visibleSeq: row.visible_seq, revoked: row.revoked }));
  }

  /**
   * The feed's range in one snapshot and, for an instant, the first event at or
   * after it by feed_events_by_time (schema v8). Throws FeedRevokedError for a revoked feed.
   */
  private async timeSeek(hospital: string, feed: string, tsMs: number | null): Promise<TimeSeekRow> {
    const { rows } = await this.guard(() =>
      this.database.query<TimeSeekRow>(
        `SELECT m.visible_seq, m.floor_seq, m.revoked_at_ms,
                (SELECT min(seq) FROM feed_events WHERE hospital = $1 AND feed = $2 AND seq > coalesce(m.floor_seq, 0)) AS oldest_seq,
                f.seq, f.ts_ms
           FROM (SELECT (SELECT coalesce(visible_seq, high_water_seq) FROM feed_positions WHERE hospital = $1 AND feed = $2) AS visible_seq,
                        (SELECT retention_floor_seq FROM feed_positions WHERE hospital = $1 AND feed = $2) AS floor_seq,
                        (SELECT revoked_at_ms FROM feed_revocations WHERE hospital = $1 AND feed = $2) AS revoked_at_ms) m
           LEFT JOIN LATERAL (
             SELECT seq, ts_ms FROM feed_events
              WHERE $3::bigint IS NOT NULL AND hospital = $1 AND feed = $2 AND ts_ms >= $3::bigint AND seq <= coalesce(m.visible_seq, 0)
              ORDER BY ts_ms, seq LIMIT 1
           ) f ON true`,
        [hospital, feed, tsMs],
      ),
    );
    const row = rows[0]!;
    if (row.revoked_at_ms !== null) throw new FeedRevokedError(hospital, feed, row.revoked_at_ms);
    return row;
  }

  private async page(hospital: string, feed: string, afterSeq: number, limit: number, maxBytes: number, untilSeq: number, withBodies: boolean, lists?: FeedFilterLists): Promise<PageRow[]> {
    const filter = lists && postgresFilterClause(lists, 7);
    const sql = pageSql(withBodies, filter?.sql);
    const { rows } = await this.guard(() => this.database.query<PageRow>(sql, [hospital, feed, afterSeq, limit, maxBytes, untilSeq, ...(filter?.params ?? [])]));
    const revokedAt = rows[0]?.revoked_at_ms;
    if (revokedAt !== null && revokedAt !== undefined) throw new FeedRevokedError(hospital, feed, revokedAt);
    return rows;
  }

  /** Failure mode 2: a broken connection becomes StoreUnavailableError; other errors pass as they are. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof StoreUnavailableError || !isConnectionError(error)) throw error;
      throw new StoreUnavailableError(this.database.description, error);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new FeedStoreClosedError();
  }
}
