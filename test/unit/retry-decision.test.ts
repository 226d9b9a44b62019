// What an attempt's outcome makes of an inbound event: the whole rule table.
import { describe, expect, it } from 'vitest';
import { decideAfterAttempt, retryDelayMs, RETRY_JITTER, type RetryPolicy } from '../../agent/downlink/index.js';
import { forAll } from '../support/property.js';

const policy: RetryPolicy = { quarantineAfter: 3, retryInitialMs: 1_000, retryMaxMs: 60_000 };
const now = 1_000_000;
const standing = { attempt: 1, countedFailures: 0, expiresAtMs: now + 3_600_000 };

describe('decideAfterAttempt', () => {
  it('makes accepted and refused final, with the reference and the reason', () => {
    expect(decideAfterAttempt({ kind: 'accepted', code: 'AA', reference: 'APPT-7' }, standing, policy, now)).toEqual({ kind: 'final', outcome: 'accepted', code: 'AA', reason: '', reference: 'APPT-7' });
    expect(decideAfterAttempt({ kind: 'refused', code: 'AR', reason: 'slot already taken' }, standing, policy, now)).toEqual({ kind: 'final', outcome: 'refused', code: 'AR', reason: 'slot already taken', reference: '' });
  });

  it('quarantines an unmappable event at once, whatever its count', () => {
    const d = decideAfterAttempt({ kind: 'unmappable', reason: 'no PID-3 in $.patient' }, standing, policy, now);
    expect(d).toMatchObject({ kind: 'quarantine', countedFailures: 0 });
    expect(d.kind === 'quarantine' && d.reason).toContain('no PID-3');
  });

  it('counts a retryable failure, and quarantines at quarantineAfter', () => {
    const ae = { kind: 'retryable', code: 'AE', reason: 'db locked', sinkDown: false } as const;
    expect(decideAfterAttempt(ae, { ...standing, countedFailures: 1 }, policy, now)).toMatchObject({ kind: 'retry', countedFailures: 2 });
    expect(decideAfterAttempt(ae, { ...standing, countedFailures: 2 }, policy, now)).toMatchObject({ kind: 'quarantine', countedFailures: 3, code: 'AE' });
  });

  it('does not count a sinkDown failure, however many', () => {
    const down = { kind: 'retryable', code: 'ECONNREFUSED', reason: 'connection refused', sinkDown: true } as const;
    expect(decideAfterAttempt(down, { ...standing, attempt: 50, countedFailures: 2 }, policy, now)).toMatchObject({ kind: 'retry', countedFailures: 2, sinkDown: true });
  });

  it('leaves an awaiting event to settle', () => {
    expect(decideAfterAttempt({ kind: 'awaiting', code: 'new' }, standing, policy, now)).toEqual({ kind: 'await', code: 'new' });
  });

  it('never schedules a retry after the TTL: the expiry comes first', () => {
    const ae = { kind: 'retryable', code: 'AE', reason: 'x', sinkDown: false } as const;
    const d = decideAfterAttempt(ae, { attempt: 8, countedFailures: 0, expiresAtMs: now + 5_000 }, { ...policy, quarantineAfter: 99 }, now, () => 0);
    expect(d).toMatchObject({ kind: 'retry', nextAttemptMs: now + 5_000 });
  });
});

describe('retryDelayMs', () => {
  it('doubles from 1 s to the 60 s cap', () => {
    expect([0, 1, 2, 5, 6, 7, 30].map((r) => retryDelayMs(r, policy, () => 0))).toEqual([1_000, 2_000, 4_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('property: jittered within [(1 - jitter)·d, d] and never above the cap', () => {
    forAll(
      'retry-delay',
      (rng) => ({ retry: rng.int(0, 50), initialMs: rng.int(1, 5_000), maxMs: rng.int(5_000, 120_000), r: rng.next() }),
      ({ retry, initialMs, maxMs, r }) => {
        const d = retryDelayMs(retry, { retryInitialMs: initialMs, retryMaxMs: maxMs }, () => r);
        const full = Math.min(maxMs, initialMs * 2 ** retry);
        expect(d).toBeLessThanOrEqual(full);
        expect(d).toBeGreaterThanOrEqual(Math.floor(full * (1 - RETRY_JITTER)));
      },
    );
  });
});
