// Who is asking, for the dashboard and the admin endpoints: a logged-in browser
// (session cookie), a script (bearer token), or anyone at all when http.admin is
// not configured. The routes decide what each may do (operator-routes.ts).
//
// Failure modes handled:
//  1. Password guessing: LoginThrottle locks an address out, doubling each time.
//     Attempts are counted before the password is checked (concurrent guesses
//     are each an attempt), and checks run on their own thread (password-verifier.ts).
//  2. Cross-site requests riding on the cookie (CSRF, cross-site WebSocket): the
//     cookie is SameSite=Strict, and a request with a session must come from the
//     dashboard's own origin when the browser says where it comes from.
//  3. Cross-site requests to an agent with no login at all, which carry no
//     cookie to refuse: an admin action (pause, revoke …) must be a same-origin
//     application/json request carrying the CSRF token the dashboard page holds
//     (adminWriteRefusal), with or without http.admin. Another site cannot read
//     the token, and cannot send JSON or the header without a CORS preflight the
//     agent never grants. A bearer token is exempt: no browser attaches one to a
//     request another site makes.
//  4. Timing: the password is compared by scrypt and timingSafeEqual, the token
//     by its SHA-256 digest with timingSafeEqual; the CSRF token likewise.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { tokenDigest, type AdminCredentials, type OpenableEndpoint } from './admin-config.js';
import { AdminSessions } from './admin-sessions.js';
import { LoginThrottle } from './login-throttle.js';
import { PasswordVerifier } from './password-verifier.js';
import type { RequestRefusal } from './request-guard.js';

export const SESSION_COOKIE = 'wardline_session';
/** The request header an admin action carries the CSRF token in. */
export const CSRF_HEADER = 'x-wardline-csrf';

/** How the request was let in: `open` when no login is configured. */
export type AdminIdentity = 'open' | 'session' | 'token';

export type LoginOutcome = { ok: true; sessionId: string } | { ok: false; retryAfterMs: number };

export interface AdminAuthOptions {
  credentials: AdminCredentials | null;
  clock?: () => number;
}

export class AdminAuth {
  private readonly sessions: AdminSessions;
  private readonly throttle: LoginThrottle;
  private readonly credentials: AdminCredentials | null;
  private readonly verifier = new PasswordVerifier();
  /** Signs CSRF tokens; per process, so a restart (which ends every session) also renews them. */
  private readonly csrfKey = randomBytes(32);

  constructor(options: AdminAuthOptions) {
    this.credentials = options.credentials;
    this.sessions = new AdminSessions(options.credentials?.sessionIdleMs, options.clock);
    this.throttle = new LoginThrottle(options.clock);
  }

  /** Whether a login is configured at all. */
  get required(): boolean {
    return this.credentials !== null;
  }

  /** Whether `endpoint` may be read without logging in. */
  isOpen(endpoint: OpenableEndpoint): boolean {
    return this.credentials === null || this.credentials.open.has(endpoint);
  }

  /** How the request is authenticated, or null when it is not. A session it names counts as used. */
  identify(req: IncomingMessage): AdminIdentity | null {
    if (this.credentials === null) return 'open';
    const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) return this.tokenMatches(bearer) ? 'token' : null;
    if (!this.sessions.touch(sessionIdOf(req))) return null;
    return sameOrigin(req) ? 'session' : null;
  }

  /**
   * Checks a secret typed at the login form (the password, or the token) from
   * `address`. Wrong answers are throttled per address.
   */
  async login(secret: string, address: string): Promise<LoginOutcome> {
    // Counted before the check: guesses sent at once are each an attempt.
    const wait = this.throttle.admit(address);
    if (wait > 0) return { ok: false, retryAfterMs: wait };
    const credentials = this.credentials;
    let ok = false;
    if (credentials !== null && secret !== '') {
      if (credentials.tokenDigest) ok = this.tokenMatches(secret);
      if (!ok && credentials.password) ok = await this.verifier.verify(secret, credentials.password);
    }
    if (!ok) return { ok: false, retryAfterMs: this.throttle.retryAfterMs(address) };
    this.throttle.succeeded(address);
    return { ok: true, sessionId: this.sessions.create() };
  }

  /** Whether the session the request named is still live (an open dashboard asks at each heartbeat). */
  sessionAlive(req: IncomingMessage): boolean {
    return this.sessions.touch(sessionIdOf(req));
  }

  logout(req: IncomingMessage): void {
    this.sessions.destroy(sessionIdOf(req));
  }

  /**
   * The CSRF token the dashboard page sends with admin actions: bound to the
   * request's session, or to this agent process when no login is configured.
   */
  csrfToken(req: IncomingMessage): string {
    const session = this.credentials === null ? undefined : sessionIdOf(req);
    return createHmac('sha256', this.csrfKey).update(session === undefined ? 'open' : `session:${session}`).digest('base64url');
  }

  /**
   * Why an admin action (a POST under /v1/admin/) from `identity` must be
   * refused as possibly cross-site, or null; see failure mode 3 above.
   */
  adminWriteRefusal(req: IncomingMessage, identity: AdminIdentity): RequestRefusal | null {
    if (identity === 'token') return null;
    if (!sameOrigin(req)) return { status: 403, code: 'cross_site', message: 'admin actions must come from the dashboard itself (the browser said this request comes from another site)' };
    if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      return { status: 415, code: 'unsupported_media_type', message: 'admin actions take Content-Type: application/json' };
    }
    const sent = req.headers[CSRF_HEADER];
    const expected = Buffer.from(this.csrfToken(req));
    if (typeof sent !== 'string' || sent.length !== expected.length || !timingSafeEqual(Buffer.from(sent), expected)) {
      return {
        status: 403,
        code: 'csrf_token',
        message: `admin actions need the ${CSRF_HEADER} header with the token from GET /v1/session (csrfToken), or "Authorization: Bearer <token>" with the token from http.admin`,
      };
    }
    return null;
  }

  /** Ends the password check thread. */
  close(): Promise<void> {
    return this.verifier.close();
  }

  /**
   * Set-Cookie for a new session; Secure when the request came over TLS. No
   * Max-Age: the agent ends idle sessions itself, and a wall screen that stays
   * in use for days must not lose its cookie to a fixed lifetime.
   */
  sessionCookie(sessionId: string, req: IncomingMessage): string {
    return `${SESSION_COOKIE}=${sessionId}; Path=/; HttpOnly; SameSite=Strict${isTls(req) ? '; Secure' : ''}`;
  }

  /** Set-Cookie that removes the session cookie. */
  clearedCookie(req: IncomingMessage): string {
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${isTls(req) ? '; Secure' : ''}`;
  }

  private tokenMatches(token: string): boolean {
    const expected = this.credentials?.tokenDigest;
    return expected != null && timingSafeEqual(tokenDigest(token), expected);
  }
}

/** The session id the request's cookie carries, if any. */
export function sessionIdOf(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

/**
 * False when the browser says the request comes from another origin: by
 * Sec-Fetch-Site (browsers since 2020), else by an Origin whose host is not the
 * Host asked for. Requests that say nothing (curl, scripts) pass: the
 * SameSite=Strict cookie already keeps other sites' requests from carrying a session.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin' || site === 'none';
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false; // "null" (a sandboxed or privacy-stripped origin) or garbage
  }
}

function isTls(req: IncomingMessage): boolean {
  return (req.socket as TLSSocket).encrypted === true;
}
