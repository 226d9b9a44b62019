// The JSON shapes vendors get from the relay's inbound API: the answer to a write
// or a GET of one event (InboundStatusJson), and one NDJSON line of the receipts
// feed (ReceiptJson). Part of the external contract: vendor clients (and the
// internet-hospital simulator) read these, so they live here, beside the rules.
import type { InboundReceipt, InboundState } from './inbound.js';

/** Content-Type of an HL7 v2 body (ER7, the pipe-delimited encoding); JSON bodies are application/json. */
export const HL7_V2_CONTENT_TYPE = 'x-application/hl7-v2+er7';
/** Request header, required: names the event on the writer's side; a retry with the same key and body is answered, not stored twice. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** Request header: the ordering key (required for HL7 bodies and for JSON channels without a key path). */
export const WARDLINE_KEY_HEADER = 'wardline-key';
/** Request header: the event's TTL in milliseconds (at most the channel's maxTtl); absent = the channel's default. */
export const WARDLINE_TTL_HEADER = 'wardline-ttl-ms';
/** Response header on a write answered from an earlier one with the same Idempotency-Key: "true". */
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';
/** Response header of a receipts read: the `after` to pass next. */
export const RECEIPTS_NEXT_AFTER_HEADER = 'wardline-next-after';

/** POST: write an event to a hospital's channel. */
export function inboundWritePath(hospital: string, channel: string): string {
  return `/v1/hospitals/${encodeURIComponent(hospital)}/inbound/${encodeURIComponent(channel)}`;
}

/** GET: one event the caller wrote. */
export function inboundEventPath(hospital: string, id: string): string {
  return `/v1/hospitals/${encodeURIComponent(hospital)}/inbound/${encodeURIComponent(id)}`;
}

/** GET: receipts of the caller's events on a channel (`?after=&limit=&wait=`). */
export function inboundReceiptsPath(hospital: string, channel: string): string {
  return `${inboundWritePath(hospital, channel)}/receipts`;
}

/** A receipt as the relay keeps it: the agent's receipt, its place in the channel's receipts feed, and when it arrived. */
export interface ReceiptSource extends InboundReceipt {
  receiptSeq: number;
  /** The event's ordering key; absent when the caller does not have it. */
  key?: string;
  /** When the relay stored it, ms since the epoch; absent when unknown. */
  storedAtMs?: number;
}

/** One receipt: `{id, channel, outcome, final, code, reason, reference, attempts, decidedAt}` plus `receiptSeq, key, storedAt`. */
export interface ReceiptJson {
  id: string;
  channel: string;
  outcome: InboundReceipt['outcome'];
  final: boolean;
  code: string;
  reason: string;
  reference: string;
  attempts: number;
  /** ISO 8601. */
  decidedAt: string;
  /** The cursor: pass it as `after=` to read on. */
  receiptSeq: number;
  key?: string;
  /** ISO 8601. */
  storedAt?: string;
}

export function toReceiptJson(receipt: ReceiptSource): ReceiptJson {
  return {
    id: receipt.id,
    channel: receipt.channel,
    outcome: receipt.outcome,
    final: receipt.final,
    code: receipt.code,
    reason: receipt.reason,
    reference: receipt.reference,
    attempts: receipt.attempts,
    decidedAt: new Date(receipt.decidedAtMs).toISOString(),
    receiptSeq: receipt.receiptSeq,
    ...(receipt.key === undefined ? {} : { key: receipt.key }),
    ...(receipt.storedAtMs === undefined ? {} : { storedAt: new Date(receipt.storedAtMs).toISOString() }),
  };
}

/** What an inbound event's status is built from (the relay's stored record). */
export interface InboundStatusSource {
  id: string;
  hospital: string;
  channel: string;
  key: string;
  idempotencyKey: string;
  state: InboundState;
  receivedAtMs: number;
  expiresAtMs: number;
  firstSentAtMs: number | null;
  ackedAtMs: number | null;
  receipt: ReceiptSource | null;
}

/** Where an inbound event is: the answer to POST …/inbound/{channel} and GET …/inbound/{id}. */
export interface InboundStatusJson {
  id: string;
  hospital: string;
  channel: string;
  key: string;
  idempotencyKey: string;
  /** waiting, sent, at-hospital, quarantined, accepted, refused or expired. */
  state: InboundState;
  /** ISO 8601. */
  receivedAt: string;
  /** ISO 8601: the hospital must have taken it by then, or it ends "expired". */
  expiresAt: string;
  /** ISO 8601, when it first went to the hospital's agent; null while it waits at the relay. */
  sentAt: string | null;
  /** ISO 8601, when the agent confirmed it holds it; null before. */
  atHospitalAt: string | null;
  /** The final receipt once decided, else the latest quarantine notice, else null. */
  receipt: ReceiptJson | null;
}

export function toInboundStatusJson(record: InboundStatusSource): InboundStatusJson {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: record.id,
    hospital: record.hospital,
    channel: record.channel,
    key: record.key,
    idempotencyKey: record.idempotencyKey,
    state: record.state,
    receivedAt: new Date(record.receivedAtMs).toISOString(),
    expiresAt: new Date(record.expiresAtMs).toISOString(),
    sentAt: iso(record.firstSentAtMs),
    atHospitalAt: iso(record.ackedAtMs),
    receipt: record.receipt ? toReceiptJson({ key: record.key, ...record.receipt }) : null,
  };
}
