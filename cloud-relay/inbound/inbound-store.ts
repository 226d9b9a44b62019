// The relay's inbound events, behind one port so a PostgreSQL backend plugs in
// beside the SQLite one (test/contract/inbound-store.contract.ts runs against each).
// Every method that a networked backend would do I/O for returns a Promise.
import type { InboundChannelDeclaration, InboundReceipt, InboundState } from '../../protocol/index.js';

/** A vendor's write, checked against the channel's declaration by the caller. */
export interface InboundWrite {
  hospital: string;
  channel: string;
  vendor: string;
  idempotencyKey: string;
  contentType: string;
  body: Buffer;
  key: string;
  receivedAtMs: number;
  expiresAtMs: number;
}

/** An inbound event as stored, with where it is. */
export interface InboundRecord {
  id: string;
  hospital: string;
  channel: string;
  channelSeq: number;
  key: string;
  vendor: string;
  idempotencyKey: string;
  contentType: string;
  body: Buffer;
  /** SHA-256 of the body, lowercase hex: a repeated Idempotency-Key must carry the same. */
  bodySha256: string;
  receivedAtMs: number;
  expiresAtMs: number;
  /** When the relay first put it on a stream to the agent; null while it waits. */
  firstSentAtMs: number | null;
  /** When the agent acknowledged it journaled; null before. */
  ackedAtMs: number | null;
  state: InboundState;
  /** The final receipt once there is one, else the latest quarantine notice, else null. */
  receipt: (InboundReceipt & { receiptSeq: number }) | null;
}

/** A receipt as the receipts feed serves it. */
export interface StoredReceipt extends InboundReceipt {
  hospital: string;
  /** Position in the (hospital, channel) receipts feed, strictly increasing from 1. */
  receiptSeq: number;
  key: string;
  vendor: string;
  storedAtMs: number;
}

/** How much of one channel waits for the agent. */
export interface InboundBacklogEntry {
  channel: string;
  /** Not yet acknowledged by the agent (waiting or on the wire), and not expired. */
  waiting: number;
  oldestReceivedAtMs: number | null;
}

export type WriteResult =
  | { kind: 'created'; record: InboundRecord }
  /** The same (hospital, channel, vendor, Idempotency-Key) with the same body: the first write's record. */
  | { kind: 'replayed'; record: InboundRecord }
  /** The same key with another body: nothing stored. */
  | { kind: 'conflict'; existing: InboundRecord };

export type ReceiptResult =
  | { kind: 'stored'; receiptSeq: number }
  /** The same receipt again (a resend after a cut): nothing new. */
  | { kind: 'duplicate'; receiptSeq: number }
  /** No such event of this hospital, or never sent to the agent. */
  | { kind: 'unknown'; reason: string }
  /** A final receipt for an event that already has another final one: the first stands. */
  | { kind: 'conflict'; reason: string };

export interface InboundStore {
  /** Keeps the agent's latest declaration of its channels (a channel no longer declared stays, marked so by declaredAtMs). */
  declareChannels(hospital: string, channels: readonly InboundChannelDeclaration[], atMs: number): Promise<void>;
  /** The declared channel, or undefined when the hospital's agent never declared it. */
  channel(hospital: string, channel: string): Promise<InboundChannelDeclaration | undefined>;
  channels(hospital: string): Promise<InboundChannelDeclaration[]>;
  /** Stores a write durably (fsynced) before resolving, numbered next in its channel; idempotent per Idempotency-Key. */
  write(write: InboundWrite): Promise<WriteResult>;
  get(hospital: string, id: string): Promise<InboundRecord | undefined>;
  /**
   * The next events to send of `channel` after `afterSeq`, oldest first, at most
   * `limit` and `maxBytes` of bodies (at least one); each is marked sent (first
   * time only) in the same transaction, so the expiry sweep never expires an event
   * that went on the wire. Events already expired are skipped.
   */
  takeToSend(hospital: string, channel: string, afterSeq: number, limit: number, maxBytes: number, nowMs: number): Promise<InboundRecord[]>;
  /** The agent journaled `channel` through `throughSeq`: those are never sent again. Returns the channel's acked mark. */
  ack(hospital: string, channel: string, throughSeq: number, atMs: number): Promise<number>;
  /** The channel's acked mark (0 before any ack). */
  ackedSeq(hospital: string, channel: string): Promise<number>;
  /** Stores a receipt from the agent, idempotently; a final one ends the event. */
  storeReceipt(hospital: string, receipt: InboundReceipt, atMs: number): Promise<ReceiptResult>;
  /** Gives every never-sent event past its TTL its final receipt "expired" (decided by the relay); returns those expired. */
  expireUnsent(nowMs: number): Promise<InboundRecord[]>;
  /**
   * Deletes events that ended (final receipt) before `cutoffMs`, with their receipts,
   * at most `limit` per call (the retention sweep calls again while it returns `limit`).
   * Channel counters are kept: no seq or receiptSeq is ever reused. Returns how many events.
   */
  deleteFinalBefore(cutoffMs: number, limit: number): Promise<number>;
  /** Receipts of `channel` after `afterSeq` for events `vendor` wrote, in receiptSeq order. */
  receipts(hospital: string, channel: string, vendor: string, afterSeq: number, limit: number): Promise<StoredReceipt[]>;
  /** Per declared channel, what waits for the agent. */
  backlog(hospital: string): Promise<InboundBacklogEntry[]>;
  /**
   * Deletes every inbound event, receipt and channel declaration of `hospital`
   * (its purge at contract end), in one transaction; erased from the files as a
   * feed purge is. Returns what it deleted.
   */
  forgetHospital(hospital: string): Promise<{ events: number; receipts: number }>;
  /** Calls `listener` after every write or receipt of `hospital`; returns the unsubscribe. */
  subscribe(hospital: string, listener: (what: 'write' | 'receipt', channel: string) => void): () => void;
  close(): Promise<void>;
}
