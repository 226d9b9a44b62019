// The admin password, kept as an scrypt hash in the PHC string format:
//
//   $scrypt$ln=15,r=8,p=1$<salt, base64>$<hash, base64>
//
// `wardline agent hash-password` makes one at install time; http.admin.passwordHash
// or the file http.admin.passwordFile holds it. Verification costs ~50 ms of CPU
// on purpose (a guessed password costs the guesser the same) and runs on the
// thread pool, not the event loop.
import { randomBytes, scrypt, scryptSync, type ScryptOptions } from 'node:crypto';
import { PasswordHashFormatError } from './errors.js';

/** log2 of scrypt's N (cost) for new hashes: 2^15, as OWASP recommends for scrypt. */
export const DEFAULT_SCRYPT_LOG_N = 15;
export const DEFAULT_SCRYPT_R = 8;
export const DEFAULT_SCRYPT_P = 1;
/** Bytes of salt and of derived key for new hashes. */
export const SCRYPT_SALT_BYTES = 16;
export const SCRYPT_KEY_BYTES = 32;
/** The largest cost accepted from a stored hash, so a hostile config cannot make login exhaust memory. */
const MAX_SCRYPT_LOG_N = 20;

export interface ScryptHash {
  logN: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/** Whether `text` looks like a hash this module writes (as opposed to a password). */
export function isScryptHash(text: string): boolean {
  return text.startsWith('$scrypt$');
}

/** Parses a PHC scrypt string; throws PasswordHashFormatError saying what is wrong. */
export function parseScryptHash(text: string): ScryptHash {
  const match = PHC.exec(text.trim());
  if (!match) throw new PasswordHashFormatError('expected "$scrypt$ln=<n>,r=<r>,p=<p>$<salt>$<hash>" as `wardline agent hash-password` prints it');
  const [logN, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (logN < 10 || logN > MAX_SCRYPT_LOG_N) throw new PasswordHashFormatError(`ln must be between 10 and ${MAX_SCRYPT_LOG_N}, got ${logN}`);
  if (r < 1 || p < 1) throw new PasswordHashFormatError('r and p must be at least 1');
  const salt = Buffer.from(match[4]!, 'base64');
  const hash = Buffer.from(match[5]!, 'base64');
  if (salt.length < 8 || hash.length < 16) throw new PasswordHashFormatError('salt or hash too short');
  return { logN, r, p, salt, hash };
}

export function formatScryptHash(h: ScryptHash): string {
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  return `$scrypt$ln=${h.logN},r=${h.r},p=${h.p}$${b64(h.salt)}$${b64(h.hash)}`;
}

/** Hashes a password with a fresh salt and the default cost. */
export async function hashPassword(password: string, options: { logN?: number } = {}): Promise<string> {
  const logN = options.logN ?? DEFAULT_SCRYPT_LOG_N;
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const hash = await derive(password, salt, SCRYPT_KEY_BYTES, { N: 2 ** logN, r: DEFAULT_SCRYPT_R, p: DEFAULT_SCRYPT_P });
  return formatScryptHash({ logN, r: DEFAULT_SCRYPT_R, p: DEFAULT_SCRYPT_P, salt, hash });
}

/**
 * Hashes a password synchronously: for a password written in clear in
 * http.admin.passwordFile, hashed once when the config is loaded so that only
 * the hash stays in memory.
 */
export function hashPasswordSync(password: string): ScryptHash {
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const cost = { N: 2 ** DEFAULT_SCRYPT_LOG_N, r: DEFAULT_SCRYPT_R, p: DEFAULT_SCRYPT_P };
  const hash = scryptSync(password.normalize('NFC'), salt, SCRYPT_KEY_BYTES, { ...cost, maxmem: 256 * cost.N * cost.r });
  return { logN: DEFAULT_SCRYPT_LOG_N, r: DEFAULT_SCRYPT_R, p: DEFAULT_SCRYPT_P, salt, hash };
}

function derive(password: string, salt: Buffer, keyBytes: number, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; allow twice that so Node's default 32 MiB cap does not refuse ln=15.
  const options: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, keyBytes, options, (error, key) => (error ? reject(error) : resolve(key))));
}
