// Field encryption under the hospital's encryption key: AES-256-GCM with a fresh
// random 96-bit IV per value, so the relay stores ciphertext it cannot read and
// cannot even tell two equal values apart. Only the agent, or a restore holding
// the key file, decrypts.
//
// Token: `enc:v1:<keyId>:<base64url(iv ‖ ciphertext ‖ tag)>`, no padding. The
// prefix and key id are the AAD, so a token re-labelled with another key id or
// version does not authenticate. base64url (no "|", "^", "~", "&", "\") needs no
// HL7 escaping and is safe in URLs (record keys).
//
// Failure modes handled:
//  1. Any altered byte of a token: the tag does not verify (DECRYPT_FAILED); an
//     altered character that base64 decoding would silently ignore (the spare
//     bits of the last character) is caught by requiring the canonical encoding.
//  2. The wrong key under the right id (a key file swapped): DECRYPT_FAILED.
//  3. A key id the keyring no longer holds (retired and purged): KEY_UNKNOWN.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { FieldDecryptError, PolicyErrorCode } from './errors.js';
import type { HospitalKey } from './pseudonym.js';

export const ENCRYPTED_PREFIX = 'enc:v1:';
/** Bytes of the random IV (NIST SP 800-38D's recommended 96 bits). */
export const IV_BYTES = 12;
/** Bytes of the GCM authentication tag. */
export const TAG_BYTES = 16;
/** Bytes of an AES-256 key, and of every hospital-held key file. */
export const KEY_BYTES = 32;

const TOKEN = /^enc:v1:([A-Za-z0-9._-]+):([A-Za-z0-9_-]+)$/;

/** Finds a key by id: the active key and the retired keys still retained. */
export type KeyLookup = (keyId: string) => HospitalKey | undefined;

/**
 * Encrypts one value. `iv` is for tests only: a repeated IV under one key breaks GCM.
 * @throws RangeError when the key is not 32 bytes.
 */
export function encryptField(key: HospitalKey, plaintext: string, iv: Buffer = randomBytes(IV_BYTES)): string {
  if (key.secret.length !== KEY_BYTES) throw new RangeError(`encryption key ${key.id} is ${key.secret.length} bytes; expected ${KEY_BYTES}`);
  const cipher = createCipheriv('aes-256-gcm', key.secret, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(`${ENCRYPTED_PREFIX}${key.id}`, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const sealed = Buffer.concat([iv, ciphertext, cipher.getAuthTag()]);
  return `${ENCRYPTED_PREFIX}${key.id}:${sealed.toString('base64url')}`;
}

/** True when the text has the shape of an encrypted token (it may still fail to decrypt). */
export function isEncryptedToken(text: string): boolean {
  return TOKEN.test(text);
}

/** The key id a token was made with, or undefined for text that is not a token. */
export function tokenKeyId(text: string): string | undefined {
  return TOKEN.exec(text)?.[1];
}

/**
 * Decrypts one token.
 * @throws FieldDecryptError TOKEN_MALFORMED (not a token), KEY_UNKNOWN (no such key
 *   in `keys`), DECRYPT_FAILED (altered, or the wrong key under that id).
 */
export function decryptField(token: string, keys: KeyLookup): string {
  const m = TOKEN.exec(token);
  if (!m) throw new FieldDecryptError('not an enc:v1 token', PolicyErrorCode.TOKEN_MALFORMED);
  const keyId = m[1]!;
  const encoded = m[2]!;
  const sealed = Buffer.from(encoded, 'base64url');
  if (sealed.toString('base64url') !== encoded || sealed.length < IV_BYTES + TAG_BYTES) {
    throw new FieldDecryptError('enc:v1 token is not canonical base64url of iv, ciphertext and tag', PolicyErrorCode.TOKEN_MALFORMED);
  }
  const key = keys(keyId);
  if (!key) throw new FieldDecryptError(`no encryption key ${keyId} in the keyring (retired and purged?)`, PolicyErrorCode.KEY_UNKNOWN);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.secret, sealed.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(`${ENCRYPTED_PREFIX}${keyId}`, 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plaintext = Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
    return plaintext.toString('utf8');
  } catch (cause) {
    throw new FieldDecryptError(`token does not authenticate under key ${keyId}: altered, or not this key`, PolicyErrorCode.DECRYPT_FAILED, { cause });
  }
}
