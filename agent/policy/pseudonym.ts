// Stable pseudonyms: HMAC-SHA256 of a value under the hospital's pseudonym key. The
// same patient gets the same pseudonym in every feed and on every day, so vendors
// can join records, while the relay, holding no key, cannot go back to the value
// nor test a guess (a plain hash of an 18-digit ID would fall to enumeration).
//
// Output: `ps:<keyId>:<26 lowercase base32 characters>` (the first 128 bits of the
// HMAC). The key id makes a rotation visible: after one, the same value yields a
// different pseudonym with a different prefix. Base32 (a–z, 2–7) never contains a
// run of digits, so a pseudonym can never look like an identifier to the scanner.
import { createHmac } from 'node:crypto';

/** A hospital-held secret, 32 random bytes, known by its id. */
export interface HospitalKey {
  /** Letters, digits, ".", "_" or "-"; appears in every token made with the key. */
  id: string;
  secret: Buffer;
}

/** Characters of the pseudonym after its prefix (26 × 5 bits ≥ 128 bits). */
export const PSEUDONYM_CHARACTERS = 26;
export const PSEUDONYM_PREFIX = 'ps:';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * The pseudonym of a value under a key: same value and key, same output; another
 * key, another output. The value is hashed exactly as given (no trimming, no case folding).
 */
export function pseudonym(key: HospitalKey, value: string): string {
  const digest = createHmac('sha256', key.secret).update(value, 'utf8').digest();
  return `${PSEUDONYM_PREFIX}${key.id}:${base32(digest, PSEUDONYM_CHARACTERS)}`;
}

/** True when the text has the shape of a pseudonym (any key). */
export function isPseudonym(text: string): boolean {
  return new RegExp(`^${PSEUDONYM_PREFIX}[A-Za-z0-9._-]+:[a-z2-7]{${PSEUDONYM_CHARACTERS}}$`).test(text);
}

/** RFC 4648 base32, lowercase, no padding, the first `characters` characters. */
function base32(bytes: Buffer, characters: number): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < characters) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
    if (out.length >= characters) break;
  }
  return out;
}
