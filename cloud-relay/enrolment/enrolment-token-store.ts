// One-time enrolment tokens as a port: the relay operator issues one per
// hospital (`wardline relay enrol-token`), hands it to the hospital's IT out of
// band, and the installer redeems it once (POST /v1/enrol) for a signed client
// certificate. SqliteEnrolmentTokens keeps them in relay.db,
// PostgresEnrolmentTokens in the relay's PostgreSQL database; both run
// test/contract/enrolment-token-store.contract.ts.
//
// What every backend promises:
//  - only the SHA-256 of a token is stored (tokenDigest), never the token;
//  - redeem marks a token used in the same statement or transaction that finds
//    it unused and unexpired: of two redemptions at once (two installers, two
//    relay processes), exactly one wins;
//  - a token expires at its expiresAt (redeemed at or after it: 'expired').
import { createHash, randomBytes } from 'node:crypto';

/** A token is valid this long unless --ttl says otherwise: 24 hours, in ms. */
export const DEFAULT_ENROLMENT_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
/** Tokens start with this, so one pasted into the wrong field is recognisable. */
export const ENROLMENT_TOKEN_PREFIX = 'wlenrol_';

export interface IssuedEnrolmentToken {
  token: string;
  hospital: string;
  /** ISO 8601. */
  expiresAt: string;
}

export type RedeemResult = { ok: true; hospital: string } | { ok: false; reason: 'unknown' | 'expired' | 'used' };

export interface EnrolmentTokenStore {
  /** Issues a new token for `hospital`, valid `ttlMs` (default DEFAULT_ENROLMENT_TOKEN_TTL_MS); the token itself is returned once, never stored. */
  issue(hospital: string, ttlMs?: number): Promise<IssuedEnrolmentToken>;
  /** Uses a token up; returns its hospital, or why it cannot be used. */
  redeem(token: string): Promise<RedeemResult>;
  /** Gives a token back after the certificate could not be signed, so the installer can retry. */
  release(token: string): Promise<void>;
  /** Releases what the store holds (a SQLite connection; never a shared pool). Idempotent. */
  close(): Promise<void>;
}

/** The SHA-256 of a token: what a backend stores and looks up. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A new token: the prefix and 192 random bits. */
export function newEnrolmentToken(): string {
  return `${ENROLMENT_TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
}
