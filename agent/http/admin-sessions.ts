// Dashboard login sessions, held in memory: a restart logs everyone out, which
// for an appliance is a fair price for keeping no session secrets on disk. Pure
// apart from randomness: the clock is injected.
import { createHash, randomBytes } from 'node:crypto';

/** A session unused this long ends, in ms. An open dashboard (its WebSocket) keeps its session in use. */
export const DEFAULT_SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
/** Sessions held at once; logging in past this ends the least recently used. */
export const MAX_SESSIONS = 200;

interface Session {
  createdAtMs: number;
  lastUsedMs: number;
}

export class AdminSessions {
  /** Keyed by the SHA-256 of the session id, so a heap dump does not hand out live cookies. */
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly idleMs: number = DEFAULT_SESSION_IDLE_MS,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Starts a session; returns its id (the cookie's value: 256 random bits, base64url). */
  create(): string {
    const id = randomBytes(32).toString('base64url');
    const now = this.clock();
    this.sessions.set(digest(id), { createdAtMs: now, lastUsedMs: now });
    if (this.sessions.size > MAX_SESSIONS) {
      const oldest = [...this.sessions.entries()].sort((a, b) => a[1].lastUsedMs - b[1].lastUsedMs)[0]!;
      this.sessions.delete(oldest[0]);
    }
    return id;
  }

  /** Whether `id` names a live session; a live one counts as used now. */
  touch(id: string | undefined): boolean {
    if (!id) return false;
    const key = digest(id);
    const session = this.sessions.get(key);
    if (!session) return false;
    const now = this.clock();
    if (now - session.lastUsedMs > this.idleMs) {
      this.sessions.delete(key);
      return false;
    }
    session.lastUsedMs = now;
    return true;
  }

  destroy(id: string | undefined): void {
    if (id) this.sessions.delete(digest(id));
  }

  get size(): number {
    return this.sessions.size;
  }
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}
