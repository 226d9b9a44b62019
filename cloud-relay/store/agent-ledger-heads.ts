// The egress-ledger heads agents send with their batches, newest per
// (hospital, feed), and a count of the batches received per feed. A head is the
// agent's own claim "my ledger held record <index> with hash <head> when I sent
// this"; kept here, outside the hospital, it shows later whether the agent's
// ledger lost its tail (`wardline audit verify --relay-http`). Internal to
// SqliteFeedStore: others read them through FeedStore.ledgerHeads().
import type Database from 'better-sqlite3';
import type { AgentLedgerHead, LedgerHeadInput } from './feed-store.js';
import { ledgerHeadOf } from './feed-rows.js';


export class AgentLedgerHeads {
  private readonly upsert;
  private readonly selectAll;

  constructor(db: Database.Database) {
    // Every SET expression reads the row as it was, so the head moves only forward.
    this.upsert = db.prepare<[string, string, number, Buffer, number, number, number | null]>(
      `INSERT INTO agent_ledger_heads (hospital, feed, ledger_index, ledger_head, received_at_ms, batches, last_batch_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (hospital, feed) DO UPDATE SET
         ledger_head = CASE WHEN excluded.ledger_index > ledger_index THEN excluded.ledger_head ELSE ledger_head END,
         received_at_ms = CASE WHEN excluded.ledger_index > ledger_index THEN excluded.received_at_ms ELSE received_at_ms END,
         ledger_index = MAX(ledger_index, excluded.ledger_index),
         batches = batches + excluded.batches,
         last_batch_at_ms = COALESCE(excluded.last_batch_at_ms, last_batch_at_ms)`,
    );
    this.selectAll = db.prepare<[], { hospital: string; feed: string; ledger_index: number; ledger_head: Buffer; received_at_ms: number; batches: number; last_batch_at_ms: number | null }>(
      'SELECT hospital, feed, ledger_index, ledger_head, received_at_ms, batches, last_batch_at_ms FROM agent_ledger_heads ORDER BY hospital, feed',
    );
  }

  /**
   * Keeps `head` if it is newer than the one held; counts a batch when `batch`.
   * Call inside the batch's own transaction where there is one.
   */
  record(hospital: string, feed: string, head: LedgerHeadInput | null, atMs: number, batch: boolean): void {
    const index = head && head.hash.length > 0 ? head.index : 0;
    const hash = index > 0 ? Buffer.from(head!.hash) : Buffer.alloc(0);
    this.upsert.run(hospital, feed, index, hash, atMs, batch ? 1 : 0, batch ? atMs : null);
  }

  all(): AgentLedgerHead[] {
    return this.selectAll.all().map(ledgerHeadOf);
  }
}
