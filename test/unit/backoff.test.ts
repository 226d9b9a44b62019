import { describe, expect, it } from 'vitest';
import { backoffDelayMs, DEFAULT_BACKOFF } from '../../agent/replication/backoff.js';

describe('backoffDelayMs', () => {
  const policy = { initialMs: 100, maxMs: 5000, multiplier: 2, jitter: 0.5 };

  it('grows exponentially and is capped', () => {
    const noJitter = { ...policy, jitter: 0 };
    expect([0, 1, 2, 3, 10].map((a) => backoffDelayMs(a, noJitter))).toEqual([100, 200, 400, 800, 5000]);
  });

  it('randomises within the jitter fraction below the nominal delay', () => {
    expect(backoffDelayMs(2, policy, () => 0)).toBe(200);
    expect(backoffDelayMs(2, policy, () => 0.999999)).toBe(400);
    for (let i = 0; i < 100; i++) {
      const delay = backoffDelayMs(20, DEFAULT_BACKOFF);
      expect(delay).toBeGreaterThanOrEqual(DEFAULT_BACKOFF.maxMs * (1 - DEFAULT_BACKOFF.jitter));
      expect(delay).toBeLessThanOrEqual(DEFAULT_BACKOFF.maxMs);
    }
  });
});
