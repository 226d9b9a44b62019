// The dashboard's 24-hour link timeline, from the stored state changes.
import { describe, expect, it } from 'vitest';
import { linkTimeline, timeInState } from '../../agent/operations/dashboard/link-timeline.js';
import { MetricHistory } from '../../agent/operations/dashboard/metric-history.js';

const H = 3_600_000;

describe('linkTimeline', () => {
  it('opens with the state in force at the window start and ends at the time asked for', () => {
    const segments = linkTimeline(
      [
        { atMs: -5 * H, state: 'streaming' },
        { atMs: 2 * H, state: 'backoff' },
        { atMs: 2 * H + 10_000, state: 'connecting' },
        { atMs: 2 * H + 11_000, state: 'streaming' },
      ],
      0,
      24 * H,
    );
    expect(segments).toEqual([
      { state: 'streaming', fromMs: 0, toMs: 2 * H },
      { state: 'backoff', fromMs: 2 * H, toMs: 2 * H + 10_000 },
      { state: 'connecting', fromMs: 2 * H + 10_000, toMs: 2 * H + 11_000 },
      { state: 'streaming', fromMs: 2 * H + 11_000, toMs: 24 * H },
    ]);
    expect(timeInState(segments).backoff).toBe(10_000);
  });

  it('shows what it does not know as unknown, and a stopped agent as closed', () => {
    expect(
      linkTimeline(
        [
          { atMs: 20 * H, state: 'connecting' },
          { atMs: 20 * H + 500, state: 'streaming' },
          { atMs: 22 * H, state: 'closed' },
          { atMs: 23 * H, state: 'connecting' },
        ],
        0,
        24 * H,
      ).map((s) => s.state),
    ).toEqual(['unknown', 'connecting', 'streaming', 'closed', 'connecting']);
  });

  it('merges repeated changes into the same state', () => {
    const segments = linkTimeline(
      [
        { atMs: H, state: 'streaming' },
        { atMs: 2 * H, state: 'streaming' },
      ],
      0,
      3 * H,
    );
    expect(segments).toEqual([
      { state: 'unknown', fromMs: 0, toMs: H },
      { state: 'streaming', fromMs: H, toMs: 3 * H },
    ]);
  });
});

describe('MetricHistory', () => {
  it('keeps the span asked for and gives columns with gaps for feeds that came later', () => {
    const history = new MetricHistory(10_000);
    const point = (atMs: number, feeds: string[]) => ({
      atMs,
      feeds: Object.fromEntries(feeds.map((f) => [f, { backlogEvents: atMs, backlogBytes: 0, lagSeconds: 0, inPerSecond: 1, outPerSecond: 1 }])),
      host: { cpuPercent: 5, memoryPercent: 50 },
    });
    for (let t = 0; t <= 20_000; t += 1000) history.add(point(t, t < 15_000 ? ['clinical'] : ['clinical', 'bulk']));
    const series = history.series();
    expect(series.t).toEqual(Array.from({ length: 11 }, (_, i) => 10 + i));
    expect(series.feeds.clinical!.backlogEvents[0]).toBe(10_000);
    expect(series.feeds.bulk!.backlogEvents.slice(0, 6)).toEqual([null, null, null, null, null, 15_000]);
  });
});
