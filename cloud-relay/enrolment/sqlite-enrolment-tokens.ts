// The EnrolmentTokenStore port (enrolment-token-store.ts) in the relay's SQLite
// file (relay.db, migration 3).
//
// Failure modes handled:
//  1. A token read off a ticket or a log: only its SHA-256 is stored, so the
//     database never holds a usable token.
//  2. A token used twice (replayed, or two installers racing): redemption marks
//     it used in the same write transaction that checks it is unused; the second loses.
//  3. A token left lying about: it expires (default 24 h).
//  4. The relay running while the CLI issues a token: both open relay.db in WAL
//     mode with a busy timeout; migrations are idempotent (user_version).
//  5. A token issued before the relay's first start: relay.db does not exist yet,
//     and is created as the relay's feed store creates it (its page size and
//     incremental auto-vacuum only take on a new file; migrations; 0700/0600),
//     not as a bare file the relay would then inherit.
import { timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { makePrivateDir, preparePrivateSqliteFile } from '../../runtime/index.js';
import { migrate, SqliteFeedStore } from '../store/index.js';
import {
  DEFAULT_ENROLMENT_TOKEN_TTL_MS,
  newEnrolmentToken,
  tokenDigest,
  type EnrolmentTokenStore,
  type IssuedEnrolmentToken,
  type RedeemResult,
} from './enrolment-token-store.js';

const BUSY_TIMEOUT_MS = 5_000;

export class SqliteEnrolmentTokens implements EnrolmentTokenStore {
  private closed = false;

  private constructor(
    private readonly db: Database.Database,
    private readonly now: () => number,
  ) {}

  /** Opens (and migrates) the relay database `file`, creating it as the relay would when it does not exist yet. */
  static open(file: string, now: () => number = Date.now): SqliteEnrolmentTokens {
    // close() is synchronous underneath: the file is released before the next line opens it.
    if (!existsSync(file)) void SqliteFeedStore.open({ file }).close();
    makePrivateDir(dirname(file));
    preparePrivateSqliteFile(file);
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL'); // a token marked used must stay used after a crash
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      migrate(db, file);
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteEnrolmentTokens(db, now);
  }

  async issue(hospital: string, ttlMs: number = DEFAULT_ENROLMENT_TOKEN_TTL_MS): Promise<IssuedEnrolmentToken> {
    const token = newEnrolmentToken();
    const nowMs = this.now();
    this.db
      .prepare('INSERT INTO enrolment_tokens (token_sha256, hospital, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?)')
      .run(tokenDigest(token), hospital, nowMs, nowMs + ttlMs);
    return { token, hospital, expiresAt: new Date(nowMs + ttlMs).toISOString() };
  }

  async redeem(token: string): Promise<RedeemResult> {
    const digest = tokenDigest(token);
    return this.db.transaction((): RedeemResult => {
      const row = this.db.prepare('SELECT token_sha256, hospital, expires_at_ms, used_at_ms FROM enrolment_tokens WHERE token_sha256 = ?').get(digest) as
        | { token_sha256: Buffer; hospital: string; expires_at_ms: number; used_at_ms: number | null }
        | undefined;
      if (!row || !timingSafeEqual(row.token_sha256, digest)) return { ok: false, reason: 'unknown' };
      if (row.used_at_ms !== null) return { ok: false, reason: 'used' };
      const nowMs = this.now();
      if (row.expires_at_ms <= nowMs) return { ok: false, reason: 'expired' };
      this.db.prepare('UPDATE enrolment_tokens SET used_at_ms = ? WHERE token_sha256 = ? AND used_at_ms IS NULL').run(nowMs, digest);
      return { ok: true, hospital: row.hospital };
    }).immediate();
  }

  async release(token: string): Promise<void> {
    this.db.prepare('UPDATE enrolment_tokens SET used_at_ms = NULL WHERE token_sha256 = ?').run(tokenDigest(token));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
