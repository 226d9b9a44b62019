import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../agent/bandwidth/index.js';

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('TokenBucket (the uplink rate limit)', () => {
  it('starts full, refuses what it does not hold, and says how long to wait', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ rateBytesPerSecond: 1000, burstBytes: 500, clock: clock.now });
    expect(bucket.tryTake(500)).toBe(true);
    expect(bucket.tryTake(100)).toBe(false);
    expect(bucket.delayMs(100)).toBe(100);
    clock.advance(99);
    expect(bucket.tryTake(100)).toBe(false);
    clock.advance(1);
    expect(bucket.tryTake(100)).toBe(true);
  });

  it('never holds more than the burst, however long it was idle', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ rateBytesPerSecond: 1000, burstBytes: 500, clock: clock.now });
    clock.advance(60_000);
    expect(bucket.available()).toBe(500);
  });

  it('lets a batch larger than the burst go from a full bucket and makes the next one pay the debt', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ rateBytesPerSecond: 1000, burstBytes: 500, clock: clock.now });
    expect(bucket.tryTake(2000)).toBe(true);
    expect(bucket.available()).toBe(-1500);
    // The next batch waits until the debt is paid and the bucket holds enough again.
    expect(bucket.delayMs(100)).toBe(1600);
    // An oversize batch waits for a full bucket, not for more than the bucket can hold.
    expect(bucket.delayMs(10_000)).toBe(2000);
  });

  it('holds the long-run rate to the configured figure (plus the initial burst)', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ rateBytesPerSecond: 200_000, burstBytes: 100_000, clock: clock.now });
    let sent = 0;
    // A sender with 50 kB batches always ready, polling every millisecond for 10 s.
    for (let t = 0; t < 10_000; t++) {
      while (bucket.tryTake(50_000)) sent += 50_000;
      clock.advance(1);
    }
    expect(sent).toBeGreaterThanOrEqual(200_000 * 10);
    expect(sent).toBeLessThanOrEqual(200_000 * 10 + 100_000 + 50_000);
  });

  it('is unlimited with a null rate', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ rateBytesPerSecond: null, burstBytes: 1, clock: clock.now });
    for (let i = 0; i < 100; i++) expect(bucket.tryTake(1e9)).toBe(true);
    expect(bucket.delayMs(1e9)).toBe(0);
  });

  it('keeps earned tokens across a rate change, capped at the new burst; leaving unlimited starts full', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ rateBytesPerSecond: 1000, burstBytes: 1000, clock: clock.now });
    expect(bucket.tryTake(1000)).toBe(true);
    clock.advance(300);
    bucket.setRate(10_000, 5000);
    expect(bucket.available()).toBe(300);
    clock.advance(100);
    expect(bucket.available()).toBe(1300);
    bucket.setRate(1000, 200);
    expect(bucket.available()).toBe(200);
    bucket.setRate(null, 200);
    expect(bucket.tryTake(1e6)).toBe(true);
    bucket.setRate(1000, 700);
    expect(bucket.available()).toBe(700);
  });

  it('does not mint tokens when the clock steps backwards', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ rateBytesPerSecond: 1000, burstBytes: 1000, clock: clock.now });
    bucket.tryTake(1000);
    clock.advance(-5000);
    expect(bucket.available()).toBe(0);
    clock.advance(500);
    expect(bucket.available()).toBe(500);
  });
});

describe('TokenBucket.takeUpTo (a byte stream going out in pieces, as through the fault proxy)', () => {
  it('never grants more than it holds, never goes into debt, and refills at its rate up to the burst', () => {
    let now = 0;
    const bucket = new TokenBucket({ rateBytesPerSecond: 1000, burstBytes: 50, clock: () => now });
    expect(bucket.takeUpTo(80)).toBe(50);
    expect(bucket.takeUpTo(10)).toBe(0);
    expect(bucket.delayMs(20)).toBe(20);
    now += 20;
    expect(bucket.takeUpTo(80)).toBe(20);
    now += 10_000;
    expect(bucket.takeUpTo(1_000_000)).toBe(50);
  });

  it('over a long run grants the rate, whatever the size of the requests', () => {
    let now = 0;
    const bucket = new TokenBucket({ rateBytesPerSecond: 12_345, burstBytes: 100, clock: () => now, initialTokens: 0 });
    let granted = 0;
    for (let step = 0; step < 10_000; step++) {
      now += 1;
      granted += bucket.takeUpTo(7 + (step % 13));
    }
    expect(granted).toBeGreaterThan(12_345 * 10 * 0.99);
    expect(granted).toBeLessThanOrEqual(12_345 * 10 + 1);
  });
});
