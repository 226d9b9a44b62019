// The byte budget of the uplink: tokens (bytes) accrue at the rate in force, up
// to the burst. Pure apart from the injected clock.
//
// A batch may be larger than the burst (the batch size follows the rate, and a
// compression estimate can be off). Such a batch goes when the bucket is full and
// leaves it in debt, so the long-run rate still holds and nothing is stuck forever.

/** Tolerance for floating-point refills, in bytes: a timer that fires exactly on time must succeed. */
const EPSILON_BYTES = 0.5;

export interface TokenBucketOptions {
  /** Bytes per second; null means unlimited. */
  rateBytesPerSecond: number | null;
  /** The most bytes that may go at once after an idle spell. */
  burstBytes: number;
  /** Milliseconds, monotonic enough not to run backwards (Date.now, performance.now). */
  clock: () => number;
  /** Tokens at the start; default a full bucket (the burst). */
  initialTokens?: number;
}

/** Bytes that may be sent now at a rate, with a burst; see the file comment for large batches. */
export class TokenBucket {
  private rate: number | null;
  private burst: number;
  private tokens: number;
  private lastMs: number;
  private readonly clock: () => number;

  constructor(options: TokenBucketOptions) {
    this.clock = options.clock;
    this.rate = options.rateBytesPerSecond;
    this.burst = Math.max(1, options.burstBytes);
    this.tokens = Math.min(this.burst, options.initialTokens ?? this.burst);
    this.lastMs = this.clock();
  }

  /** Bytes per second, or null when unlimited. */
  get rateBytesPerSecond(): number | null {
    return this.rate;
  }

  get burstBytes(): number {
    return this.burst;
  }

  /** Tokens now, in bytes; negative while a large batch is being paid off. */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /**
   * Changes the rate and burst from now on. Tokens earned so far are kept (up
   * to the new burst), so a change at a window boundary neither gifts nor
   * forgives a burst; leaving "unlimited" starts with a full bucket.
   */
  setRate(rateBytesPerSecond: number | null, burstBytes: number): void {
    this.refill();
    const wasUnlimited = this.rate === null;
    this.rate = rateBytesPerSecond;
    this.burst = Math.max(1, burstBytes);
    this.tokens = wasUnlimited ? this.burst : Math.min(this.tokens, this.burst);
  }

  /** Takes `bytes` if the bucket allows it now (see the file comment for large batches). */
  tryTake(bytes: number): boolean {
    if (this.rate === null) return true;
    this.refill();
    if (this.tokens + EPSILON_BYTES < Math.min(bytes, this.burst)) return false;
    this.tokens -= bytes;
    return true;
  }

  /** Milliseconds until tryTake(bytes) would succeed; 0 when it would now. */
  delayMs(bytes: number): number {
    if (this.rate === null) return 0;
    this.refill();
    const deficit = Math.min(bytes, this.burst) - this.tokens - EPSILON_BYTES;
    return deficit <= 0 ? 0 : Math.ceil((deficit / this.rate) * 1000);
  }

  /**
   * Takes as many whole bytes as are available now, up to `max`, and returns how
   * many it took (0 when empty): for a byte stream that may go out in pieces, as
   * the fault proxy's throttled line does. Never goes into debt.
   */
  takeUpTo(max: number): number {
    if (this.rate === null) return Math.max(0, Math.floor(max));
    this.refill();
    const granted = Math.max(0, Math.min(Math.floor(this.tokens + EPSILON_BYTES), Math.floor(max)));
    this.tokens -= granted;
    return granted;
  }

  private refill(): void {
    const now = this.clock();
    const elapsedMs = Math.max(0, now - this.lastMs);
    this.lastMs = now;
    if (this.rate !== null) this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.rate) / 1000);
  }
}
