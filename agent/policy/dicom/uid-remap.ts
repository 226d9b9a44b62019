// The UID a de-identified instance carries in place of an original one:
// `2.25.` (PS3.5 B.2, a UID from a 128-bit number) + the decimal of the first
// 128 bits of HMAC-SHA256(hospital pseudonym key, original UID). The same UID
// maps to the same UID in every instance, so a study, its series and every
// reference between instances hold together; without the key nobody can map
// back nor test a guess. At most 44 characters (the limit is 64).
import { createHmac } from 'node:crypto';
import type { HospitalKey } from '../pseudonym.js';

export function remapUid(key: HospitalKey, uid: string): string {
  const digest = createHmac('sha256', key.secret).update(uid, 'latin1').digest();
  return `2.25.${BigInt(`0x${digest.subarray(0, 16).toString('hex')}`).toString(10)}`;
}
