import { describe, expect, it } from 'vitest';
import { RelayErrorCode, TooManyRequestsError } from '../../cloud-relay/errors.js';
import { VendorSlots } from '../../cloud-relay/feeds/vendor-slots.js';

describe('VendorSlots', () => {
  const slots = () => new VendorSlots({ reads: 2, follows: 1, retryAfterSeconds: 3 });

  it('gives a key its bound of reads, refuses the next with the bound and Retry-After, and takes a slot back once', () => {
    const s = slots();
    const first = s.acquire('v', 'read');
    s.acquire('v', 'read');
    let refused: unknown;
    try {
      s.acquire('v', 'read');
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(TooManyRequestsError);
    expect(refused).toMatchObject({ code: RelayErrorCode.TOO_MANY_REQUESTS, vendor: 'v', kind: 'read', limit: 2, retryAfterSeconds: 3 });
    expect((refused as Error).message).toContain('feedLimits.concurrentReadsPerKey');
    first();
    first(); // a second release gives nothing back twice
    expect(s.holding('v', 'read')).toBe(1);
    s.acquire('v', 'read');
    expect(() => s.acquire('v', 'read')).toThrow(TooManyRequestsError);
  });

  it('counts reads and follows apart, and each key apart', () => {
    const s = slots();
    s.acquire('v', 'follow');
    expect(() => s.acquire('v', 'follow')).toThrow(/feedLimits.followSubscriptionsPerKey/);
    expect(() => s.acquire('v', 'read')).not.toThrow();
    expect(() => s.acquire('w', 'follow')).not.toThrow();
    expect([s.holding('v', 'follow'), s.holding('v', 'read'), s.holding('w', 'follow'), s.holding('x', 'read')]).toEqual([1, 1, 1, 0]);
  });
});
