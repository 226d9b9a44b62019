import { describe, expect, it } from 'vitest';
import { RateMeter } from '../../agent/bandwidth/index.js';

describe('RateMeter', () => {
  it('reports a steady rate without waiting ten seconds to warm up', () => {
    let now = 0;
    const meter = new RateMeter(() => now);
    for (let i = 0; i < 20; i++) {
      now += 100;
      meter.record(20_000); // 200 kB/s
    }
    expect(meter.perSecond()).toBeGreaterThan(190_000);
    expect(meter.perSecond()).toBeLessThan(215_000);
  });

  it('follows a change of rate within a few time constants and decays when nothing arrives', () => {
    let now = 0;
    const meter = new RateMeter(() => now, 10_000);
    for (let i = 0; i < 600; i++) {
      now += 100;
      meter.record(i < 300 ? 10_000 : 30_000);
    }
    // 30 s at 300 kB/s after 30 s at 100 kB/s: within 5% of the new rate.
    expect(meter.perSecond()).toBeGreaterThan(285_000);
    expect(meter.perSecond()).toBeLessThan(301_000);
    now += 10_000;
    expect(meter.perSecond()).toBeLessThan(0.4 * 300_000);
  });

  it('is zero before anything happened', () => {
    let now = 5;
    const meter = new RateMeter(() => now);
    expect(meter.perSecond()).toBe(0);
    now += 1000;
    expect(meter.perSecond()).toBe(0);
  });
});
