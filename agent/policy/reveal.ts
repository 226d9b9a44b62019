// The restore side of `encrypt`: puts the plaintext back into events that left
// with enc:v1 tokens in them, given the hospital's keys (the agent's keyring, or
// the key files a restore was handed). Pseudonyms, masks and generalised values
// are one-way and stay as they are.
//
// Failure modes handled:
//  1. A token that does not decrypt (altered, a purged key): FieldDecryptError,
//     never a silently wrong value.
//  2. HL7: a plaintext containing the message's delimiters is escaped again, so
//     the revealed message parses with every value where it was.
//  3. JSON: values that were numbers or booleans come back as strings (encryption
//     works on text).
import type { JournalEvent } from '../../protocol/index.js';
import { escapeHl7, Hl7Message } from '../hl7/index.js';
import { decryptField, isEncryptedToken, type KeyLookup } from './field-encryption.js';

const TOKENS = /enc:v1:[A-Za-z0-9._-]+:[A-Za-z0-9_-]+/g;

/**
 * The event with every encrypted value decrypted: key, HL7 values, JSON strings.
 * @throws FieldDecryptError when a token cannot be decrypted with `keys`.
 */
export function revealEvent(event: JournalEvent, keys: KeyLookup): JournalEvent {
  const key = isEncryptedToken(event.key) ? decryptField(event.key, keys) : event.key;
  let body = event.body;
  if (event.contentType === 'hl7v2' || event.contentType === 'json') {
    const text = body.toString('utf8');
    if (text.includes('enc:v1:')) body = Buffer.from(event.contentType === 'hl7v2' ? revealHl7(text, keys) : revealJson(text, keys), 'utf8');
  }
  return key === event.key && body === event.body ? event : { ...event, key, body };
}

/** An HL7 message with every token replaced by its plaintext, escaped for the message. */
export function revealHl7(text: string, keys: KeyLookup): string {
  const d = Hl7Message.parse(text).delimiters;
  // Tokens never contain a delimiter or the escape character, so each is a whole value as written.
  return text.replace(TOKENS, (token) => escapeHl7(decryptField(token, keys), d));
}

/** A JSON document with every string that is a token replaced by its plaintext. */
export function revealJson(text: string, keys: KeyLookup): string {
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return isEncryptedToken(value) ? decryptField(value, keys) : value;
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return JSON.stringify(walk(JSON.parse(text)));
}
