// The downlink's shared rules: what an inbound channel declares, how a vendor's
// body is checked against it (the relay refuses what the agent could not map),
// the outcomes a receipt may carry and the journal streams the agent keeps them in.
// Both programs and vendor clients read these; nothing here does I/O.
import { NAME_PATTERN } from './names.js';

/** Welcome.features: the relay sends inbound events and takes receipts (protocol 2). */
export const INBOUND_FEATURE = 'inbound-v1';

/** Body kinds an inbound event may have. */
export const INBOUND_CONTENT_TYPES = ['json', 'hl7v2'] as const;
export type InboundContentType = (typeof INBOUND_CONTENT_TYPES)[number];

/** Types a required field of a JSON body may be declared with. */
export const INBOUND_FIELD_TYPES = ['string', 'number', 'boolean', 'object', 'array', 'any'] as const;
export type InboundFieldType = (typeof INBOUND_FIELD_TYPES)[number];

/** Defaults of a channel declaration, with their units. */
export const DEFAULT_INBOUND_TTL_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_INBOUND_MAX_TTL_MS = 7 * 24 * 60 * 60 * 1000;
export const DEFAULT_INBOUND_MAX_BODY_BYTES = 256 * 1024;
/** The longest Idempotency-Key a vendor may send, in characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
/** The longest ordering key, in characters. */
export const MAX_INBOUND_KEY_LENGTH = 128;

/** One inbound channel as the agent declares it in Hello (pb.InboundChannel). */
export interface InboundChannelDeclaration {
  name: string;
  defaultTtlMs: number;
  maxTtlMs: number;
  maxBodyBytes: number;
  contentTypes: InboundContentType[];
  /** Where a JSON body carries the ordering key, "$.a.b"; '' = the writer must give the key. */
  keyPath: string;
  requiredFields: { path: string; type: InboundFieldType }[];
}

/**
 * What a receipt says. accepted, refused and expired are final: an event gets
 * exactly one of them. quarantined is not: the agent set the event aside (it
 * could not map it, or it kept failing) and an operator's replay or refusal,
 * or its TTL, ends it with a final one.
 */
export const RECEIPT_OUTCOMES = ['accepted', 'refused', 'expired', 'quarantined'] as const;
export type ReceiptOutcome = (typeof RECEIPT_OUTCOMES)[number];
export const FINAL_OUTCOMES: ReadonlySet<ReceiptOutcome> = new Set(['accepted', 'refused', 'expired']);

/** A receipt as agent and relay keep it (pb.InboundReceipt without the ledger head). */
export interface InboundReceipt {
  id: string;
  channel: string;
  outcome: ReceiptOutcome;
  final: boolean;
  /** What the hospital's system answered ("AA", "AR", "HTTP 422", "rejected"…); '' when none (expired). */
  code: string;
  /** Its reason, as that system gave it, or Wardline's for an expiry or a quarantine. */
  reason: string;
  /** The hospital's reference for what it applied (a filler appointment id); '' when none. */
  reference: string;
  attempts: number;
  decidedAtMs: number;
}

/** The receipt's own fields of anything that carries one (a stored row, an outbox entry with its ledger head): what is sent and kept. */
export function receiptFields(receipt: InboundReceipt): InboundReceipt {
  const { id, channel, outcome, final, code, reason, reference, attempts, decidedAtMs } = receipt;
  return { id, channel, outcome, final, code, reason, reference, attempts, decidedAtMs };
}

/** Where a vendor sees an inbound event (pb.InboundStatus.state). */
export const INBOUND_STATES = ['waiting', 'sent', 'at-hospital', 'quarantined', 'accepted', 'refused', 'expired'] as const;
export type InboundState = (typeof INBOUND_STATES)[number];

/** The agent's journal stream of a channel's inbound events. */
export function inboundStreamName(channel: string): string {
  return `inbound.${channel}`;
}

/** The agent's journal stream of a channel's receipts. */
export function receiptStreamName(channel: string): string {
  return `inbound.${channel}.receipts`;
}

/**
 * An inbound event id: "ib" and 18 lowercase base32 characters (90 random bits,
 * unique per hospital by the store): 20 characters, so it fits MSH-10 (ST, 20 in
 * HL7 v2.3 to v2.6) and every HIS can deduplicate a resend on it.
 */
export const INBOUND_ID_PATTERN = /^ib[a-z2-7]{18}$/;

/** A channel name follows the one name rule. */
export function isInboundChannelName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/** Why a body does not fit a channel; `field` names the path when one field is at fault. */
export interface InboundBodyProblem {
  reason: string;
  field?: string;
}

/** A JSON body's value at "$.a.b" (object members only); undefined when absent. */
export function valueAtPath(value: unknown, path: string): unknown {
  if (path === '$') return value;
  if (!path.startsWith('$.')) return undefined;
  let current: unknown = value;
  for (const member of path.slice(2).split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, member)) return undefined;
    current = (current as Record<string, unknown>)[member];
  }
  return current;
}

function typeOf(value: unknown): InboundFieldType {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'any';
  const t = typeof value;
  return t === 'string' || t === 'number' || t === 'boolean' || t === 'object' ? t : 'any';
}

/**
 * Checks a body against a channel's declaration: its kind, size, that JSON
 * parses to an object, and each required field with its type. Returns the
 * parsed JSON (for the key) or the first problem found.
 */
export function checkInboundBody(
  declaration: InboundChannelDeclaration,
  contentType: string,
  body: Uint8Array,
): { ok: true; json?: unknown } | { ok: false; problem: InboundBodyProblem } {
  if (!(declaration.contentTypes as string[]).includes(contentType)) {
    return { ok: false, problem: { reason: `channel "${declaration.name}" takes ${declaration.contentTypes.join(' or ')} bodies, not ${contentType || 'an unnamed kind'}` } };
  }
  if (body.length === 0) return { ok: false, problem: { reason: 'the body is empty' } };
  if (body.length > declaration.maxBodyBytes) {
    return { ok: false, problem: { reason: `the body is ${body.length} bytes; channel "${declaration.name}" takes at most ${declaration.maxBodyBytes}` } };
  }
  if (contentType === 'hl7v2') {
    const text = Buffer.from(body).toString('utf8');
    if (!text.startsWith('MSH')) return { ok: false, problem: { reason: 'an hl7v2 body must start with the MSH segment' } };
    return { ok: true };
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch (error) {
    return { ok: false, problem: { reason: `the body is not JSON: ${(error as Error).message}` } };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { ok: false, problem: { reason: 'the body must be a JSON object' } };
  for (const field of declaration.requiredFields) {
    const value = valueAtPath(json, field.path);
    if (value === undefined || value === null || value === '') {
      return { ok: false, problem: { reason: `${field.path} is required by channel "${declaration.name}"`, field: field.path } };
    }
    if (field.type !== 'any' && typeOf(value) !== field.type) {
      return { ok: false, problem: { reason: `${field.path} must be a ${field.type}, got ${typeOf(value)}`, field: field.path } };
    }
  }
  return { ok: true, json };
}

/** The ordering key of a JSON body under the channel's key path; undefined when absent or not a string or number. */
export function inboundKeyOf(declaration: InboundChannelDeclaration, json: unknown): string | undefined {
  if (declaration.keyPath === '') return undefined;
  const value = valueAtPath(json, declaration.keyPath);
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
