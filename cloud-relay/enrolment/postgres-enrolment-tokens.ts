// The EnrolmentTokenStore port (enrolment-token-store.ts) in the relay's
// PostgreSQL database (schema v4), shared by every relay process.
//
// Failure modes handled:
//  1. One token redeemed at two relay processes at once (two installers, a
//     retry through the load balancer): redemption is one conditional UPDATE
//     (… WHERE used_at_ms IS NULL AND expires_at_ms > now); the row lock makes
//     the second wait and then find it used. Nothing is read before it writes.
//  2. Only the SHA-256 of a token is stored, as in relay.db.
//  3. The connection breaks during redeem: the call rejects and the installer
//     retries; if the UPDATE had committed, the retry says 'used' — the
//     operator issues a new token (the same as a token burnt by a crash with SQLite).
import type { RelayDatabase } from '../store/postgres/index.js';
import {
  DEFAULT_ENROLMENT_TOKEN_TTL_MS,
  newEnrolmentToken,
  tokenDigest,
  type EnrolmentTokenStore,
  type IssuedEnrolmentToken,
  type RedeemResult,
} from './enrolment-token-store.js';

export interface PostgresEnrolmentTokensOptions {
  /** The relay's pool; migratePostgres has run. Not closed by close(): other stores share it. */
  database: RelayDatabase;
  /** Milliseconds since the epoch. Default Date.now. */
  now?: () => number;
}

export class PostgresEnrolmentTokens implements EnrolmentTokenStore {
  private readonly database: RelayDatabase;
  private readonly now: () => number;

  private constructor(options: PostgresEnrolmentTokensOptions) {
    this.database = options.database;
    this.now = options.now ?? Date.now;
  }

  /** The store on `options.database` (schema v4 applied by migratePostgres). */
  static async open(options: PostgresEnrolmentTokensOptions): Promise<PostgresEnrolmentTokens> {
    return new PostgresEnrolmentTokens(options);
  }

  async issue(hospital: string, ttlMs: number = DEFAULT_ENROLMENT_TOKEN_TTL_MS): Promise<IssuedEnrolmentToken> {
    const token = newEnrolmentToken();
    const nowMs = this.now();
    await this.database.query('INSERT INTO enrolment_tokens (token_sha256, hospital, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4)', [
      tokenDigest(token),
      hospital,
      nowMs,
      nowMs + ttlMs,
    ]);
    return { token, hospital, expiresAt: new Date(nowMs + ttlMs).toISOString() };
  }

  async redeem(token: string): Promise<RedeemResult> {
    const digest = tokenDigest(token);
    const nowMs = this.now();
    // Failure mode 1: the check and the mark are one statement.
    const used = await this.database.query<{ hospital: string }>(
      'UPDATE enrolment_tokens SET used_at_ms = $2 WHERE token_sha256 = $1 AND used_at_ms IS NULL AND expires_at_ms > $2 RETURNING hospital',
      [digest, nowMs],
    );
    if (used.rows[0]) return { ok: true, hospital: used.rows[0].hospital };
    // Only why it failed is read afterwards; it decides nothing.
    const row = (await this.database.query<{ used_at_ms: number | null }>('SELECT used_at_ms FROM enrolment_tokens WHERE token_sha256 = $1', [digest])).rows[0];
    if (!row) return { ok: false, reason: 'unknown' };
    return { ok: false, reason: row.used_at_ms !== null ? 'used' : 'expired' };
  }

  async release(token: string): Promise<void> {
    await this.database.query('UPDATE enrolment_tokens SET used_at_ms = NULL WHERE token_sha256 = $1', [tokenDigest(token)]);
  }

  async close(): Promise<void> {
    // The pool is the relay's, closed by whoever opened it.
  }
}
