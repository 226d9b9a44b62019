import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../support/token-bucket.js';

describe('TokenBucket (the fault proxy throttle)', () => {
  it('starts full, never grants more than it holds, and refills at its rate up to its capacity', () => {
    let now = 0;
    const bucket = new TokenBucket(1000, 50, { clock: () => now });
    expect(bucket.take(80)).toBe(50);
    expect(bucket.take(10)).toBe(0);
    expect(bucket.msUntil(20)).toBeCloseTo(20);
    now += 20;
    expect(bucket.take(80)).toBe(20);
    now += 10_000;
    expect(bucket.take(1_000_000)).toBe(50);
    // Asking for more than the capacity waits for a full bucket, not forever.
    expect(bucket.msUntil(1_000_000)).toBeCloseTo(50);
  });

  it('over a long run grants the rate, whatever the size of the requests', () => {
    let now = 0;
    const bucket = new TokenBucket(12_345, 100, { clock: () => now, initialTokens: 0 });
    let granted = 0;
    for (let step = 0; step < 10_000; step++) {
      now += 1;
      granted += bucket.take(7 + (step % 13));
    }
    expect(granted).toBeGreaterThan(12_345 * 10 * 0.99);
    expect(granted).toBeLessThanOrEqual(12_345 * 10);
  });
});
