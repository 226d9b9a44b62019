// POST /v1/enrol: `{ token, csrPem }` -> `{ hospital, certPem, caPem }`. The token
// decides the hospital; signClientCsr takes only the public key from the CSR,
// so an installer can never ask for another hospital's identity.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CA_CERT_FILE, signClientCsr } from '../tls/index.js';
import { BadRequestError, RelayError, RelayErrorCode } from '../errors.js';
import type { EnrolmentTokenStore } from './enrolment-token-store.js';

/** An enrolment request's body is at most this many bytes. */
export const MAX_ENROL_BODY_BYTES = 64 * 1024;

export interface EnrolmentResponse {
  hospital: string;
  certPem: string;
  caPem: string;
}

/** The token is unknown, used or expired (HTTP 403). */
export class EnrolmentTokenError extends RelayError {
  override name = 'EnrolmentTokenError';
  constructor(readonly reason: 'unknown' | 'expired' | 'used') {
    const remedy = 'ask the relay operator for a new one (`wardline relay enrol-token --hospital ID`)';
    super(`enrolment token ${reason === 'unknown' ? 'not recognised' : reason === 'used' ? 'already used' : 'expired'}: ${remedy}`, RelayErrorCode.BAD_REQUEST);
  }
}

export class EnrolmentService {
  constructor(
    private readonly tokens: EnrolmentTokenStore,
    private readonly caDir: string,
  ) {}

  async enrol(body: unknown): Promise<EnrolmentResponse> {
    const request = body as { token?: unknown; csrPem?: unknown } | null;
    if (typeof request?.token !== 'string' || request.token.length === 0) throw new BadRequestError('token: expected the one-time enrolment token', 'token');
    if (typeof request.csrPem !== 'string' || !request.csrPem.includes('BEGIN CERTIFICATE REQUEST')) {
      throw new BadRequestError('csrPem: expected a PEM certificate signing request', 'csrPem');
    }
    const redeemed = await this.tokens.redeem(request.token);
    if (!redeemed.ok) throw new EnrolmentTokenError(redeemed.reason);
    try {
      const certPem = await signClientCsr(this.caDir, request.csrPem, redeemed.hospital);
      return { hospital: redeemed.hospital, certPem, caPem: readFileSync(join(this.caDir, CA_CERT_FILE), 'utf8') };
    } catch (error) {
      // A bad CSR must not burn the token: the installer fixes it and tries again.
      await this.tokens.release(request.token);
      if (error instanceof RelayError) throw error;
      throw new BadRequestError(`csrPem: ${(error as Error).message}`, 'csrPem');
    }
  }
}
