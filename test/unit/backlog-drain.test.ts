// The "about N s" of "catching up": from how fast the backlog is shrinking,
// net of what keeps arriving.
import { describe, expect, it } from 'vitest';
import { BacklogDrain, DRAIN_WINDOW_MS, MIN_DRAIN_SPAN_MS } from '../../agent/operations/backlog-drain.js';

describe('BacklogDrain', () => {
  it('estimates from the net shrinking rate over the window', () => {
    const drain = new BacklogDrain();
    // 1 000 waiting, shrinking by 100 a second.
    for (let s = 0; s <= 5; s++) drain.observe('clinical', 1_000 - 100 * s, s * 1_000);
    const estimate = drain.observe('clinical', 400, 6_000);
    expect(estimate.eventsPerSecond).toBeCloseTo(100, 5);
    expect(estimate.etaSeconds).toBeCloseTo(4, 5);
  });

  it('says nothing while the backlog grows, or before it has watched long enough', () => {
    const drain = new BacklogDrain();
    expect(drain.observe('clinical', 500, 0)).toEqual({ eventsPerSecond: null, etaSeconds: null });
    expect(drain.observe('clinical', 450, MIN_DRAIN_SPAN_MS - 1)).toEqual({ eventsPerSecond: null, etaSeconds: null });
    expect(drain.observe('clinical', 900, 5_000)).toEqual({ eventsPerSecond: null, etaSeconds: null });
  });

  it('counts from the peak: a backlog that grew during the cut and now drains', () => {
    const drain = new BacklogDrain();
    drain.observe('clinical', 100, 0);
    drain.observe('clinical', 600, 4_000); // the cut: it grew
    const estimate = drain.observe('clinical', 400, 8_000); // restored: 50 a second
    expect(estimate.eventsPerSecond).toBeCloseTo(50, 5);
    expect(estimate.etaSeconds).toBeCloseTo(8, 5);
  });

  it('measures a bursty drain that holds still between its bursts', () => {
    const drain = new BacklogDrain();
    drain.observe('clinical', 600, 0);
    drain.observe('clinical', 600, 1_000);
    drain.observe('clinical', 600, 2_000);
    const estimate = drain.observe('clinical', 500, 2_500);
    expect(estimate.eventsPerSecond).toBeCloseTo(40, 5);
  });

  it('forgets samples older than the window, keeps feeds apart, and is 0 when empty', () => {
    const drain = new BacklogDrain();
    drain.observe('a', 10_000, 0);
    drain.observe('b', 10, 0);
    drain.observe('a', 9_000, DRAIN_WINDOW_MS);
    // The 10 000 has left the window: the rate is from 9 000 at 30 s to 8 000 at 40 s.
    const estimate = drain.observe('a', 8_000, DRAIN_WINDOW_MS + 10_000);
    expect(estimate.eventsPerSecond).toBeCloseTo(100, 5);
    expect(drain.observe('b', 0, 1_000)).toEqual({ eventsPerSecond: null, etaSeconds: 0 });
  });
});
