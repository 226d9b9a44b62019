import type { HospitalCredential } from '../credentials.js';
import { AgentAuthError } from '../errors.js';
import { sameDigest, secretDigest } from '../secret-digest.js';

// Compared against when the hospital id is unknown, so an unknown id costs the
// same time as a wrong secret and response times do not reveal which ids exist.
const NO_SUCH_HOSPITAL = secretDigest('\0no such hospital\0');

/** Checks a Hello's hospital id and shared secret against the relay's hospitals[]. */
export class HospitalAuth {
  private readonly digests: ReadonlyMap<string, Buffer>;

  constructor(hospitals: readonly HospitalCredential[]) {
    this.digests = new Map(hospitals.map((h) => [h.id, secretDigest(h.secret)]));
  }

  /** Returns when `secret` is the hospital's; throws AgentAuthError otherwise. */
  verify(hospitalId: string, secret: string): void {
    const expected = this.digests.get(hospitalId);
    const matches = sameDigest(secretDigest(secret), expected ?? NO_SUCH_HOSPITAL);
    if (expected && matches) return;
    // The agent gets one message for both cases; the relay log gets the reason.
    const message = hospitalId
      ? `hospital "${hospitalId}" could not be authenticated: either this relay has no hospital with that id or the secret is wrong; ` +
        `check relays[].secret in the agent's agent.yaml against the relay's hospitals[] entry`
      : 'Hello carries no hospital_id; set the hospital id in the agent config';
    throw new AgentAuthError(message, hospitalId, expected ? 'wrong-secret' : 'unknown-hospital');
  }
}
