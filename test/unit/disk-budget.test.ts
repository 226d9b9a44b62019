import { describe, expect, it } from 'vitest';
import {
  DiskBudget,
  describeDiskPressure,
  nextDiskState,
  slopePerSecond,
  usedPercentOf,
  type DiskBudgetSample,
  type DiskState,
  type DiskThresholds,
  type DiskUsage,
} from '../../agent/health/disk-budget.js';

const GB = 1e9;
const thresholds: DiskThresholds = { warnAtPercent: 80, criticalAtPercent: 95, hysteresisPercent: 2 };

/** A 100 GB filesystem at `percent` used. */
const at = (percent: number): DiskUsage => ({ totalBytes: 100 * GB, usedBytes: percent * GB, freeBytes: (100 - percent) * GB });

/** Walks the state through a series of used percentages. */
function walk(percents: number[], t: DiskThresholds = thresholds): DiskState[] {
  let state: DiskState = 'ok';
  return percents.map((p) => (state = nextDiskState(state, at(p), t)));
}

describe('disk budget states', () => {
  it('is ok below warning, warning from warnAtPercent, critical from criticalAtPercent', () => {
    expect(walk([50])).toEqual(['ok']);
    expect(nextDiskState('ok', at(80), thresholds)).toBe('warning');
    expect(nextDiskState('ok', at(95), thresholds)).toBe('critical');
  });

  it('goes straight from ok to critical on a sudden fill, and back to ok once clear of both thresholds', () => {
    expect(walk([10, 99, 10])).toEqual(['ok', 'critical', 'ok']);
  });

  it('does not flap at a threshold: leaving a state needs the reading to clear it by the hysteresis margin', () => {
    // Readings jittering around 95 %: once critical, it stays critical until below 93 %.
    expect(walk([94.9, 95.0, 94.9, 94.0, 93.1, 92.9, 95.0])).toEqual(['warning', 'critical', 'critical', 'critical', 'critical', 'warning', 'critical']);
    // The same around 80 %.
    expect(walk([79.9, 80.0, 79.5, 78.1, 77.9])).toEqual(['ok', 'warning', 'warning', 'warning', 'ok']);
  });

  it('with no hysteresis follows the thresholds exactly', () => {
    expect(walk([95, 94.9, 80, 79.9], { ...thresholds, hysteresisPercent: 0 })).toEqual(['critical', 'warning', 'warning', 'ok']);
  });

  it('turns warning / critical on free bytes alone, whatever the percentage', () => {
    const t: DiskThresholds = { ...thresholds, warnAtFreeBytes: 25 * GB, criticalAtFreeBytes: 10 * GB };
    expect(nextDiskState('ok', at(76), t)).toBe('warning'); // 24 GB free; 76 % alone would be ok
    expect(nextDiskState('ok', at(91), t)).toBe('critical'); // 9 GB free; 91 % alone would be warning
    expect(describeDiskPressure('critical', at(91), t)).toBe('9.00 GB free (threshold 10.00 GB)');
    // Hysteresis on bytes is the same share of the filesystem: 2 % of 100 GB = 2 GB above the threshold.
    expect(nextDiskState('critical', at(89), t)).toBe('critical');
    expect(nextDiskState('critical', at(87.9), t)).toBe('warning');
  });

  it('measures used percent as df does: used / (used + free), reserved blocks left out', () => {
    expect(usedPercentOf({ totalBytes: 100, usedBytes: 90, freeBytes: 5 })).toBeCloseTo(94.74, 2);
  });

  it('says which threshold holds the state, in words an operator reads', () => {
    expect(describeDiskPressure('critical', at(96.1), thresholds)).toBe('96.1% used (threshold 95%)');
    expect(describeDiskPressure('warning', at(85), thresholds)).toBe('85.0% used (threshold 80%)');
    expect(describeDiskPressure('ok', at(10), thresholds)).toBeNull();
  });
});

describe('disk budget forecast', () => {
  const sample = (atSeconds: number, percent: number, journalBytes = 0): DiskBudgetSample => ({ ...at(percent), atMs: 1_700_000_000_000 + atSeconds * 1000, journalBytes });

  it('fits a least-squares slope', () => {
    expect(slopePerSecond([{ atMs: 0, value: 0 }, { atMs: 1000, value: 10 }, { atMs: 2000, value: 20 }])).toBeCloseTo(10);
    expect(slopePerSecond([{ atMs: 0, value: 0 }, { atMs: 1000, value: 10 }])).toBeNull();
    expect(slopePerSecond([{ atMs: 5, value: 0 }, { atMs: 5, value: 1 }, { atMs: 5, value: 2 }])).toBeNull();
  });

  it('forecasts time to full and to critical from the growth rate', () => {
    const budget = new DiskBudget({ thresholds });
    // 1 GB per minute, from 50 % used.
    budget.observe(sample(0, 50));
    budget.observe(sample(60, 51));
    const a = budget.observe(sample(120, 52, 7));
    expect(a.state).toBe('ok');
    expect(a.growthBytesPerSecond).toBeCloseTo(GB / 60, 0);
    expect(a.forecastFullInSeconds).toBeCloseTo(48 * 60, 0); // 48 GB left
    expect(a.forecastCriticalInSeconds).toBeCloseTo(43 * 60, 0); // critical at 95 %: 43 GB away
  });

  it('has no forecast from less than a minute of samples: a burst is not a trend', () => {
    const budget = new DiskBudget({ thresholds });
    budget.observe(sample(0, 50));
    budget.observe(sample(10, 55));
    expect(budget.observe(sample(20, 60)).forecastFullInSeconds).toBeNull();
    expect(budget.observe(sample(60, 61)).forecastFullInSeconds).not.toBeNull();
  });

  it('has no forecast while the disk is not filling, or before there are enough samples', () => {
    const budget = new DiskBudget({ thresholds });
    expect(budget.observe(sample(0, 50)).forecastFullInSeconds).toBeNull();
    expect(budget.observe(sample(10, 50)).forecastFullInSeconds).toBeNull();
    expect(budget.observe(sample(20, 50)).forecastFullInSeconds).toBeNull();
    const shrinking = budget.observe(sample(30, 40));
    expect(shrinking.growthBytesPerSecond).toBeNull();
    expect(shrinking.forecastFullInSeconds).toBeNull();
  });

  it('fits only the window: an old burst does not colour today’s rate', () => {
    const budget = new DiskBudget({ thresholds, forecastWindowMs: 60_000, minForecastSpanMs: 0 });
    budget.observe(sample(0, 10));
    budget.observe(sample(10, 40)); // a burst, long ago
    for (let s = 1000; s <= 1060; s += 10) budget.observe(sample(s, 40));
    expect(budget.observe(sample(1070, 40)).growthBytesPerSecond).toBeNull();
  });

  it('starts the window afresh when the filesystem changes size', () => {
    const budget = new DiskBudget({ thresholds });
    budget.observe(sample(0, 10));
    budget.observe(sample(10, 20));
    const resized = budget.observe({ ...sample(20, 30), totalBytes: 200 * GB });
    expect(resized.growthBytesPerSecond).toBeNull();
  });

  it('reports the journal’s own growth beside the disk’s, and 0 s to critical once critical', () => {
    const budget = new DiskBudget({ thresholds, minForecastSpanMs: 0 });
    budget.observe(sample(0, 90, 0));
    budget.observe(sample(10, 93, 1_000_000));
    const a = budget.observe(sample(20, 96, 2_000_000));
    expect(a.state).toBe('critical');
    expect(a.previousState).toBe('warning');
    expect(a.journalGrowthBytesPerSecond).toBeCloseTo(100_000, 0);
    expect(a.forecastCriticalInSeconds).toBe(0);
    expect(a.reason).toBe('96.0% used (threshold 95%)');
  });
});
