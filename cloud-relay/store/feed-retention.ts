// Retention in relay.db (internal to SqliteFeedStore: others go through
// FeedStore.applyRetention): removes the oldest events of a feed that its rule
// no longer keeps and raises feed_positions.retention_floor_seq to the newest
// seq removed, so cursors below it are refused and the first event kept has
// the floor as its prevSeq.
//
// Failure modes handled:
//  1. A first sweep of millions of events: removed in chunks of
//     DEFAULT_RETENTION_CHUNK_ROWS, each its own BEGIN IMMEDIATE transaction,
//     yielding to the event loop between them, so agents' batches and vendors'
//     reads go on meanwhile.
//  2. A batch or a revoke between two chunks: each chunk re-reads the feed's
//     revocation, visible seq, floor and body bytes under the write lock, so it
//     never removes above the visible seq, never from a revoked feed, and never
//     counts what another call already removed (the floor only rises).
//  3. The relay stops mid-sweep: each chunk committed whole (events, counts
//     and floor together); the next sweep continues from the floor.
//  4. A repair batch below the floor: refused by storeRepair (the floor is read
//     in the batch's transaction), so removed events never come back.
// Blob references (blob_refs rows of removed blob-ref events, and the chunks
// they name) are left alone: the blob store keeps imaging instances by its own
// rules. Removed rows are zeroed in the file (secure_delete) but retention is
// not an erasure: the WAL is not truncated here (a revoke or purge does that).
import type Database from 'better-sqlite3';
import type { RetentionOutcome, RetentionRule } from './feed-store.js';
import { checkRetentionRule, retentionCut, type RetentionCandidate } from './retention-cut.js';

/** Events examined (and at most removed) per transaction. */
export const DEFAULT_RETENTION_CHUNK_ROWS = 10_000;

interface ChunkOutcome {
  events: number;
  bytes: number;
  floor: number;
  /** True when the next chunk may remove more. */
  more: boolean;
}

export class FeedRetention {
  private readonly statements;
  private readonly chunk;

  constructor(
    db: Database.Database,
    private readonly chunkRows = DEFAULT_RETENTION_CHUNK_ROWS,
  ) {
    this.statements = {
      revoked: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM feed_revocations WHERE hospital = ? AND feed = ?'),
      position: db.prepare<[string, string], { visible_seq: number; retention_floor_seq: number; body_bytes: number }>(
        'SELECT coalesce(visible_seq, high_water_seq) AS visible_seq, retention_floor_seq, body_bytes FROM feed_positions WHERE hospital = ? AND feed = ?',
      ),
      oldest: db.prepare<[string, string, number, number, number], { seq: number; received_at_ms: number; bytes: number }>(
        `SELECT seq, received_at_ms, length(body) AS bytes FROM feed_events
          WHERE hospital = ? AND feed = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
      ),
      remove: db.prepare('DELETE FROM feed_events WHERE hospital = ? AND feed = ? AND seq > ? AND seq <= ?'),
      lower: db.prepare(
        `UPDATE feed_positions
            SET event_count = max(0, event_count - ?), body_bytes = max(0, body_bytes - ?), retention_floor_seq = max(retention_floor_seq, ?)
          WHERE hospital = ? AND feed = ?`,
      ),
    };
    this.chunk = db.transaction((hospital: string, feed: string, rule: RetentionRule): ChunkOutcome => {
      if (this.statements.revoked.get(hospital, feed)) return { events: 0, bytes: 0, floor: 0, more: false };
      const position = this.statements.position.get(hospital, feed);
      if (!position) return { events: 0, bytes: 0, floor: 0, more: false };
      const floor = position.retention_floor_seq;
      const candidates: RetentionCandidate[] = this.statements.oldest
        .all(hospital, feed, floor, position.visible_seq, this.chunkRows)
        .map((row) => ({ seq: row.seq, receivedAtMs: row.received_at_ms, bytes: row.bytes }));
      const cut = retentionCut(candidates, rule, position.body_bytes);
      if (cut.lastSeq === undefined) return { events: 0, bytes: 0, floor, more: false };
      // Every event in (floor, lastSeq] is one of the candidates: the prefix goes in one range delete.
      const removed = this.statements.remove.run(hospital, feed, floor, cut.lastSeq).changes;
      this.statements.lower.run(removed, cut.bytes, cut.lastSeq, hospital, feed);
      return { events: removed, bytes: cut.bytes, floor: Math.max(floor, cut.lastSeq), more: candidates.length === this.chunkRows };
    });
  }

  /**
   * See FeedStore.applyRetention: chunk after chunk until one removes nothing
   * or the feed's visible events are all examined; `assertOpen` runs between
   * chunks (a store closed meanwhile stops the sweep).
   */
  async apply(hospital: string, feed: string, rule: RetentionRule, assertOpen: () => void): Promise<RetentionOutcome> {
    checkRetentionRule(rule);
    let removedEvents = 0;
    let removedBytes = 0;
    for (;;) {
      const chunk = this.chunk.immediate(hospital, feed, rule);
      removedEvents += chunk.events;
      removedBytes += chunk.bytes;
      if (!chunk.more) return { removedEvents, removedBytes, retentionFloorSeq: chunk.floor };
      await new Promise((resolve) => setImmediate(resolve));
      assertOpen();
    }
  }
}
