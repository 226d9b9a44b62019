// Who is asking, for the dashboard and the admin endpoints: a logged-in browser
// (session cookie), a script (bearer token), or anyone at all when http.admin is
// not configured. The routes decide what each may do (operations-routes.ts).
//
// Failure modes handled:
//  1. Password guessing: LoginThrottle locks an address out, doubling each time.
//  2. Cross-site requests riding on the cookie (CSRF, cross-site WebSocket): the
//     cookie is SameSite=Strict, and a request with a session must come from the
//     dashboard's own origin when the browser says where it comes from.
//  3. Timing: the password is compared by scrypt and timingSafeEqual, the token
//     by its SHA-256 digest with timingSafeEqual.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { tokenDigest, type AdminCredentials, type OpenableEndpoint } from './admin-config.js';
import { verifyPassword } from './admin-password.js';
import { AdminSessions } from './admin-sessions.js';
import { LoginThrottle } from './login-throttle.js';

export const SESSION_COOKIE = 'wardline_session';

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
    const wait = this.throttle.retryAfterMs(address);
    if (wait > 0) return { ok: false, retryAfterMs: wait };
    const credentials = this.credentials;
    let ok = false;
    if (credentials !== null && secret !== '') {
      if (credentials.password) ok = await verifyPassword(secret, credentials.password);
      if (!ok && credentials.tokenDigest) ok = this.tokenMatches(secret);
    }
    if (!ok) {
      this.throttle.failed(address);
      return { ok: false, retryAfterMs: this.throttle.retryAfterMs(address) };
    }
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
