// The debounce under every alert: one report when trouble starts, one when it
// has really ended, nothing while it flaps.
import { describe, expect, it } from 'vitest';
import { DebouncedLevel, type LevelChange } from '../../agent/operations/alerts/index.js';

/** Feeds `levels` one per `stepMs` from t = 0; returns every change reported. */
function run(level: DebouncedLevel, levels: number[], stepMs = 1000): LevelChange[] {
  const changes: LevelChange[] = [];
  levels.forEach((l, i) => {
    const change = level.observe(l, i * stepMs);
    if (change) changes.push(change);
  });
  return changes;
}

const seconds = (n: number, level: number) => new Array<number>(n).fill(level);

describe('DebouncedLevel', () => {
  it('reports a rise once it has lasted raiseAfterMs, and the fall once calm for clearAfterMs', () => {
    const level = new DebouncedLevel({ raiseAfterMs: 10_000, clearAfterMs: 30_000 });
    const changes = run(level, [...seconds(5, 0), ...seconds(60, 1), ...seconds(60, 0)]);
    expect(changes).toEqual([
      { from: 0, to: 1, atMs: 15_000 },
      { from: 1, to: 0, atMs: 95_000 },
    ]);
  });

  it('ignores a blip shorter than raiseAfterMs', () => {
    const level = new DebouncedLevel({ raiseAfterMs: 10_000, clearAfterMs: 30_000 });
    expect(run(level, [...seconds(5, 0), ...seconds(3, 1), ...seconds(120, 0)])).toEqual([]);
    expect(level.level).toBe(0);
  });

  it('raises once, not never and not every time, for a condition flapping every second for an hour', () => {
    const level = new DebouncedLevel({ raiseAfterMs: 10_000, clearAfterMs: 30_000 });
    const flapping = Array.from({ length: 3600 }, (_, i) => i % 2);
    const changes = run(level, [...flapping, ...seconds(120, 0)]);
    expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual(['0->1', '1->0']);
    // Raised about raiseAfterMs after the trouble began, resolved clearAfterMs after it ended.
    expect(changes[0]!.atMs).toBeLessThanOrEqual(12_000);
    expect(changes[1]!.atMs).toBe((3600 + 30) * 1000);
  });

  it('keeps a raised condition raised through short recoveries', () => {
    const level = new DebouncedLevel({ raiseAfterMs: 0, clearAfterMs: 30_000 });
    // Down 5 s, up 20 s, down 5 s, up 20 s …: never 30 s of calm.
    const pattern = Array.from({ length: 20 }, () => [...seconds(5, 1), ...seconds(20, 0)]).flat();
    const changes = run(level, [...pattern, ...seconds(40, 0)]);
    expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual(['0->1', '1->0']);
  });

  it('forgets a pending rise after clearAfterMs of calm, so blips far apart never add up', () => {
    const level = new DebouncedLevel({ raiseAfterMs: 10_000, clearAfterMs: 30_000 });
    const blip = [...seconds(3, 1), ...seconds(40, 0)];
    expect(run(level, [...blip, ...blip, ...blip, ...blip])).toEqual([]);
  });

  it('escalates and de-escalates one level at a time, landing on the highest level seen while calming', () => {
    const level = new DebouncedLevel({ raiseAfterMs: 0, clearAfterMs: 10_000 });
    const changes = run(level, [0, 1, 1, 2, 2, ...seconds(5, 1), ...seconds(10, 1), ...seconds(11, 0)]);
    expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual(['0->1', '1->2', '2->1', '1->0']);
  });

  it('starts from a restored level, so a restart neither repeats nor forgets an alert', () => {
    const stillDown = new DebouncedLevel({ raiseAfterMs: 0, clearAfterMs: 10_000 }, 1);
    expect(run(stillDown, seconds(30, 1))).toEqual([]);
    const recovered = new DebouncedLevel({ raiseAfterMs: 0, clearAfterMs: 10_000 }, 1);
    expect(run(recovered, seconds(30, 0)).map((c) => `${c.from}->${c.to}`)).toEqual(['1->0']);
  });

  it('reports at once with zero debounce times', () => {
    const level = new DebouncedLevel({ raiseAfterMs: 0, clearAfterMs: 0 });
    expect(run(level, [0, 1, 0, 1]).map((c) => `${c.from}->${c.to}`)).toEqual(['0->1', '1->0', '0->1']);
  });

  it('forgets a pending rise on request, leaving the reported level alone', () => {
    const level = new DebouncedLevel({ raiseAfterMs: 30_000, clearAfterMs: 60_000 });
    expect(level.observe(1, 0)).toBeNull();
    expect(level.observe(0, 1_000)).toBeNull();
    level.forgetPendingRise();
    // Without forgetting, this drop would be reported at once (rule 2: counted from 0).
    expect(level.observe(1, 35_000)).toBeNull();
    expect(level.observe(1, 64_999)).toBeNull();
    expect(level.observe(1, 65_000)).toEqual({ from: 0, to: 1, atMs: 65_000 });
    level.forgetPendingRise();
    expect(level.level).toBe(1);
  });
});
