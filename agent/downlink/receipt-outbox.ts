// The receipts that wait to leave for the relay whose event they answer, in
// agent.db (migration 16). The delivery engine enqueues a receipt inside the
// journal transaction that records it (AppendRequest.alsoInTransaction); the
// link (inbound-link.ts) sends what is pending after every Welcome and what is
// enqueued while a stream is up, and removes a row when the relay acknowledges it.
//
// Failure modes handled:
//  1. A crash after a receipt was journaled but before it left: its row was
//     written in the same transaction, so it is pending at the next start.
//  2. A crash after a receipt's ledger record but before it left: the record and
//     markLedger() commit together (EgressLedger.append's effect), so the resend
//     carries the same head and the ledger never records the receipt twice.
//  3. The same receipt enqueued twice (a replayed transaction): the row is keyed
//     by (relay, id, outcome, attempts) and the second insert is ignored.
//  4. A wake inside the enqueuing transaction would run before its commit (and
//     also when it rolls back): listeners are told on the next turn of the event
//     loop, after the commit; a spurious wake finds nothing new and is harmless.
import type { Statement } from 'better-sqlite3';
import { RECEIPT_OUTCOMES, receiptFields, type InboundReceipt, type ReceiptOutcome } from '../../protocol/index.js';
import type { SqliteDatabase } from '../store/index.js';
import type { ReceiptOutbox } from './downlink-ports.js';

/** A receipt waiting in the outbox, with the ledger record it was sent under (if it has left before). */
export interface PendingReceipt {
  /** The outbox row (its order of enqueue). */
  rowId: number;
  relay: string;
  receipt: InboundReceipt;
  enqueuedAtMs: number;
  /** The egress ledger record made before it first left; absent = it has not left yet. */
  ledger?: { index: number; head: Buffer };
}

interface OutboxRow {
  row_id: number;
  relay: string;
  receipt: string;
  enqueued_at_ms: number;
  ledger_index: number | null;
  ledger_head: Buffer | null;
}

export class SqliteReceiptOutbox implements ReceiptOutbox {
  private readonly insert: Statement;
  private readonly selectPending: Statement;
  private readonly updateLedger: Statement;
  private readonly deleteOldest: Statement;
  private readonly countRelay: Statement;
  private readonly listeners = new Set<(relay: string) => void>();
  /** Relays with a receipt enqueued since listeners were last told. */
  private readonly woken = new Set<string>();
  private wakeScheduled = false;

  constructor(
    db: SqliteDatabase,
    private readonly clock: () => number = Date.now,
  ) {
    this.insert = db.prepare(
      'INSERT OR IGNORE INTO inbound_receipt_outbox (relay, event_id, channel, outcome, attempts, receipt, enqueued_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.selectPending = db.prepare(
      'SELECT row_id, relay, receipt, enqueued_at_ms, ledger_index, ledger_head FROM inbound_receipt_outbox WHERE relay = ? AND row_id > ? ORDER BY row_id LIMIT ?',
    );
    this.updateLedger = db.prepare('UPDATE inbound_receipt_outbox SET ledger_index = ?, ledger_head = ? WHERE row_id = ? AND ledger_index IS NULL');
    // The relay answers a stream's receipts in order: the oldest row of that id and outcome is the one answered.
    this.deleteOldest = db.prepare(
      'DELETE FROM inbound_receipt_outbox WHERE row_id = (SELECT row_id FROM inbound_receipt_outbox WHERE relay = ? AND event_id = ? AND outcome = ? ORDER BY row_id LIMIT 1)',
    );
    this.countRelay = db.prepare('SELECT COUNT(*) AS n FROM inbound_receipt_outbox WHERE relay = ?');
  }

  /**
   * Adds a receipt for `relay`. Synchronous: run it inside the journal
   * transaction that records the receipt. Listeners hear of it after the commit.
   */
  enqueue(relay: string, receipt: InboundReceipt): void {
    const body = receiptFields(receipt);
    this.insert.run(relay, receipt.id, receipt.channel, receipt.outcome, receipt.attempts, JSON.stringify(body), this.clock());
    this.woken.add(relay);
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      const relays = [...this.woken];
      this.woken.clear();
      for (const r of relays) for (const listener of [...this.listeners]) listener(r);
    });
  }

  /** The receipts waiting for `relay`, oldest first, after row `afterRowId` (0 = all), at most `limit`. */
  pending(relay: string, afterRowId = 0, limit = 1000): PendingReceipt[] {
    return (this.selectPending.all(relay, afterRowId, limit) as OutboxRow[]).map((row) => ({
      rowId: row.row_id,
      relay: row.relay,
      receipt: parseReceipt(row.receipt),
      enqueuedAtMs: row.enqueued_at_ms,
      ...(row.ledger_index !== null && row.ledger_head !== null ? { ledger: { index: row.ledger_index, head: Buffer.from(row.ledger_head) } } : {}),
    }));
  }

  /**
   * Notes the egress ledger record a receipt first left under. Run it inside
   * that record's transaction (EgressLedger.append's effect). A row already
   * marked keeps its first record.
   */
  markLedger(rowId: number, ledger: { index: number; head: Buffer }): void {
    this.updateLedger.run(ledger.index, ledger.head, rowId);
  }

  /** Removes the receipt the relay acknowledged (the oldest row of that id and outcome); false when none was waiting. */
  remove(relay: string, id: string, outcome: string): boolean {
    return this.deleteOldest.run(relay, id, outcome).changes > 0;
  }

  /** Receipts waiting for `relay`. */
  count(relay: string): number {
    return (this.countRelay.get(relay) as { n: number }).n;
  }

  /** Calls `listener(relay)` after a receipt for `relay` is committed. Returns an unsubscribe function. */
  onEnqueue(listener: (relay: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function parseReceipt(text: string): InboundReceipt {
  const r = JSON.parse(text) as InboundReceipt;
  if (!(RECEIPT_OUTCOMES as readonly string[]).includes(r.outcome)) throw new RangeError(`outbox receipt ${r.id} has outcome ${JSON.stringify(r.outcome)}`);
  return { ...r, outcome: r.outcome as ReceiptOutcome };
}
