// PostgresFeedStore.storeBatch: the one decision point for a batch when
// several relay processes share one database. The decision itself is
// protocol/batch-decision.ts, as in SqliteFeedStore; what this file adds is
// where the mark it decides against comes from, so that it is the mark the
// write will replace.
//
// Two ways to the same result:
//  - The fast path, one statement in its own transaction (one round trip): when
//    the cached mark says the batch appends, a conditional UPDATE moves the
//    feed_positions row only if it still holds the cached marks, and the
//    events, the ledger head and the doorbell ride in the same statement
//    (data-modifying CTEs, each gated on that UPDATE). UPDATE takes the row
//    lock and re-checks its condition on the newest row version, so a mark
//    moved by another process meanwhile makes it a no-op (zero rows) and the
//    batch goes the locked path.
//  - The locked path (BEGIN … COMMIT, a few round trips): SELECT … FOR UPDATE
//    of the feed's position row, decide, write. Used for a feed's first batch,
//    a stale cache, a revoked feed, a repair, a resend or a gap.
//
// Failure modes handled:
//  1. Two processes (or two streams) store one feed at once: both decide
//     under the position row's lock; the second sees the first's mark.
//  2. A cache made stale by another process: the fast path's condition fails
//     (locked path), and the locked path never reads the cache.
//  3. A revoke racing a batch: a feed has a position row exactly while it is
//     not revoked (revoke deletes it and reinstate restores it, each under the
//     row's lock), so a batch holding the row lock knows the feed is not
//     revoked; finding no row, it reads feed_revocations in a later statement
//     (a newer snapshot) and, for a feed never written, inserts the row and
//     reads the revocation once more, deleting its row again if a revoke won.
//  4. The connection breaks mid-way: the transaction never committed (or its
//     COMMIT's outcome is unknown); the caller gets StoreUnavailableError and
//     acks nothing; the agent's resend is decided against whatever committed.
//  5. The doorbell (pg_notify) goes in the batch's own transaction: other
//     processes hear of the batch when, and only if, it commits.
//  6. Deadlock between writers of one feed: every path takes the position row
//     (or, for a revoked feed, reads the revocation) before the ledger head's
//     row, revoke and reinstate included (pg-feed-revocations.ts).
import { advancesFeed, batchCeiling, decideBatch, type BatchDecision, type JournalEvent } from '../../../protocol/index.js';
import type { BatchToStore, StoredBatch } from '../feed-store.js';
import { FEED_DOORBELL_CHANNEL, feedDoorbellPayload, type FeedMark } from './feed-doorbell.js';
import { ledgerHeadUpsertSql, ledgerHeadValues, recordLedgerHead } from './pg-ledger-heads.js';
import type { PgFeedMarks } from './pg-feed-marks.js';
import type { DatabaseClient, RelayDatabase } from './relay-database.js';

/** What storeBatch did and, when it advanced the feed, its new marks (for the cache and onAdvance). */
export interface BatchOutcome {
  stored: StoredBatch;
  /** The feed's marks after the commit, when they changed (or the revocation it met). */
  mark?: FeedMark;
  advanced: boolean;
}

/** The marks a decision is taken against. */
interface FeedState {
  highWater: number;
  visible: number;
  /** feed_positions.retention_floor_seq (absent: 0): a repair stores nothing at or below it. */
  floor?: number;
  /** True when this transaction created the feed's position row (its first batch). */
  created?: boolean;
}

/** A batch that will be written: the events past the mark and the marks after it. */
interface Write {
  decision: BatchDecision;
  events: readonly JournalEvent[];
  lastSeq: number;
  visible: number;
}

/** Decided without writing events: the answer and whether the batch counts (its ledger head is kept). */
interface Answer {
  stored: StoredBatch;
  countBatch: boolean;
}

/**
 * Decides `batch` against `state` (pure): an answer to give, or a write to do.
 * Throws RangeError for an event outside the range of a batch that would be stored.
 */
export function planBatch(batch: BatchToStore, state: FeedState): Answer | Write {
  const { firstSeq, lastSeq, events } = batch;
  const { highWater } = state;
  // Only decoded events justify a range: without them the ceiling is unknown.
  const ceilingSeq = events
    ? batchCeiling({ highWater, lastEventSeq: events.at(-1)?.seq ?? 0, announcedHeadSeq: batch.journalHeadSeq ?? 0 })
    : Number.POSITIVE_INFINITY;
  const decision = decideBatch(highWater, firstSeq, lastSeq, ceilingSeq);
  // Refused outright: the range claims positions the agent never had; nothing of it is kept.
  if (decision.kind === 'beyond-head') return { stored: { decision, highWater, storedEvents: 0 }, countBatch: false };
  if (!events && advancesFeed(decision)) return { stored: { decision: { kind: 'needs-events' }, highWater, storedEvents: 0 }, countBatch: false };
  if (!advancesFeed(decision) || !events) return { stored: { decision, highWater, storedEvents: 0 }, countBatch: true };
  checkRange(events, firstSeq, lastSeq);
  // Never backward (a later batch of a transaction already shown may be complete
  // through less), never past the mark (a claim beyond its own range).
  const completeThrough = Math.min(lastSeq, batch.completeThroughSeq || lastSeq);
  return { decision, events: events.filter((e) => e.seq > highWater), lastSeq, visible: Math.max(state.visible, completeThrough) };
}

function checkRange(events: readonly JournalEvent[], firstSeq: number, lastSeq: number): void {
  for (const event of events) {
    if (event.seq < firstSeq || event.seq > lastSeq) throw new RangeError(`event seq ${event.seq} is outside the batch range [${firstSeq}, ${lastSeq}]`);
  }
}

/** The events as one array per column, for INSERT … SELECT FROM unnest(…): one parameter per column, whatever the batch's size. */
function eventColumns(events: readonly JournalEvent[]): unknown[] {
  return [
    events.map((e) => e.seq),
    events.map((e) => e.stream),
    events.map((e) => e.key),
    events.map((e) => e.op),
    events.map((e) => e.tsMs),
    events.map((e) => e.source),
    events.map((e) => e.contentType),
    events.map((e) => e.body),
    events.map((e) => JSON.stringify(e.headers)),
  ];
}

/** The events insert, parameters $1 hospital, $2 feed, $3 received_at_ms, $4..$12 the columns; `gate` an extra WHERE. */
function insertEventsSql(gate = 'true'): string {
  return `INSERT INTO feed_events (hospital, feed, seq, stream, key, op, ts_ms, source, content_type, body, headers, received_at_ms)
    SELECT $1, $2, e.seq, e.stream, e.key, e.op, e.ts_ms, e.source, e.content_type, e.body, e.headers, $3
      FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::bytea[], $12::text[])
           AS e(seq, stream, key, op, ts_ms, source, content_type, body, headers)
     WHERE ${gate}
    ON CONFLICT (hospital, feed, seq) DO NOTHING
    RETURNING octet_length(body) AS bytes`;
}

// The fast path's one statement. $1..$12 as insertEventsSql; $13 cached high-water,
// $14 cached visible, $15 new high-water, $16 new visible, $17 events counted,
// $18..$20 ledger index, head, batches; $21 doorbell channel, $22 payload;
// $23 body bytes counted (the events past the mark are never held: all go in).
const FAST_APPEND = `
  WITH moved AS (
    UPDATE feed_positions
       SET high_water_seq = $15, visible_seq = $16, event_count = event_count + $17, body_bytes = body_bytes + $23, updated_at_ms = $3
     WHERE hospital = $1 AND feed = $2 AND high_water_seq = $13 AND coalesce(visible_seq, high_water_seq) = $14
    RETURNING 1
  ), inserted AS (
    ${insertEventsSql('EXISTS (SELECT 1 FROM moved)')}
  ), head AS (
    ${ledgerHeadUpsertSql('SELECT $1, $2, $18, $19, $3, $20, $3 WHERE EXISTS (SELECT 1 FROM moved)')}
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM inserted)::bigint AS stored, pg_notify($21, $22) FROM moved`;

export class PgFeedBatches {
  constructor(
    private readonly database: RelayDatabase,
    private readonly marks: PgFeedMarks,
    private readonly now: () => number,
  ) {}

  async store(batch: BatchToStore): Promise<BatchOutcome> {
    const cached = this.marks.get(batch.hospital, batch.feed);
    if (cached && !cached.revoked && !batch.repair && batch.events) {
      const plan = planBatch(batch, { highWater: cached.highWaterSeq, visible: cached.visibleSeq });
      if ('events' in plan) {
        const done = await this.fastAppend(batch, cached, plan);
        if (done) return done;
      }
    }
    return this.database.transaction((client) => this.storeLocked(client, batch));
  }

  /** The fast path; undefined when the feed's row no longer held the cached marks (nothing was written). */
  private async fastAppend(batch: BatchToStore, cached: FeedMark, plan: Write): Promise<BatchOutcome | undefined> {
    const { hospital, feed } = batch;
    const now = this.now();
    const mark: FeedMark = { hospital, feed, highWaterSeq: plan.lastSeq, visibleSeq: plan.visible, revoked: false };
    const [, , ledgerIndex, ledgerHead] = ledgerHeadValues(hospital, feed, batch.ledgerHead ?? null, now, true);
    const { rows } = await this.database.query<{ stored: number }>(FAST_APPEND, [
      hospital,
      feed,
      now,
      ...eventColumns(plan.events),
      cached.highWaterSeq,
      cached.visibleSeq,
      plan.lastSeq,
      plan.visible,
      plan.events.length,
      ledgerIndex,
      ledgerHead,
      1,
      FEED_DOORBELL_CHANNEL,
      feedDoorbellPayload(mark),
      bodyBytes(plan.events),
    ]);
    const row = rows[0];
    if (!row) return undefined;
    return { stored: { decision: plan.decision, highWater: plan.lastSeq, storedEvents: row.stored }, mark, advanced: true };
  }

  /** The locked path, inside `client`'s transaction. */
  private async storeLocked(client: DatabaseClient, batch: BatchToStore): Promise<BatchOutcome> {
    const { hospital, feed } = batch;
    const now = this.now();
    const state = await this.lockFeed(client, hospital, feed, now);
    if ('revokedAtMs' in state) {
      await recordLedgerHead(client, hospital, feed, batch.ledgerHead ?? null, now, true);
      return {
        stored: { decision: { kind: 'revoked', revokedAtMs: state.revokedAtMs }, highWater: state.highWater, storedEvents: 0 },
        mark: { hospital, feed, highWaterSeq: state.highWater, visibleSeq: state.highWater, revoked: true },
        advanced: false,
      };
    }
    const current: FeedMark = { hospital, feed, highWaterSeq: state.highWater, visibleSeq: state.visible, revoked: false };
    if (batch.repair) {
      const stored = await this.storeRepair(client, batch, state, now);
      if (state.created) await client.query('DELETE FROM feed_positions WHERE hospital = $1 AND feed = $2', [hospital, feed]);
      return { stored, mark: current, advanced: false };
    }
    const plan = planBatch(batch, state);
    if (!('events' in plan)) {
      if (plan.countBatch) await recordLedgerHead(client, hospital, feed, batch.ledgerHead ?? null, now, true);
      // A feed is listed (feedSizes) once a batch of it was stored, as in relay.db.
      if (state.created) await client.query('DELETE FROM feed_positions WHERE hospital = $1 AND feed = $2', [hospital, feed]);
      return { stored: plan.stored, mark: current, advanced: false };
    }
    await recordLedgerHead(client, hospital, feed, batch.ledgerHead ?? null, now, true);
    const { inserted, bytes } = await insertEvents(client, hospital, feed, now, plan.events);
    await client.query(
      'UPDATE feed_positions SET high_water_seq = $3, visible_seq = $4, event_count = event_count + $5, body_bytes = body_bytes + $7, updated_at_ms = $6 WHERE hospital = $1 AND feed = $2',
      [hospital, feed, plan.lastSeq, plan.visible, inserted, now, bytes],
    );
    const mark: FeedMark = { hospital, feed, highWaterSeq: plan.lastSeq, visibleSeq: plan.visible, revoked: false };
    await client.query('SELECT pg_notify($1, $2)', [FEED_DOORBELL_CHANNEL, feedDoorbellPayload(mark)]);
    return { stored: { decision: plan.decision, highWater: plan.lastSeq, storedEvents: inserted }, mark, advanced: true };
  }

  /**
   * Locks (hospital, feed)'s position row and reads its marks, or says it is
   * revoked (failure mode 3). A feed never written gets its row (0, 0), locked.
   */
  private async lockFeed(client: DatabaseClient, hospital: string, feed: string, now: number): Promise<FeedState | { revokedAtMs: number; highWater: number }> {
    for (;;) {
      const held = await lockPosition(client, hospital, feed);
      if (held) return held;
      const revoked = await readRevocation(client, hospital, feed);
      if (revoked) return revoked;
      const created = await client.query(
        'INSERT INTO feed_positions (hospital, feed, high_water_seq, event_count, updated_at_ms) VALUES ($1, $2, 0, 0, $3) ON CONFLICT (hospital, feed) DO NOTHING',
        [hospital, feed, now],
      );
      // Another process created it (or a reinstate restored it) meanwhile: lock theirs.
      if (created.rowCount === 0) continue;
      // A revoke that committed while this insert waited for its row to die.
      const revokedMeanwhile = await readRevocation(client, hospital, feed);
      if (revokedMeanwhile) {
        await client.query('DELETE FROM feed_positions WHERE hospital = $1 AND feed = $2', [hospital, feed]);
        return revokedMeanwhile;
      }
      return { highWater: 0, visible: 0, floor: 0, created: true };
    }
  }

  /**
   * Failure modes 9 and 10 of SqliteFeedStore: the events of a repair this
   * store lacks below the mark and above the retention floor; no mark moves.
   */
  private async storeRepair(client: DatabaseClient, batch: BatchToStore, state: FeedState, now: number): Promise<StoredBatch> {
    const { hospital, feed, firstSeq, lastSeq } = batch;
    const { highWater, floor = 0 } = state;
    await recordLedgerHead(client, hospital, feed, batch.ledgerHead ?? null, now, true);
    const events = batch.events ?? [];
    checkRange(events, firstSeq, lastSeq);
    // Never past the mark (an ordinary batch's job), never at or below the floor (retention removed it: no cursor may reach it).
    const missing = events.filter((e) => e.seq <= highWater && e.seq > floor);
    const { inserted, bytes } = await insertEvents(client, hospital, feed, now, missing);
    if (inserted > 0) {
      await client.query('UPDATE feed_positions SET event_count = event_count + $3, body_bytes = body_bytes + $5, updated_at_ms = $4 WHERE hospital = $1 AND feed = $2', [
        hospital,
        feed,
        inserted,
        now,
        bytes,
      ]);
    }
    return { decision: { kind: 'repaired' }, highWater, storedEvents: inserted };
  }
}

/** SELECT … FOR UPDATE of the feed's position row: its marks, or undefined when it has none. */
export async function lockPosition(client: DatabaseClient, hospital: string, feed: string): Promise<FeedState | undefined> {
  const { rows } = await client.query<{ high_water_seq: number; visible_seq: number; retention_floor_seq: number }>(
    'SELECT high_water_seq, coalesce(visible_seq, high_water_seq) AS visible_seq, retention_floor_seq FROM feed_positions WHERE hospital = $1 AND feed = $2 FOR UPDATE',
    [hospital, feed],
  );
  const row = rows[0];
  return row && { highWater: row.high_water_seq, visible: row.visible_seq, floor: row.retention_floor_seq };
}

/** Inserts the events not held yet; how many went in and their body bytes. */
async function insertEvents(client: DatabaseClient, hospital: string, feed: string, now: number, events: readonly JournalEvent[]): Promise<{ inserted: number; bytes: number }> {
  if (events.length === 0) return { inserted: 0, bytes: 0 };
  const { rows } = await client.query<{ bytes: number }>(insertEventsSql(), [hospital, feed, now, ...eventColumns(events)]);
  return { inserted: rows.length, bytes: rows.reduce((sum, row) => sum + Number(row.bytes), 0) };
}

function bodyBytes(events: readonly JournalEvent[]): number {
  let bytes = 0;
  for (const event of events) bytes += event.body.length;
  return bytes;
}

async function readRevocation(client: DatabaseClient, hospital: string, feed: string): Promise<{ revokedAtMs: number; highWater: number } | undefined> {
  const { rows } = await client.query<{ revoked_at_ms: number; high_water_seq: number }>(
    'SELECT revoked_at_ms, high_water_seq FROM feed_revocations WHERE hospital = $1 AND feed = $2',
    [hospital, feed],
  );
  const row = rows[0];
  return row && { revokedAtMs: row.revoked_at_ms, highWater: row.high_water_seq };
}
