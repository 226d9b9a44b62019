// One record of the egress ledger and how it is chained. Pure: no SQLite, no
// clock of its own.
//
// The canonical encoding (what auditors re-verify against; README "Egress
// ledger and audit"):
//
//   hashed form = { "v": 1, "index": n, "prevHash": "<hex>", "at": "<ISO 8601 UTC, ms>",
//                   "type": "<type>", "feed": "<feed>" | null, "details": { … } }
//   hash        = lowercase hex SHA-256 of the UTF-8 bytes of canonicalJson(hashed form)
//
// `index` counts from 1 with no gaps; `prevHash` is the previous record's hash,
// 64 zeros for record 1. An exported line is the hashed form plus its "hash"
// member, so a line re-verifies as: drop "hash", canonicalise, SHA-256, compare;
// then check index = previous index + 1 and prevHash = previous hash.
import { createHash } from 'node:crypto';
import { canonicalJson, type JsonObject } from './canonical-json.js';
import { LedgerFormatError } from './errors.js';

/** The encoding version in every hashed form ("v"). */
export const LEDGER_FORMAT_VERSION = 1;
/** prevHash of record 1. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * What a record says. Types written by the agent: batch, pause, resume, revoke,
 * revoked (the relay's answer), reenable, reinstated, policy-change, reconnect,
 * inbound-receipt (a receipt sent for an inbound event);
 * key-rotation and other administrative actions come through recordAdmin().
 */
export interface LedgerEntry {
  type: string;
  /** The feed concerned; null for actions on the whole agent (reconnect, key rotation). */
  feed: string | null;
  details: JsonObject;
}

export interface LedgerRecord extends LedgerEntry {
  /** 1, 2, 3, … with no gaps. */
  index: number;
  /** When the record was appended, in milliseconds since the epoch (hashed as ISO 8601 UTC). */
  atMs: number;
  /** Hash of the record before (hex); GENESIS_HASH for record 1. */
  prevHash: string;
  /** SHA-256 of the record's hashed form (hex). */
  hash: string;
}

/** The end of the chain: the last record's index and hash. */
export interface LedgerHead {
  index: number;
  hash: string;
}

/** The chain before its first record. */
export const GENESIS_HEAD: LedgerHead = { index: 0, hash: GENESIS_HASH };

/** The object whose canonical JSON is hashed. */
export function hashedForm(record: Omit<LedgerRecord, 'hash'>): JsonObject {
  return {
    v: LEDGER_FORMAT_VERSION,
    index: record.index,
    prevHash: record.prevHash,
    at: new Date(record.atMs).toISOString(),
    type: record.type,
    feed: record.feed,
    details: record.details,
  };
}

/** SHA-256 (hex) of the record's hashed form; whatever `hash` it carries is ignored. */
export function recordHash(record: Omit<LedgerRecord, 'hash'>): string {
  return createHash('sha256').update(canonicalJson(hashedForm(record)), 'utf8').digest('hex');
}

/** The record that follows `previous` (GENESIS_HEAD for the first). */
export function chainNext(previous: LedgerHead, entry: LedgerEntry, atMs: number): LedgerRecord {
  const unhashed = { index: previous.index + 1, atMs, prevHash: previous.hash, type: entry.type, feed: entry.feed, details: entry.details };
  return { ...unhashed, hash: recordHash(unhashed) };
}

/** The export form of a record: its hashed form plus "hash". */
export function toLedgerLine(record: LedgerRecord): JsonObject {
  return { ...hashedForm(record), hash: record.hash };
}

const HEX_64 = /^[0-9a-f]{64}$/;

/** Reads an export line back; throws LedgerFormatError naming what is wrong. */
export function fromLedgerLine(line: unknown): LedgerRecord {
  if (typeof line !== 'object' || line === null || Array.isArray(line)) throw new LedgerFormatError('not a JSON object');
  const l = line as Record<string, unknown>;
  if (l.v !== LEDGER_FORMAT_VERSION) throw new LedgerFormatError(`"v" is ${JSON.stringify(l.v)}; this verifier reads version ${LEDGER_FORMAT_VERSION}`);
  if (typeof l.index !== 'number' || !Number.isSafeInteger(l.index) || l.index < 1) throw new LedgerFormatError(`"index" is ${JSON.stringify(l.index)}; expected an integer ≥ 1`);
  for (const name of ['prevHash', 'hash'] as const) {
    if (typeof l[name] !== 'string' || !HEX_64.test(l[name])) throw new LedgerFormatError(`"${name}" is not 64 lowercase hex digits`);
  }
  const atMs = typeof l.at === 'string' ? Date.parse(l.at) : Number.NaN;
  if (!Number.isFinite(atMs) || new Date(atMs).toISOString() !== l.at) throw new LedgerFormatError(`"at" is ${JSON.stringify(l.at)}; expected an ISO 8601 UTC time with milliseconds`);
  if (typeof l.type !== 'string' || l.type === '') throw new LedgerFormatError('"type" is missing');
  if (l.feed !== null && typeof l.feed !== 'string') throw new LedgerFormatError('"feed" is neither a string nor null');
  if (typeof l.details !== 'object' || l.details === null || Array.isArray(l.details)) throw new LedgerFormatError('"details" is not a JSON object');
  const extra = Object.keys(l).filter((k) => !['v', 'index', 'prevHash', 'at', 'type', 'feed', 'details', 'hash'].includes(k));
  if (extra.length > 0) throw new LedgerFormatError(`unexpected member ${JSON.stringify(extra[0])}`);
  return {
    index: l.index,
    atMs,
    prevHash: l.prevHash as string,
    type: l.type,
    feed: l.feed as string | null,
    details: l.details as JsonObject,
    hash: l.hash as string,
  };
}
