// Feeds the hospital revoked (internal to SqliteFeedStore: others go through
// FeedStore.revokeFeed, reinstateFeed and revocations()). A revoke marks the feed revoked and drops its
// position in one transaction — from then on nothing of it is served or stored —
// and then deletes its events in chunks, yielding between them, so a feed of
// millions of events does not stall every other agent and vendor on the relay.
//
// Failure modes handled:
//  1. The relay stops mid-deletion: the mark is already durable (nothing is
//     served); the agent sends the revoke again until answered, and a repeat
//     deletes what is left.
//  2. A relay restored from a backup still holding the feed: the repeat the
//     agent sends deletes it again and says how much.
//  3. A batch of the feed stored by a second stream meanwhile: storeBatch
//     refuses revoked feeds inside its transaction.
//  4. Deleted bytes left on disk: the store runs with secure_delete, so the
//     deleted cells and freed pages are zeros; after the deletion the WAL (which
//     still holds the frames that wrote the events) is checkpointed and
//     truncated, and the free pages are handed back to the file system
//     (incremental_vacuum in steps; a file made before auto_vacuum, where free
//     pages may predate secure_delete, gets one VACUUM, which also converts it).
//  5. A reader holding the WAL when the checkpoint runs: retried a few times,
//     then the outcome says the WAL was not truncated (and the log says so).
import type Database from 'better-sqlite3';
import type { Erasure, FeedRevocation, RevokeOutcome } from './feed-store.js';
import { revocationOf, type RevocationRow } from './feed-rows.js';

/** Events deleted per transaction. */
export const DEFAULT_REVOKE_CHUNK_ROWS = 5_000;
/** Free pages handed back per incremental_vacuum step (16 KiB pages: 16 MiB a step). */
export const VACUUM_STEP_PAGES = 1_024;
/** Checkpoint attempts when readers keep the WAL busy, one event-loop turn and BUSY_RETRY_MS apart. */
const CHECKPOINT_ATTEMPTS = 5;
const BUSY_RETRY_MS = 100;

export class FeedRevocations {
  private readonly statements;
  private readonly mark;
  private readonly deleteChunk;
  private readonly reinstateTransaction;

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number,
    private readonly chunkRows = DEFAULT_REVOKE_CHUNK_ROWS,
  ) {
    this.statements = {
      get: db.prepare<[string, string], RevocationRow>('SELECT * FROM feed_revocations WHERE hospital = ? AND feed = ?'),
      all: db.prepare<[], RevocationRow>('SELECT * FROM feed_revocations ORDER BY hospital, feed'),
      position: db.prepare<[string, string], { high_water_seq: number }>('SELECT high_water_seq FROM feed_positions WHERE hospital = ? AND feed = ?'),
      insert: db.prepare('INSERT INTO feed_revocations (hospital, feed, high_water_seq, reason, revoked_at_ms) VALUES (?, ?, ?, ?, ?)'),
      dropPosition: db.prepare('DELETE FROM feed_positions WHERE hospital = ? AND feed = ?'),
      deleteEvents: db.prepare<[string, string, string, string, number], { bytes: number }>(
        `DELETE FROM feed_events WHERE hospital = ? AND feed = ? AND seq IN
           (SELECT seq FROM feed_events WHERE hospital = ? AND feed = ? ORDER BY seq LIMIT ?)
         RETURNING length(body) AS bytes`,
      ),
      addDeleted: db.prepare('UPDATE feed_revocations SET events_deleted = events_deleted + ?, bytes_deleted = bytes_deleted + ? WHERE hospital = ? AND feed = ?'),
      dropRevocation: db.prepare('DELETE FROM feed_revocations WHERE hospital = ? AND feed = ?'),
      restorePosition: db.prepare(
        `INSERT INTO feed_positions (hospital, feed, high_water_seq, event_count, updated_at_ms) VALUES (?, ?, ?, 0, ?)
         ON CONFLICT (hospital, feed) DO NOTHING`,
      ),
    };
    this.mark = db.transaction((hospital: string, feed: string, reason: string): { revocation: FeedRevocation; alreadyRevoked: boolean } => {
      const held = this.get(hospital, feed);
      if (held) return { revocation: held, alreadyRevoked: true };
      const highWater = this.statements.position.get(hospital, feed)?.high_water_seq ?? 0;
      const at = this.now();
      this.statements.insert.run(hospital, feed, highWater, reason, at);
      this.statements.dropPosition.run(hospital, feed);
      return { revocation: { hospital, feed, highWaterSeq: highWater, eventsDeleted: 0, bytesDeleted: 0, reason, revokedAtMs: at }, alreadyRevoked: false };
    });
    this.deleteChunk = db.transaction((hospital: string, feed: string): { events: number; bytes: number } => {
      const rows = this.statements.deleteEvents.all(hospital, feed, hospital, feed, this.chunkRows);
      let bytes = 0;
      for (const row of rows) bytes += row.bytes;
      if (rows.length > 0) this.statements.addDeleted.run(rows.length, bytes, hospital, feed);
      return { events: rows.length, bytes };
    });
    this.reinstateTransaction = db.transaction((hospital: string, feed: string): { wasRevoked: boolean; highWaterSeq: number } => {
      const held = this.get(hospital, feed);
      if (!held) return { wasRevoked: false, highWaterSeq: this.statements.position.get(hospital, feed)?.high_water_seq ?? 0 };
      this.statements.dropRevocation.run(hospital, feed);
      this.statements.restorePosition.run(hospital, feed, held.highWaterSeq, this.now());
      return { wasRevoked: true, highWaterSeq: held.highWaterSeq };
    });
  }

  get(hospital: string, feed: string): FeedRevocation | undefined {
    const row = this.statements.get.get(hospital, feed);
    return row && revocationOf(row);
  }

  all(): FeedRevocation[] {
    return this.statements.all.all().map(revocationOf);
  }

  /**
   * Revokes (hospital, feed): marks it and drops its position at once, then
   * deletes its events chunk by chunk, yielding to the event loop between
   * chunks, and erases what was deleted from the files (erase()). Resolves once
   * nothing of the feed is left; `erasure` says whether the WAL could be truncated.
   * Idempotent: a repeat deletes what is left and erases again.
   */
  async revoke(hospital: string, feed: string, reason: string): Promise<RevokeOutcome> {
    const deleted = await this.markAndDelete(hospital, feed, reason);
    const erasure = await this.erase();
    return { ...deleted, revocation: this.get(hospital, feed) ?? deleted.revocation, erasure };
  }

  /**
   * The revoke without its erasure: marks (hospital, feed) revoked and deletes
   * its events chunk by chunk. A purge (SqliteFeedStore.purgeFeed) deletes more
   * of the feed after this and then calls erase() once for all of it.
   */
  async markAndDelete(hospital: string, feed: string, reason: string): Promise<Omit<RevokeOutcome, 'erasure'>> {
    const { revocation, alreadyRevoked } = this.mark.immediate(hospital, feed, reason);
    let eventsDeleted = 0;
    let bytesDeleted = 0;
    for (;;) {
      const chunk = this.deleteChunk.immediate(hospital, feed);
      eventsDeleted += chunk.events;
      bytesDeleted += chunk.bytes;
      if (chunk.events < this.chunkRows) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return { revocation: this.get(hospital, feed) ?? revocation, eventsDeleted, bytesDeleted, alreadyRevoked };
  }

  /**
   * Makes what was deleted unrecoverable from the relay's files: truncates the
   * WAL, hands free pages back in steps (yielding between them), truncates again.
   */
  async erase(): Promise<Erasure> {
    if (!(await this.truncateWal())) return { walTruncated: false, freePagesReleased: 0, vacuum: 'none' };
    const freePages = this.db.pragma('freelist_count', { simple: true }) as number;
    let vacuum: Erasure['vacuum'] = 'none';
    if (freePages > 0) {
      // 2 = INCREMENTAL. A file made before it (0 = NONE) may hold free pages
      // written before secure_delete; VACUUM rewrites it without them and
      // switches it to incremental, so this happens once.
      if ((this.db.pragma('auto_vacuum', { simple: true }) as number) === 2) {
        vacuum = 'incremental';
        while ((this.db.pragma('freelist_count', { simple: true }) as number) > 0) {
          this.db.pragma(`incremental_vacuum(${VACUUM_STEP_PAGES})`);
          await new Promise((resolve) => setImmediate(resolve));
        }
      } else {
        vacuum = 'full';
        this.db.pragma('auto_vacuum = INCREMENTAL');
        this.db.exec('VACUUM');
      }
    }
    // The vacuum went through the WAL too.
    const walTruncated = vacuum === 'none' || (await this.truncateWal());
    return { walTruncated, freePagesReleased: freePages, vacuum };
  }

  /** wal_checkpoint(TRUNCATE), retried while readers keep it busy; true once the WAL is empty. */
  private async truncateWal(): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      if (result?.busy === 0) return true;
      if (attempt >= CHECKPOINT_ATTEMPTS) return false;
      await new Promise((resolve) => setTimeout(resolve, BUSY_RETRY_MS));
    }
  }

  /** Lifts a revocation: the feed is accepted and served again from its mark at revocation. */
  reinstate(hospital: string, feed: string): { wasRevoked: boolean; highWaterSeq: number } {
    return this.reinstateTransaction.immediate(hospital, feed);
  }
}
