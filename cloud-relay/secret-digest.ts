// Secrets (agent secrets, vendor keys) are compared as SHA-256 digests with
// timingSafeEqual: digests have a fixed length, so neither the secret's length
// nor the position of the first differing byte shows in the response time.
import { createHash, timingSafeEqual } from 'node:crypto';

/** The SHA-256 digest a secret is compared by. */
export function secretDigest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Constant-time equality of two digests from secretDigest(). */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
