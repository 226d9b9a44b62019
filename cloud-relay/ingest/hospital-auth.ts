import type { HospitalCredential } from '../credentials.js';
import { AgentAuthError, CertificateIdentityError } from '../errors.js';
import { sameDigest, secretDigest } from '../secret-digest.js';
import type { PeerIdentity } from '../tls/index.js';

// Compared against when the hospital id is unknown, so an unknown id costs the
// same time as a wrong secret and response times do not reveal which ids exist.
const NO_SUCH_HOSPITAL = secretDigest('\0no such hospital\0');

/** How an agent proved which hospital it replicates for. */
export type AgentAuthentication = 'certificate' | 'secret' | 'certificate and secret';

export interface HospitalAuthOptions {
  /** The relay asks for client certificates (tls.clientCaFile): error messages point at them too. Default false. */
  mutualTls?: boolean;
}

/**
 * Checks a Hello's hospital id against the relay's hospitals[]: the verified
 * client certificate, when there is one, must name that hospital; the secret,
 * when the hospital has one, must match. A hospital without a secret (allowed
 * only with mutual TLS) is proved by its certificate alone.
 */
export class HospitalAuth {
  /** Hospital id -> digest of its secret, or null when it has none (certificate only). */
  private readonly digests: ReadonlyMap<string, Buffer | null>;

  constructor(
    hospitals: readonly HospitalCredential[],
    private readonly options: HospitalAuthOptions = {},
  ) {
    this.digests = new Map(hospitals.map((h) => [h.id, h.secret === undefined ? null : secretDigest(h.secret)]));
  }

  /**
   * Returns how the agent was authenticated; throws CertificateIdentityError
   * (the certificate names another hospital) or AgentAuthError otherwise.
   * `certificate` is the peer's verified client certificate, if any.
   */
  verify(hospitalId: string, secret: string, certificate?: PeerIdentity): AgentAuthentication {
    if (certificate) {
      // Checked first: a certificate for one hospital never opens another's
      // stream, whatever secret comes with it.
      if (certificate.describe === undefined) {
        throw new CertificateIdentityError(
          `the client certificate cannot identify a hospital: ${certificate.problem}; install a certificate issued for "${hospitalId}" (wardline cert client --hospital ${hospitalId})`,
          hospitalId,
          undefined,
        );
      }
      if (certificate.hospitalId !== hospitalId) {
        throw new CertificateIdentityError(
          `the client certificate identifies hospital "${certificate.hospitalId}" (${certificate.describe}) but Hello says hospital_id "${hospitalId}": ` +
            `an agent may replicate only as the hospital its certificate names; install the certificate issued for "${hospitalId}" ` +
            `(relays[].tls.certFile and keyFile) or correct hospital.id in agent.yaml`,
          hospitalId,
          certificate.hospitalId,
        );
      }
    }
    const known = this.digests.has(hospitalId);
    const expected = this.digests.get(hospitalId) ?? null;
    if (known && expected === null && certificate) return 'certificate';
    const matches = sameDigest(secretDigest(secret), expected ?? NO_SUCH_HOSPITAL);
    if (known && expected !== null && matches) return certificate ? 'certificate and secret' : 'secret';
    // The agent gets one message for every case; the relay log gets the reason.
    const reason = !known ? 'unknown-hospital' : expected === null ? 'no-certificate' : 'wrong-secret';
    throw new AgentAuthError(this.refusal(hospitalId, certificate !== undefined), hospitalId, reason);
  }

  private refusal(hospitalId: string, presentedCertificate: boolean): string {
    if (!hospitalId) return 'Hello carries no hospital_id; set the hospital id in the agent config';
    if (this.options.mutualTls && !presentedCertificate) {
      return (
        `hospital "${hospitalId}" could not be authenticated: either this relay has no hospital with that id, or the secret is wrong, ` +
        `or the hospital authenticates with a client certificate and this connection presented none the relay trusts; ` +
        `check relays[].tls.certFile and keyFile, or relays[].secret, in the agent's agent.yaml against the relay's hospitals[] entry`
      );
    }
    return (
      `hospital "${hospitalId}" could not be authenticated: either this relay has no hospital with that id or the secret is wrong; ` +
      `check relays[].secret in the agent's agent.yaml against the relay's hospitals[] entry`
    );
  }
}
