// An achieved rate: an exponentially weighted moving average of amounts over
// time (acked payload bytes, acked events). Pure apart from the injected clock.
//
// The average decays continuously with a time constant (10 s by default), so a
// feed that stops shows its rate falling towards zero instead of freezing at the
// last value. During the first time constant after start the sum is divided by
// the weight actually elapsed, so a fresh meter is not biased towards zero.

/** Default time constant of the average, in ms. */
export const DEFAULT_RATE_TIME_CONSTANT_MS = 10_000;

/** A rate per second averaged over ~timeConstantMs (default 10 s). */
export class RateMeter {
  private sum = 0;
  private lastMs: number;
  private readonly startMs: number;

  constructor(
    private readonly clock: () => number,
    private readonly timeConstantMs: number = DEFAULT_RATE_TIME_CONSTANT_MS,
  ) {
    this.startMs = this.lastMs = clock();
  }

  /** Adds an amount observed now. */
  record(amount: number): void {
    this.decay();
    this.sum += amount;
  }

  /** The average rate, per second. */
  perSecond(): number {
    this.decay();
    const elapsedMs = this.lastMs - this.startMs;
    if (elapsedMs <= 0) return 0;
    // ∫ e^(-t/τ) dt over the elapsed time: τ·(1 − e^(−elapsed/τ)), in seconds.
    const weightSeconds = (this.timeConstantMs / 1000) * (1 - Math.exp(-elapsedMs / this.timeConstantMs));
    return this.sum / weightSeconds;
  }

  private decay(): void {
    const now = this.clock();
    const dt = now - this.lastMs;
    if (dt <= 0) return;
    this.sum *= Math.exp(-dt / this.timeConstantMs);
    this.lastMs = now;
  }
}
