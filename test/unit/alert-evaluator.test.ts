// The alert rules on simulated agent status: one alert per state change for
// each condition the issue names, never a storm, and restarts that neither
// repeat nor forget.
import { describe, expect, it } from 'vitest';
import { AlertEvaluator, AlertsConfigSchema, feedLagExceeded, type AlertInputs, type AlertRecord } from '../../agent/operations/alerts/index.js';

const T0 = Date.parse('2026-11-21T08:00:00Z');

const config = AlertsConfigSchema.parse({
  linkLostAfter: '30s',
  settleAfter: '60s',
  lag: '5m',
  backlogAge: '1h',
  feeds: { bulk: { lag: '2h' } },
  quietPeriods: { lis: '15m' },
});

function inputs(over: Partial<{ link: string; lag: number; age: number | null; blocked: string | null; paused: boolean; disk: 'ok' | 'warning' | 'critical'; lastMessageAtMs: number | null }> = {}): AlertInputs {
  const lag = over.lag ?? 0;
  return {
    links: [{ relay: 'cloud', state: over.link ?? 'streaming', sinceMs: T0, lastError: over.link && over.link !== 'streaming' ? 'connect ECONNREFUSED 10.0.0.7:7443' : null }],
    feeds: [{ feed: 'clinical', lagSeconds: lag, backlog: { events: lag > 0 ? 1234 : 0, oldestAgeSeconds: over.age === undefined ? (lag > 0 ? lag : null) : over.age }, blocked: over.blocked ?? null, paused: over.paused }],
    sources: [{ name: 'lis', lastMessageAtMs: over.lastMessageAtMs === undefined ? T0 : over.lastMessageAtMs }, { name: 'http', lastMessageAtMs: null }],
    disk: { path: '/var/lib/wardline', state: over.disk ?? 'ok', usedPercent: over.disk === 'critical' ? 96.1 : over.disk === 'warning' ? 82 : 40, reason: over.disk && over.disk !== 'ok' ? '96.1% used (threshold 95%)' : null, forecastFullInSeconds: null },
  };
}

/** Evaluates a status per second from T0 (`at(i)` gives the inputs for second i); returns every alert. */
function simulate(evaluator: AlertEvaluator, seconds: number, at: (i: number, nowMs: number) => AlertInputs): AlertRecord[] {
  const alerts: AlertRecord[] = [];
  for (let i = 0; i < seconds; i++) alerts.push(...evaluator.evaluate(at(i, T0 + i * 1000), T0 + i * 1000));
  return alerts;
}

const summary = (alerts: AlertRecord[]) => alerts.map((a) => `${a.rule}:${a.subject} ${a.state} ${a.severity}`);

describe('AlertEvaluator', () => {
  it('says nothing while everything is fine', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    expect(simulate(evaluator, 600, (_, now) => inputs({ lastMessageAtMs: now }))).toEqual([]);
  });

  it('raises "link lost" once after linkLostAfter and "restored" once after settleAfter', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    const alerts = simulate(evaluator, 600, (i, now) => inputs({ link: i >= 10 && i < 300 ? (i % 7 === 0 ? 'connecting' : 'backoff') : 'streaming', lastMessageAtMs: now }));
    expect(summary(alerts)).toEqual(['link:cloud firing critical', 'link:cloud resolved info']);
    expect(alerts[0]!.atMs - T0).toBe(40_000);
    expect(alerts[0]!.message).toBe('link to relay cloud lost: backoff; last error: connect ECONNREFUSED 10.0.0.7:7443');
    expect(alerts[1]!.atMs - T0).toBe(360_000);
    expect(alerts[1]!.message).toBe('link to relay cloud restored');
  });

  it('raises one link alert for a line that flaps every few seconds for an hour, not a storm', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    // Streaming 4 s, down 3 s, over and over: what a carrier link with a bad port does.
    const alerts = simulate(evaluator, 3600 + 120, (i, now) => inputs({ link: i < 3600 && i % 7 >= 4 ? 'backoff' : 'streaming', lastMessageAtMs: now }));
    expect(summary(alerts)).toEqual(['link:cloud firing critical', 'link:cloud resolved info']);
  });

  it('ignores a reconnect that takes a few seconds', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    const alerts = simulate(evaluator, 300, (i, now) => inputs({ link: i >= 100 && i < 105 ? 'connecting' : 'streaming', lastMessageAtMs: now }));
    expect(alerts).toEqual([]);
  });

  it('raises lag above the threshold once, and resolves it only below the hysteresis band after settling', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    // Lag climbs past 300 s, hovers around the threshold (never under 240 s), then drains.
    const lagAt = (i: number) => (i < 400 ? i : i < 1000 ? 300 + (i % 2 === 0 ? 10 : -10) : i < 1100 ? 100 : 0);
    const alerts = simulate(evaluator, 1300, (i, now) => inputs({ lag: lagAt(i), age: 0, lastMessageAtMs: now }));
    expect(summary(alerts)).toEqual(['lag:clinical firing warning', 'lag:clinical resolved info']);
    expect(alerts[0]!.atMs - T0).toBe(300_000);
    expect(alerts[0]!.message).toBe('feed clinical is 5 min behind (threshold 5 min)');
    expect(alerts[1]!.atMs - T0).toBe(1060_000);
  });

  it('raises the backlog age alert at its own threshold', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    const alerts = simulate(evaluator, 200, (i, now) => inputs({ lag: 100, age: i < 100 ? 3000 + i * 10 : 0, lastMessageAtMs: now }));
    expect(summary(alerts)).toEqual(['backlog-age:clinical firing critical', 'backlog-age:clinical resolved info']);
    expect(alerts[0]!.value).toBe(3600);
    expect(alerts[0]!.threshold).toBe(3600);
    expect(alerts[0]!.details.backlogEvents).toBe(1234);
  });

  it('raises no lag alert for a feed an operator paused or the timetable holds back', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    expect(simulate(evaluator, 100, (_, now) => inputs({ lag: 5000, age: 5000, paused: true, lastMessageAtMs: now }))).toEqual([]);
    expect(simulate(evaluator, 100, (i, now) => inputs({ lag: 5000, age: 5000, blocked: 'bulk may send only during night', lastMessageAtMs: now + i * 0 }))).toEqual([]);
    expect(feedLagExceeded({ lagSeconds: 5000, blocked: null, paused: true }, 300)).toBe(false);
    expect(feedLagExceeded({ lagSeconds: 301, blocked: null }, 300)).toBe(true);
    expect(feedLagExceeded({ lagSeconds: 301, blocked: null }, null)).toBe(false);
  });

  it('uses a feed\'s own threshold', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    const bulk: AlertInputs = { ...inputs(), feeds: [{ feed: 'bulk', lagSeconds: 3600, backlog: { events: 10, oldestAgeSeconds: 10 }, blocked: null }] };
    expect(evaluator.evaluate(bulk, T0)).toEqual([]);
    expect(evaluator.evaluate({ ...bulk, feeds: [{ ...bulk.feeds[0]!, lagSeconds: 7200 }] }, T0 + 1000).map((a) => a.rule)).toEqual(['lag']);
  });

  it('says warning, then critical, then back, once each, for the disk', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    const diskAt = (i: number) => (i < 10 ? 'ok' : i < 20 ? 'warning' : i < 100 ? 'critical' : i < 200 ? 'warning' : 'ok');
    const alerts = simulate(evaluator, 400, (i, now) => inputs({ disk: diskAt(i), lastMessageAtMs: now }));
    expect(alerts.map((a) => `${a.previousLevel}->${a.level} ${a.severity}`)).toEqual(['0->1 warning', '1->2 critical', '2->1 warning', '1->0 info']);
    expect(alerts[1]!.message).toBe('disk holding /var/lib/wardline critical: 96.1% used (threshold 95%)');
  });

  it('raises a silent source after its quiet period, once, and resolves when it sends again', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    // lis sends every second for 10 min, falls silent for 30 min, then sends again.
    const last = (i: number, now: number) => (i < 600 ? now : i < 2400 ? T0 + 599_000 : now);
    const alerts = simulate(evaluator, 2600, (i, now) => inputs({ lastMessageAtMs: last(i, now) }));
    expect(summary(alerts)).toEqual(['source-silent:lis firing warning', 'source-silent:lis resolved info']);
    expect(alerts[0]!.atMs - T0).toBe(599_000 + 900_000);
    expect(alerts[0]!.message).toBe('source lis silent for 15 min (quiet period 15 min)');
    // "http" has no quiet period: never alerted on, however long it is silent.
    expect(alerts.every((a) => a.subject !== 'http')).toBe(true);
  });

  it('counts a source that never sent anything as silent since the agent started', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    const alerts = simulate(evaluator, 1000, () => inputs({ lastMessageAtMs: null }));
    expect(alerts.map((a) => a.atMs - T0)).toEqual([900_000]);
  });

  it('resumes from restored levels: no repeat for a condition still firing, a resolution for one that is not', () => {
    const restored = new Map([
      ['link:cloud', 1],
      ['lag:clinical', 1],
    ]);
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0, restoredLevels: restored });
    const alerts = simulate(evaluator, 200, (_, now) => inputs({ link: 'backoff', lag: 0, lastMessageAtMs: now }));
    expect(summary(alerts)).toEqual(['lag:clinical resolved info']);
    expect(evaluator.levelOf('link', 'cloud')).toBe(1);
  });

  it('says nothing when the agent stops (the link closes)', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0, restoredLevels: new Map([['link:cloud', 1]]) });
    expect(simulate(evaluator, 200, (_, now) => inputs({ link: 'closed', lastMessageAtMs: now }))).toEqual([]);
  });

  it('puts no patient data in an alert: names, figures and the link error only', () => {
    const evaluator = new AlertEvaluator({ config: { ...config, linkLostAfter: 0 }, watchingSinceMs: T0 });
    const [alert] = evaluator.evaluate(inputs({ link: 'backoff' }), T0);
    expect(Object.keys(alert!).sort()).toEqual(['atMs', 'details', 'id', 'level', 'message', 'previousLevel', 'rule', 'severity', 'state', 'subject', 'threshold', 'value']);
    expect(alert!.details).toEqual({ state: 'backoff', sinceMs: T0, lastError: 'connect ECONNREFUSED 10.0.0.7:7443' });
  });

  it('raises control-id-reused once per burst of reused control ids from a sender, naming it and the id, and resolves after settleAfter', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    const reuse = (count: number, controlId: string) => [{ sendingApplication: 'LIS', sendingFacility: 'LAB', controlId, count, seq: 40 + count, lastAtMs: T0 }];
    const alerts = simulate(evaluator, 300, (i, now) => {
      const base = inputs({ lastMessageAtMs: now });
      const count = i < 10 ? 0 : i < 20 ? 1 : 2;
      const sources = [{ ...base.sources[0]!, controlIdReuse: count === 0 ? [] : reuse(count, count === 1 ? 'LAB000101' : 'LAB000102') }];
      return { ...base, sources };
    });
    expect(summary(alerts)).toEqual(['control-id-reused:lis LIS|LAB firing critical', 'control-id-reused:lis LIS|LAB resolved info']);
    expect(alerts[0]!.atMs - T0).toBe(10_000);
    expect(alerts[0]!.message).toContain('reused control id LAB000101');
    expect(alerts[0]!.details).toMatchObject({ source: 'lis', sendingApplication: 'LIS', sendingFacility: 'LAB', controlId: 'LAB000101', seq: 41 });
    // The second reuse at 20 s keeps it raised; it resolves settleAfter (60 s) after that.
    expect(alerts[1]!.atMs - T0).toBe(81_000);
  });

  it('resolves and forgets a control-id-reused sender the listener no longer lists', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    const alerts = simulate(evaluator, 200, (i, now) => {
      const base = inputs({ lastMessageAtMs: now });
      const reuse = i < 5 ? [] : i < 10 ? [{ sendingApplication: `APP${i}`, sendingFacility: 'X', controlId: 'C1', count: 1, seq: i }] : [];
      return { ...base, sources: [{ ...base.sources[0]!, controlIdReuse: reuse }] };
    });
    // Five senders, each listed for one sample: each raised once and resolved settleAfter later.
    expect(alerts.filter((a) => a.state === 'firing').map((a) => a.subject)).toEqual(['lis APP5|X', 'lis APP6|X', 'lis APP7|X', 'lis APP8|X', 'lis APP9|X']);
    expect(alerts.filter((a) => a.state === 'resolved')).toHaveLength(5);
    expect(evaluator.levelOf('control-id-reused', 'lis APP5|X')).toBe(0);
  });

  it('raises feed-integrity at once while the relay holds a feed beyond the journal head, and resolves it after settleAfter', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    const incident = { relayMarkSeq: Number.MAX_SAFE_INTEGER, journalHeadSeq: 120, ackedSeq: 100, reason: 'the relay holds feed clinical up to seq …' };
    const alerts = simulate(evaluator, 200, (i, now) => {
      const base = inputs({ lastMessageAtMs: now });
      return { ...base, feeds: [{ ...base.feeds[0]!, integrity: i >= 5 && i < 100 ? incident : null }] };
    });
    expect(summary(alerts)).toEqual(['feed-integrity:clinical firing critical', 'feed-integrity:clinical resolved info']);
    expect(alerts[0]!.atMs - T0).toBe(5_000);
    expect(alerts[0]!).toMatchObject({ value: null, threshold: null, details: { relayMarkSeq: Number.MAX_SAFE_INTEGER, journalHeadSeq: 120, ackedSeq: 100 } });
    expect(alerts[0]!.message).toBe(`feed clinical stopped: the relay holds it up to seq ${Number.MAX_SAFE_INTEGER}, beyond the journal head 120; its next events would be dropped`);
    expect(alerts[1]!.atMs - T0).toBe(160_000);
  });

  it('does not count the start-up connect as the start of a later drop: a 2 s cut 35 s after start raises nothing', () => {
    for (const startupSeconds of [1, 20]) {
      const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
      const alerts = simulate(evaluator, 200, (i, now) =>
        inputs({ link: i < startupSeconds ? 'connecting' : i >= 35 && i < 37 ? 'backoff' : 'streaming', lastMessageAtMs: now }),
      );
      expect(summary(alerts), `start-up connect of ${startupSeconds} s`).toEqual([]);
    }
  });

  it('still raises a drop that lasts linkLostAfter soon after start, counted from the drop', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    const alerts = simulate(evaluator, 200, (i, now) => inputs({ link: i < 1 ? 'connecting' : i >= 35 && i < 100 ? 'backoff' : 'streaming', lastMessageAtMs: now }));
    expect(summary(alerts)[0]).toBe('link:cloud firing critical');
    expect(alerts[0]!.atMs - T0).toBe(65_000);
  });

  it('raises a link that never came up after linkLostAfter from the start', () => {
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0 });
    const alerts = simulate(evaluator, 60, (_, now) => inputs({ link: 'connecting', lastMessageAtMs: now }));
    expect(summary(alerts)).toEqual(['link:cloud firing critical']);
    expect(alerts[0]!.atMs - T0).toBe(30_000);
  });
});

