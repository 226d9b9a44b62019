// Retention on PostgreSQL (internal to PostgresFeedStore), as feed-retention.ts
// does in relay.db: removes the oldest events of a feed that its rule no longer
// keeps and raises feed_positions.retention_floor_seq to the newest seq removed.
//
// Failure modes handled:
//  1. Several relay processes sweep the same feed at once (any process may run
//     the sweeper): each chunk locks the feed's position row (SELECT … FOR
//     UPDATE, the lock storeBatch and revoke take, pg-feed-batches.ts) and
//     re-reads the visible seq, floor and body bytes under it, so the second
//     process finds what the first removed gone and removes only what the rule
//     still does not keep: the sweep is idempotent.
//  2. A first sweep of millions of events: chunks of PG_RETENTION_CHUNK_ROWS,
//     each its own transaction, so the row lock (and agents' batches of the
//     feed waiting on it) is held only briefly at a time.
//  3. A revoked feed has no position row (pg-feed-revocations.ts): nothing to
//     lock, nothing removed. A revoke between two chunks ends the sweep likewise.
//  4. The connection breaks mid-sweep: each chunk committed whole or not at all
//     (events, counts and floor together); the next sweep continues from the floor.
//  5. Dead index entries of removed rows until VACUUM: the candidates are read
//     from above the floor, so each chunk starts at the first event kept.
// Blob references (blob_refs rows of removed blob-ref events, and their chunks)
// are left alone: the blob store keeps imaging instances by its own rules.
// Retention is not an erasure: autovacuum prunes the rows in its own time.
import type { RetentionOutcome, RetentionRule } from '../feed-store.js';
import { checkRetentionRule, retentionCut, type RetentionCandidate } from '../retention-cut.js';
import type { DatabaseClient, RelayDatabase } from './relay-database.js';

/** Events examined (and at most removed) per transaction. */
export const PG_RETENTION_CHUNK_ROWS = 10_000;

interface ChunkOutcome {
  events: number;
  bytes: number;
  floor: number;
  /** True when the next chunk may remove more. */
  more: boolean;
}

export class PgFeedRetention {
  constructor(
    private readonly database: RelayDatabase,
    private readonly chunkRows = PG_RETENTION_CHUNK_ROWS,
  ) {}

  /** See FeedStore.applyRetention: chunk after chunk until one removes nothing; `assertOpen` runs between chunks. */
  async apply(hospital: string, feed: string, rule: RetentionRule, assertOpen: () => void): Promise<RetentionOutcome> {
    checkRetentionRule(rule);
    let removedEvents = 0;
    let removedBytes = 0;
    for (;;) {
      const chunk = await this.database.transaction((client) => this.chunk(client, hospital, feed, rule));
      removedEvents += chunk.events;
      removedBytes += chunk.bytes;
      if (!chunk.more) return { removedEvents, removedBytes, retentionFloorSeq: chunk.floor };
      assertOpen();
    }
  }

  private async chunk(client: DatabaseClient, hospital: string, feed: string, rule: RetentionRule): Promise<ChunkOutcome> {
    const { rows: positions } = await client.query<{ visible_seq: number; retention_floor_seq: number; body_bytes: number }>(
      `SELECT coalesce(visible_seq, high_water_seq) AS visible_seq, retention_floor_seq, body_bytes
         FROM feed_positions WHERE hospital = $1 AND feed = $2 FOR UPDATE`,
      [hospital, feed],
    );
    const position = positions[0];
    if (!position) return { events: 0, bytes: 0, floor: 0, more: false };
    const floor = position.retention_floor_seq;
    const { rows } = await client.query<{ seq: number; received_at_ms: number; bytes: number }>(
      `SELECT seq, received_at_ms, octet_length(body) AS bytes FROM feed_events
        WHERE hospital = $1 AND feed = $2 AND seq > $3 AND seq <= $4 ORDER BY seq LIMIT $5`,
      [hospital, feed, floor, position.visible_seq, this.chunkRows],
    );
    const candidates: RetentionCandidate[] = rows.map((row) => ({ seq: row.seq, receivedAtMs: row.received_at_ms, bytes: row.bytes }));
    const cut = retentionCut(candidates, rule, position.body_bytes);
    if (cut.lastSeq === undefined) return { events: 0, bytes: 0, floor, more: false };
    // Every event in (floor, lastSeq] is one of the candidates (read under the lock): one range delete.
    const removed = await client.query('DELETE FROM feed_events WHERE hospital = $1 AND feed = $2 AND seq > $3 AND seq <= $4', [hospital, feed, floor, cut.lastSeq]);
    await client.query(
      `UPDATE feed_positions
          SET event_count = greatest(0, event_count - $3), body_bytes = greatest(0, body_bytes - $4), retention_floor_seq = greatest(retention_floor_seq, $5)
        WHERE hospital = $1 AND feed = $2`,
      [hospital, feed, removed.rowCount ?? 0, cut.bytes, cut.lastSeq],
    );
    return { events: removed.rowCount ?? 0, bytes: cut.bytes, floor: Math.max(floor, cut.lastSeq), more: candidates.length === this.chunkRows };
  }
}
