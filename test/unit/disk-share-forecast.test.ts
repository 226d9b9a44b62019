// The disk forecast from Wardline's own share, smoothed, and the badge beside it.
import { describe, expect, it } from 'vitest';
import { DiskShareForecast, MIN_SHARE_SPAN_MS } from '../../agent/operations/disk-share-forecast.js';
import { diskBadge, FILLING_SOON_SECONDS } from '../../agent/operations/dashboard/client/disk-badge.js';

const GB = 1e9;

describe('DiskShareForecast', () => {
  it('forecasts from the journal growth, and a burst moves it only a little', () => {
    const forecast = new DiskShareForecast();
    let journal = 1 * GB;
    let last = forecast.observe(0, journal, 78 * GB);
    expect(last).toEqual({ growthBytesPerSecond: null, fullInSeconds: null });
    // 100 kB a second for ten minutes: 78 GB lasts about 9 days.
    for (let s = 1; s <= 600; s++) last = forecast.observe(s * 1000, (journal += 100_000), 78 * GB);
    expect(last.growthBytesPerSecond).toBeCloseTo(100_000, -2);
    const steady = last.fullInSeconds!;
    expect(steady / 86_400).toBeCloseTo(9, 0);
    // A 5 GB second (a drain's burst of rows, a bulk import) does not make it "full in hours".
    last = forecast.observe(601_000, (journal += 5 * GB), 73 * GB);
    for (let s = 602; s <= 660; s++) last = forecast.observe(s * 1000, (journal += 100_000), 73 * GB);
    expect(last.fullInSeconds!).toBeGreaterThan(3_600);
  });

  it('gives nothing before a minute of readings, and nothing while not growing', () => {
    const forecast = new DiskShareForecast();
    forecast.observe(0, GB, GB);
    expect(forecast.observe(MIN_SHARE_SPAN_MS - 1, GB + 10, GB).fullInSeconds).toBeNull();
    expect(forecast.observe(MIN_SHARE_SPAN_MS + 1_000, GB - 1_000, GB).fullInSeconds).toBeNull();
  });
});

describe('diskBadge', () => {
  it('never says OK beside "full in hours"', () => {
    expect(diskBadge('ok', 3 * 3600)).toBe('soon');
    expect(diskBadge('ok', FILLING_SOON_SECONDS * 2)).toBe('ok');
    expect(diskBadge('ok', null)).toBe('ok');
    expect(diskBadge('critical', 3600)).toBe('critical');
  });
});
