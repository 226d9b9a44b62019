// What an attempt's outcome makes of an event, pure: final, quarantined, retried
// later or left to the system (awaiting). The engine applies it; this table is
// the whole rule, tested on its own (test/unit/retry-decision.test.ts).
import type { SinkOutcome } from './sinks/index.js';

/** Jitter of a retry delay: the delay is drawn from [ (1 - j)·d, d ]. */
export const RETRY_JITTER = 0.2;

export interface RetryPolicy {
  /** Counted failures after which the event is quarantined. */
  quarantineAfter: number;
  retryInitialMs: number;
  retryMaxMs: number;
}

/** The event's standing before the outcome. */
export interface AttemptStanding {
  /** The attempt just made, 1-based. */
  attempt: number;
  countedFailures: number;
  expiresAtMs: number;
}

export type RetryDecision =
  | { kind: 'final'; outcome: 'accepted' | 'refused' | 'expired'; code: string; reason: string; reference: string }
  | { kind: 'quarantine'; code: string; reason: string; countedFailures: number }
  | { kind: 'retry'; code: string; reason: string; countedFailures: number; nextAttemptMs: number; sinkDown: boolean }
  | { kind: 'await'; code: string };

/** The delay before retry number `retry` (0 = the first), doubling from initialMs to maxMs, jittered. */
export function retryDelayMs(retry: number, policy: Pick<RetryPolicy, 'retryInitialMs' | 'retryMaxMs'>, random: () => number = Math.random): number {
  const exponential = policy.retryInitialMs * Math.pow(2, Math.min(Math.max(0, retry), 40));
  const capped = Math.min(policy.retryMaxMs, exponential);
  return Math.round(capped * (1 - RETRY_JITTER * random()));
}

export function decideAfterAttempt(
  outcome: SinkOutcome,
  standing: AttemptStanding,
  policy: RetryPolicy,
  nowMs: number,
  random: () => number = Math.random,
): RetryDecision {
  switch (outcome.kind) {
    case 'accepted':
      return { kind: 'final', outcome: 'accepted', code: outcome.code, reason: outcome.reason ?? '', reference: outcome.reference ?? '' };
    case 'refused':
      return { kind: 'final', outcome: 'refused', code: outcome.code, reason: outcome.reason, reference: '' };
    case 'awaiting':
      return { kind: 'await', code: outcome.code };
    case 'unmappable':
      // Nothing was sent and another try would map the same body the same way.
      return { kind: 'quarantine', code: '', reason: `cannot be mapped: ${outcome.reason}`, countedFailures: standing.countedFailures };
    case 'retryable': {
      // A system that could not be reached says nothing about this event.
      const countedFailures = standing.countedFailures + (outcome.sinkDown ? 0 : 1);
      if (countedFailures >= policy.quarantineAfter) {
        return { kind: 'quarantine', code: outcome.code, reason: `failed ${countedFailures} times, last: ${outcome.reason}`, countedFailures };
      }
      const nextAttemptMs = nowMs + retryDelayMs(standing.attempt - 1, policy, random);
      if (nextAttemptMs >= standing.expiresAtMs) {
        // The retry would come after the TTL: the expiry decides, at its time.
        return { kind: 'retry', code: outcome.code, reason: outcome.reason, countedFailures, nextAttemptMs: standing.expiresAtMs, sinkDown: outcome.sinkDown };
      }
      return { kind: 'retry', code: outcome.code, reason: outcome.reason, countedFailures, nextAttemptMs, sinkDown: outcome.sinkDown };
    }
  }
}
