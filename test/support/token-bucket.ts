// A byte budget that refills at a steady rate: what the fault proxy uses to
// model a slow line. Pure apart from the injected clock.
import { performance } from 'node:perf_hooks';

export class TokenBucket {
  private tokens: number;
  private lastMs: number;
  private readonly clock: () => number;

  /**
   * @param ratePerSecond bytes added per second
   * @param capacity the most bytes that may go out in one burst; it also bounds
   *   how long a late caller (a busy event loop) can be behind without losing rate
   * @param options.initialTokens tokens at the start; default the capacity (a full bucket)
   * @param options.clock milliseconds, monotonic; default performance.now
   */
  constructor(
    readonly ratePerSecond: number,
    readonly capacity: number,
    options: { initialTokens?: number; clock?: () => number } = {},
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError(`token bucket rate must be > 0, got ${ratePerSecond}`);
    if (!(capacity >= 1)) throw new RangeError(`token bucket capacity must be ≥ 1, got ${capacity}`);
    this.clock = options.clock ?? (() => performance.now());
    this.tokens = Math.min(capacity, options.initialTokens ?? capacity);
    this.lastMs = this.clock();
  }

  /** Takes up to `max` whole tokens available now; returns how many it took (0 when empty). */
  take(max: number): number {
    this.refill();
    const granted = Math.min(Math.floor(this.tokens), Math.max(0, Math.floor(max)));
    this.tokens -= granted;
    return granted;
  }

  /** Milliseconds until `wanted` tokens (at most the capacity) will be available. */
  msUntil(wanted: number): number {
    this.refill();
    const target = Math.min(Math.max(1, wanted), this.capacity);
    return Math.max(0, ((target - this.tokens) / this.ratePerSecond) * 1000);
  }

  private refill(): void {
    const now = this.clock();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.lastMs) / 1000) * this.ratePerSecond);
    this.lastMs = now;
  }
}
