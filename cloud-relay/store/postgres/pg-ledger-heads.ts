// The agents' egress-ledger heads on PostgreSQL (agent_ledger_heads): the
// newest head per (hospital, feed) and the count of batches received, as
// agent-ledger-heads.ts keeps them in relay.db. The SQL is shared by the
// batch path (inside its transaction or its single statement) and feed
// control, so the head only ever moves forward whichever path wrote it.
import type { AgentLedgerHead, LedgerHeadInput } from '../feed-store.js';
import type { DatabaseClient, RelayDatabase } from './relay-database.js';
import { ledgerHeadOf, type LedgerHeadRow } from '../feed-rows.js';

/**
 * The upsert of the head `row` gives (a VALUES list or a SELECT of hospital,
 * feed, ledger_index, ledger_head, received_at_ms, batches 0/1,
 * last_batch_at_ms). Every SET expression reads the row as it was, so the head
 * moves only forward.
 */
export function ledgerHeadUpsertSql(row: string): string {
  return `
  INSERT INTO agent_ledger_heads AS a (hospital, feed, ledger_index, ledger_head, received_at_ms, batches, last_batch_at_ms)
  ${row}
  ON CONFLICT (hospital, feed) DO UPDATE SET
    ledger_head = CASE WHEN excluded.ledger_index > a.ledger_index THEN excluded.ledger_head ELSE a.ledger_head END,
    received_at_ms = CASE WHEN excluded.ledger_index > a.ledger_index THEN excluded.received_at_ms ELSE a.received_at_ms END,
    ledger_index = GREATEST(a.ledger_index, excluded.ledger_index),
    batches = a.batches + excluded.batches,
    last_batch_at_ms = COALESCE(excluded.last_batch_at_ms, a.last_batch_at_ms)`;
}

/** The upsert with parameters $1..$7 in ledgerHeadValues' order. */
const UPSERT_LEDGER_HEAD = ledgerHeadUpsertSql('VALUES ($1, $2, $3, $4, $5, $6, $7)');

/** The upsert's parameters for a head (or none) received at `atMs`; `batch` counts a batch. */
export function ledgerHeadValues(hospital: string, feed: string, head: LedgerHeadInput | null, atMs: number, batch: boolean): unknown[] {
  const index = head && head.hash.length > 0 ? head.index : 0;
  const hash = index > 0 ? Buffer.from(head!.hash) : Buffer.alloc(0);
  return [hospital, feed, index, hash, atMs, batch ? 1 : 0, batch ? atMs : null];
}

/** Keeps the head (and counts a batch) on `client`, inside the caller's transaction. */
export async function recordLedgerHead(client: DatabaseClient, hospital: string, feed: string, head: LedgerHeadInput | null, atMs: number, batch: boolean): Promise<void> {
  await client.query(UPSERT_LEDGER_HEAD, ledgerHeadValues(hospital, feed, head, atMs, batch));
}

export async function allLedgerHeads(database: RelayDatabase): Promise<AgentLedgerHead[]> {
  const { rows } = await database.query<LedgerHeadRow>(
    'SELECT hospital, feed, ledger_index, ledger_head, received_at_ms, batches, last_batch_at_ms FROM agent_ledger_heads ORDER BY hospital COLLATE "C", feed COLLATE "C"',
  );
  return rows.map(ledgerHeadOf);
}
