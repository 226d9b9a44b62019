// The seams between the downlink's parts. The link (inbound-link.ts) speaks to
// the relay; the intake journals what arrives; the delivery engine hands each
// event to the channel's sink and writes the receipt; the outbox sends receipts
// back. Each side is handed the other's port, never its class.
import type { InboundReceipt } from '../../protocol/index.js';

/** One inbound event as the relay sent it (pb.InboundEvent), hashes and times decoded. */
export interface InboundEventIn {
  id: string;
  channel: string;
  channelSeq: number;
  key: string;
  contentType: string;
  body: Buffer;
  vendor: string;
  idempotencyKey: string;
  receivedAtMs: number;
  expiresAtMs: number;
}

/**
 * Journals what a relay sent: each event in stream inbound.<channel>, deduplicated
 * by its id, with its delivery state in the same transaction. Resolves once every
 * event is durable (then, and only then, the link acknowledges them); a resend of
 * an event already journaled resolves as well and journals nothing.
 */
export interface InboundIntake {
  accept(relay: string, events: readonly InboundEventIn[]): Promise<void>;
}

/**
 * Where receipts wait to be sent to the relay they answer. enqueue runs inside the
 * caller's journal transaction (AppendRequest.alsoInTransaction), so a receipt
 * journaled is a receipt that will be sent, across any crash.
 */
export interface ReceiptOutbox {
  enqueue(relay: string, receipt: InboundReceipt): void;
}
