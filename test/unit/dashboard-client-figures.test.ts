// The dashboard's pure client parts: counts with their noun, the throughput
// axis that a drain spike does not flatten, and when a feed is "catching up".
import { beforeAll, describe, expect, it } from 'vitest';

type Format = typeof import('../../agent/operations/dashboard/client/format.js');
let format: Format;

beforeAll(async () => {
  // i18n.js reads the page's ?lang= when loaded; a node test has no page.
  Object.assign(globalThis, { location: { search: '?lang=en' } });
  format = await import('../../agent/operations/dashboard/client/format.js');
});

describe('counts and durations as the page shows them', () => {
  it('says "1 event", never "1 events"', () => {
    expect(format.events(1)).toBe('1 event');
    expect(format.events(0)).toBe('0 events');
    expect(format.events(12_345)).toBe('12,345 events');
  });

  it('shows tiny and huge rates without exponents', () => {
    expect(format.bitRate(3.13e-8)).toBe('0 bit/s');
    expect(format.bytes(3.13e-8)).toBe('0 B');
    expect(format.duration(150)).toBe('3 min');
  });
});

describe('the throughput axis', () => {
  it('fits normal flow and clips a drain spike', async () => {
    const { clippedTop } = await import('../../agent/operations/dashboard/client/chart-scale.js');
    const steady = Array.from({ length: 600 }, (_, i) => 20 + (i % 5));
    expect(clippedTop([steady, steady])).toBeCloseTo(24 * 1.1, 5);
    // A minute of 5 000 a second after a cut, in half an hour of 20 a second.
    const drained = [...steady.slice(0, 1_740), ...Array.from({ length: 60 }, () => 5_000)];
    const withSpike = Array.from({ length: 1_800 }, (_, i) => drained[i] ?? 20);
    const top = clippedTop([withSpike, [null, null]]);
    expect(top).toBeLessThan(100);
    expect(top).toBeGreaterThan(24);
    expect(clippedTop([[], [null]])).toBe(5);
  });
});

describe('catching up', () => {
  it('is a backlog older than normal flow, on a feed that may send', async () => {
    const { isCatchingUp, longestCatchUp, CATCHING_UP_AFTER_SECONDS } = await import('../../agent/operations/dashboard/client/catch-up.js');
    const feed = (events: number, oldestAgeSeconds: number | null, extra: object = {}) => ({
      backlog: { events, oldestAgeSeconds },
      paused: false,
      blocked: null,
      etaSeconds: 30,
      drain: { eventsPerSecond: 50, etaSeconds: 12 },
      ...extra,
    });
    expect(isCatchingUp(feed(3, 0.2))).toBe(false); // in flight, normal flow
    expect(isCatchingUp(feed(4_000, CATCHING_UP_AFTER_SECONDS + 1))).toBe(true);
    expect(isCatchingUp(feed(4_000, 60, { paused: true }))).toBe(false);
    expect(isCatchingUp(feed(4_000, 60, { blocked: 'timetable' }))).toBe(false);
    expect(longestCatchUp([feed(1, 60), feed(1, 60, { drain: { eventsPerSecond: 1, etaSeconds: 40 } })])).toBe(40);
    // The send rate's estimate while the drain rate is not known yet; unknown when neither is.
    expect(longestCatchUp([feed(1, 60, { drain: { eventsPerSecond: null, etaSeconds: null } })])).toBe(30);
    expect(longestCatchUp([feed(1, 60, { drain: { eventsPerSecond: null, etaSeconds: null }, etaSeconds: null })])).toBeNull();
  });
});
