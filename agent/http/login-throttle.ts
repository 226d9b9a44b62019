// Slows password guessing at the login form: per remote address, after
// FREE_FAILURES wrong passwords each further one locks that address out for
// twice as long as the one before, up to MAX_LOCKOUT_MS. A success clears it.
// Overall, whatever the addresses, at most OVERALL_ATTEMPTS_PER_SECOND
// passwords are checked (a burst of OVERALL_ATTEMPT_BURST), so a flood from many
// addresses costs the agent a bounded share of one core.
// Pure: the clock is injected.
//
// Failure modes handled:
//  1. Concurrent guesses: an attempt is counted (as a failure) when it is
//     admitted, before its password is checked, and a success clears it. 100
//     guesses sent at once are 100 attempts, not 100 checks that each saw no
//     failure yet: the 7th and later are refused unchecked, and each lengthens
//     the lockout, so the right password sent last is refused too.
//  2. A flood from many addresses (or a spoofed-looking spread of them on a
//     flat LAN): the overall bucket refuses what exceeds it before any scrypt.
import { TokenBucket } from '../bandwidth/index.js';

/** Wrong passwords allowed from one address before lockouts begin. */
export const FREE_FAILURES = 5;
/** The first lockout, in ms; doubled for each further failure. */
export const FIRST_LOCKOUT_MS = 1_000;
export const MAX_LOCKOUT_MS = 15 * 60 * 1000;
/** An address with no failure for this long starts afresh, in ms. */
export const FAILURE_MEMORY_MS = 60 * 60 * 1000;
/** Passwords checked per second at most, all addresses together (each costs ~50 ms of scrypt). */
export const OVERALL_ATTEMPTS_PER_SECOND = 4;
/** Passwords that may be checked at once after a quiet spell, all addresses together. */
export const OVERALL_ATTEMPT_BURST = 8;
/** Addresses remembered at once (the oldest are forgotten first). */
const MAX_ADDRESSES = 10_000;

interface Failures {
  count: number;
  lastMs: number;
  lockedUntilMs: number;
}

export class LoginThrottle {
  private readonly failures = new Map<string, Failures>();
  private readonly overall: TokenBucket;

  constructor(private readonly clock: () => number = Date.now) {
    this.overall = new TokenBucket({ rateBytesPerSecond: OVERALL_ATTEMPTS_PER_SECOND, burstBytes: OVERALL_ATTEMPT_BURST, clock });
  }

  /**
   * Admits one login attempt from `address` and counts it as a failure until
   * succeeded() says otherwise; returns 0. When the address is locked out it
   * counts the attempt (lengthening the lockout) and returns the ms to wait;
   * when too many passwords are being checked overall it returns the ms to
   * wait and counts nothing against the address.
   */
  admit(address: string): number {
    if (this.retryAfterMs(address) > 0) {
      // A guess while locked out is still a guess: it lengthens the lockout.
      this.failed(address);
      return this.retryAfterMs(address);
    }
    if (!this.overall.tryTake(1)) return Math.max(1, this.overall.delayMs(1));
    this.failed(address);
    return 0;
  }

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
