// The receipts of purged feeds (internal to SqliteFeedStore: others go through
// FeedStore.purgeFeed, recordPurge and purges()), and the deletion of what a
// purge removes beyond a revoke: the feed's signed tree heads. The events
// themselves go as a revoke's do (feed-revocations.ts), and so does the erasure.
import type Database from 'better-sqlite3';
import type { FeedPurgeRecord } from './feed-store.js';

interface PurgeRow {
  hospital: string;
  feed: string;
  purged_at_ms: number;
  receipt: string;
  signature: string;
}

export class FeedPurges {
  private readonly statements;

  constructor(db: Database.Database) {
    this.statements = {
      upsert: db.prepare(
        `INSERT INTO feed_purges (hospital, feed, purged_at_ms, receipt, signature) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (hospital, feed) DO UPDATE SET purged_at_ms = excluded.purged_at_ms, receipt = excluded.receipt, signature = excluded.signature`,
      ),
      all: db.prepare<[], PurgeRow>('SELECT * FROM feed_purges ORDER BY hospital, feed'),
      ofHospital: db.prepare<[string], PurgeRow>('SELECT * FROM feed_purges WHERE hospital = ? ORDER BY feed'),
      deleteLedgerHeads: db.prepare('DELETE FROM agent_ledger_heads WHERE hospital = ?'),
      deleteTreeHeads: db.prepare('DELETE FROM feed_tree_heads WHERE hospital = ? AND feed = ?'),
    };
  }

  record(record: FeedPurgeRecord): void {
    this.statements.upsert.run(record.hospital, record.feed, record.purgedAtMs, record.receipt, record.signature);
  }

  all(hospital?: string): FeedPurgeRecord[] {
    const rows = hospital === undefined ? this.statements.all.all() : this.statements.ofHospital.all(hospital);
    return rows.map((row) => ({ hospital: row.hospital, feed: row.feed, purgedAtMs: row.purged_at_ms, receipt: row.receipt, signature: row.signature }));
  }

  /** Deletes the feed's signed tree heads (relay migration 6); returns how many. */
  deleteTreeHeads(hospital: string, feed: string): number {
    return this.statements.deleteTreeHeads.run(hospital, feed).changes;
  }

  /** Deletes every ledger head the hospital's agents sent (a purge of the whole hospital). */
  deleteLedgerHeads(hospital: string): number {
    return this.statements.deleteLedgerHeads.run(hospital).changes;
  }
}
