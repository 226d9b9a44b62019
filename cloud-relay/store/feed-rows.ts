// The rows of relay.db's feed tables as both backends read them (PostgreSQL's
// mirror relay.db's column for column), and the one mapping of each to what
// the FeedStore port returns, so SQLite and PostgreSQL answer alike.
import type { AgentLedgerHead, FeedRevocation, StoredTreeHead } from './feed-store.js';

/** A feed_revocations row. */
export interface RevocationRow {
  hospital: string;
  feed: string;
  high_water_seq: number;
  events_deleted: number;
  bytes_deleted: number;
  reason: string;
  revoked_at_ms: number;
}

export function revocationOf(row: RevocationRow): FeedRevocation {
  return {
    hospital: row.hospital,
    feed: row.feed,
    highWaterSeq: row.high_water_seq,
    eventsDeleted: row.events_deleted,
    bytesDeleted: row.bytes_deleted,
    reason: row.reason,
    revokedAtMs: row.revoked_at_ms,
  };
}

/** An agent_ledger_heads row. */
export interface LedgerHeadRow {
  hospital: string;
  feed: string;
  ledger_index: number;
  ledger_head: Uint8Array;
  received_at_ms: number;
  batches: number;
  last_batch_at_ms: number | null;
}

export function ledgerHeadOf(row: LedgerHeadRow): AgentLedgerHead {
  return {
    hospital: row.hospital,
    feed: row.feed,
    ledgerIndex: row.ledger_index,
    ledgerHead: Buffer.from(row.ledger_head).toString('hex'),
    receivedAtMs: row.received_at_ms,
    batches: row.batches,
    lastBatchAtMs: row.last_batch_at_ms,
  };
}

/** A feed_tree_heads row. */
export interface TreeHeadRow {
  hospital: string;
  feed: string;
  from_seq: number;
  to_seq: number;
  tree_size: number;
  root: Uint8Array;
  signed_at_ms: number;
  signed_text: string;
  signature: string;
}

export function treeHeadOf(row: TreeHeadRow): StoredTreeHead {
  return {
    hospital: row.hospital,
    feed: row.feed,
    fromSeq: row.from_seq,
    toSeq: row.to_seq,
    treeSize: row.tree_size,
    root: Buffer.from(row.root),
    signedAtMs: row.signed_at_ms,
    signedText: row.signed_text,
    signature: row.signature,
  };
}
