// Slows password guessing at the login form: per remote address, after
// FREE_FAILURES wrong passwords each further one locks that address out for
// twice as long as the one before, up to MAX_LOCKOUT_MS. A success clears it.
// Pure: the clock is injected.

/** Wrong passwords allowed from one address before lockouts begin. */
export const FREE_FAILURES = 5;
/** The first lockout, in ms; doubled for each further failure. */
export const FIRST_LOCKOUT_MS = 1_000;
export const MAX_LOCKOUT_MS = 15 * 60 * 1000;
/** An address with no failure for this long starts afresh, in ms. */
export const FAILURE_MEMORY_MS = 60 * 60 * 1000;
/** Addresses remembered at once (the oldest are forgotten first). */
const MAX_ADDRESSES = 10_000;

interface Failures {
  count: number;
  lastMs: number;
  lockedUntilMs: number;
}

export class LoginThrottle {
  private readonly failures = new Map<string, Failures>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** ms until `address` may try again; 0 when it may now. */
  retryAfterMs(address: string): number {
    const f = this.current(address);
    return f ? Math.max(0, f.lockedUntilMs - this.clock()) : 0;
  }

  failed(address: string): void {
    const now = this.clock();
    const f = this.current(address) ?? { count: 0, lastMs: now, lockedUntilMs: 0 };
    f.count++;
    f.lastMs = now;
    if (f.count > FREE_FAILURES) f.lockedUntilMs = now + Math.min(MAX_LOCKOUT_MS, FIRST_LOCKOUT_MS * 2 ** (f.count - FREE_FAILURES - 1));
    this.failures.delete(address);
    this.failures.set(address, f);
    if (this.failures.size > MAX_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
  }

  succeeded(address: string): void {
    this.failures.delete(address);
  }

  private current(address: string): Failures | undefined {
    const f = this.failures.get(address);
    if (f && this.clock() - f.lastMs > FAILURE_MEMORY_MS && this.clock() >= f.lockedUntilMs) {
      this.failures.delete(address);
      return undefined;
    }
    return f;
  }
}
