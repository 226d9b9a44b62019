// The rows of the inbound tables as both backends read them (relay.db's
// migration 8 and PostgreSQL's schema v2 have the same columns; pg returns
// BIGINT as a number and BYTEA as a Buffer, as better-sqlite3 does), and how a
// row becomes what the InboundStore port answers.
import { createHash } from 'node:crypto';
import type { InboundReceipt, InboundState, ReceiptOutcome } from '../../protocol/index.js';
import type { InboundRecord, StoredReceipt } from './inbound-store.js';

export interface EventRow {
  hospital: string;
  channel: string;
  channel_seq: number;
  id: string;
  key: string;
  vendor: string;
  idempotency_key: string;
  content_type: string;
  body: Buffer;
  body_sha256: string;
  received_at_ms: number;
  expires_at_ms: number;
  first_sent_at_ms: number | null;
  acked_at_ms: number | null;
  final_outcome: string | null;
  final_at_ms: number | null;
}

export interface ReceiptRow {
  hospital: string;
  channel: string;
  receipt_seq: number;
  id: string;
  vendor: string;
  key: string;
  outcome: string;
  final: number;
  code: string;
  reason: string;
  reference: string;
  attempts: number;
  decided_at_ms: number;
  stored_at_ms: number;
}

export interface ChannelRow {
  hospital: string;
  channel: string;
  declaration: string;
  declared: number;
  declared_at_ms: number;
  event_seq: number;
  receipt_seq: number;
  acked_seq: number;
}

export function sha256Hex(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

export function toStoredReceipt(row: ReceiptRow): StoredReceipt {
  return {
    hospital: row.hospital,
    id: row.id,
    channel: row.channel,
    outcome: row.outcome as ReceiptOutcome,
    final: row.final === 1,
    code: row.code,
    reason: row.reason,
    reference: row.reference,
    attempts: row.attempts,
    decidedAtMs: row.decided_at_ms,
    receiptSeq: row.receipt_seq,
    key: row.key,
    vendor: row.vendor,
    storedAtMs: row.stored_at_ms,
  };
}

export function stateOf(row: EventRow, receipt: ReceiptRow | undefined): InboundState {
  if (row.final_outcome !== null) return row.final_outcome as InboundState;
  if (receipt && receipt.outcome === 'quarantined') return 'quarantined';
  if (row.acked_at_ms !== null) return 'at-hospital';
  if (row.first_sent_at_ms !== null) return 'sent';
  return 'waiting';
}

/** An event row and the receipt shown with it (the final one, else the latest quarantine notice). */
export function toRecord(row: EventRow, receipt: ReceiptRow | undefined): InboundRecord {
  return {
    id: row.id,
    hospital: row.hospital,
    channel: row.channel,
    channelSeq: row.channel_seq,
    key: row.key,
    vendor: row.vendor,
    idempotencyKey: row.idempotency_key,
    contentType: row.content_type,
    body: row.body,
    bodySha256: row.body_sha256,
    receivedAtMs: row.received_at_ms,
    expiresAtMs: row.expires_at_ms,
    firstSentAtMs: row.first_sent_at_ms,
    ackedAtMs: row.acked_at_ms,
    state: stateOf(row, receipt),
    receipt: receipt ? toStoredReceipt(receipt) : null,
  };
}

/** The columns an inbound_receipts row is written with, in receiptRowValues' order. */
export const RECEIPT_COLUMNS = 'hospital, channel, receipt_seq, id, vendor, key, outcome, final, code, reason, reference, attempts, decided_at_ms, stored_at_ms';

/** The values of the inbound_receipts row for the receipt of `event` numbered `receiptSeq` and stored at `atMs`, in RECEIPT_COLUMNS order. */
export function receiptRowValues(event: EventRow, receiptSeq: number, receipt: InboundReceipt, atMs: number): (string | number)[] {
  return [
    event.hospital,
    event.channel,
    receiptSeq,
    event.id,
    event.vendor,
    event.key,
    receipt.outcome,
    receipt.final ? 1 : 0,
    receipt.code,
    receipt.reason,
    receipt.reference,
    receipt.attempts,
    receipt.decidedAtMs,
    atMs,
  ];
}
