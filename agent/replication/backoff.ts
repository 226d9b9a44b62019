// Reconnect delays: exponential with full jitter, capped. Pure: the caller keeps
// the attempt count and supplies the random source.

export interface BackoffPolicy {
  /** Delay before the first retry, in ms. */
  initialMs: number;
  /** Upper bound of any delay, in ms. */
  maxMs: number;
  /** Growth per attempt. */
  multiplier: number;
  /** Fraction of the delay that is randomised (0 = none, 1 = full jitter). */
  jitter: number;
}

export const DEFAULT_BACKOFF_INITIAL_MS = 250;
/**
 * 5 s, not the customary 30: after a long outage the delay sits at the cap, and the
 * backlog should start draining within seconds of the relay's return (measured:
 * first ack 19.9 s after the relay came back with a 30 s cap). A failed attempt
 * costs one refused or timed-out connect; the jitter spreads many hospitals'
 * agents reconnecting to a restarted relay.
 */
export const DEFAULT_BACKOFF_MAX_MS = 5_000;
export const DEFAULT_BACKOFF_MULTIPLIER = 2;
export const DEFAULT_BACKOFF_JITTER = 0.5;

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: DEFAULT_BACKOFF_INITIAL_MS,
  maxMs: DEFAULT_BACKOFF_MAX_MS,
  multiplier: DEFAULT_BACKOFF_MULTIPLIER,
  jitter: DEFAULT_BACKOFF_JITTER,
};

/**
 * The delay before reconnect attempt `attempt` (0-based). Jitter spreads many
 * agents reconnecting after the same outage so they do not arrive at once.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponential = policy.initialMs * Math.pow(policy.multiplier, Math.max(0, attempt));
  const capped = Math.min(policy.maxMs, exponential);
  const jitterSpan = capped * policy.jitter;
  return Math.round(capped - jitterSpan + random() * jitterSpan);
}
