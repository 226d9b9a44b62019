// The alerts of imaging feeds on simulated FeedStatus.imaging values:
// imaging-blocked follows the feed's problem (raised once when it appears,
// resolved once when it ends), imaging-stalled raises when bytes wait, the feed
// may send and no chunk byte moved for alerts.imagingStalledAfter, and never
// while the timetable or the operator holds the feed; in English and Chinese.
import { describe, expect, it } from 'vitest';
import { AlertEvaluator, AlertsConfigSchema, alertMessage, type AlertInputs, type AlertRecord, type ImagingAlertInput } from '../../agent/operations/alerts/index.js';

const T0 = Date.parse('2026-11-21T08:00:00Z');
const config = AlertsConfigSchema.parse({ settleAfter: '60s', imagingStalledAfter: '5m' });
const MiB = 1024 * 1024;

interface Moment {
  imaging?: Partial<ImagingAlertInput>;
  blocked?: string | null;
  paused?: boolean;
}

const base: ImagingAlertInput = { bytesWaiting: 800 * MiB, instancesWaiting: 200, chunksSent: 0, chunkBytesSent: 0, problem: null };

function inputs(m: Moment): AlertInputs {
  return {
    links: [],
    disk: null,
    sources: [],
    feeds: [{ feed: 'pacs', lagSeconds: 0, backlog: { events: 0, oldestAgeSeconds: 0 }, blocked: m.blocked ?? null, paused: m.paused ?? false, imaging: { ...base, ...m.imaging } }],
  };
}

/** One evaluation every 10 s from T0; `at(i)` is the feed at step i. */
function simulate(evaluator: AlertEvaluator, steps: number, at: (i: number) => Moment): AlertRecord[] {
  const alerts: AlertRecord[] = [];
  for (let i = 0; i < steps; i++) alerts.push(...evaluator.evaluate(inputs(at(i)), T0 + i * 10_000));
  return alerts;
}

const summary = (alerts: AlertRecord[]) => alerts.filter((a) => a.rule.startsWith('imaging-')).map((a) => `${a.rule}:${a.subject} ${a.state} ${a.severity}`);
const fresh = () => new AlertEvaluator({ config, watchingSinceMs: T0 });
/** Chunks moving: 4 MiB every step. */
const moving = (i: number): Partial<ImagingAlertInput> => ({ chunksSent: i, chunkBytesSent: i * 4 * MiB });

describe('imaging alerts', () => {
  it('say nothing while chunks move, or while nothing waits', () => {
    expect(summary(simulate(fresh(), 200, (i) => ({ imaging: i < 100 ? moving(i) : { bytesWaiting: 0, instancesWaiting: 0, chunksSent: 100 } })))).toEqual([]);
  });

  it('raise imaging-blocked once when a problem appears, and resolve it once when it ends', () => {
    const problem = { code: 'WL_A028', message: 'the relay cloud does not take blob transfer (no blob-v1 in its Welcome); upgrade the relay', sinceMs: T0 + 100_000 };
    // The message changes while it lasts (another offer refused): still one alert.
    const alerts = simulate(fresh(), 100, (i) => (i >= 10 && i < 50 ? { imaging: { problem: { ...problem, message: i < 30 ? problem.message : 'offer refused' } } } : { imaging: moving(i) }));
    expect(summary(alerts)).toEqual(['imaging-blocked:pacs firing warning', 'imaging-blocked:pacs resolved info']);
    const [firing, resolved] = alerts.filter((a) => a.rule === 'imaging-blocked');
    expect(firing!.atMs).toBe(T0 + 100_000);
    expect(firing!.details).toMatchObject({ code: 'WL_A028', sinceMs: T0 + 100_000 });
    expect(firing!.message).toBe(`imaging feed pacs: instances cannot ship (WL_A028): ${problem.message}; they stay in the archive`);
    expect(alertMessage(firing!, 'zh')).toBe(`影像推送 pacs：影像无法发送（WL_A028）：${problem.message}；影像仍保存在本地存档中`);
    // Resolved after settleAfter (60 s) of calm from step 50.
    expect(resolved!.atMs).toBe(T0 + 500_000 + 60_000);
    expect(resolved!.message).toBe('imaging feed pacs: instances ship again');
  });

  it('raise imaging-stalled once no chunk moved for imagingStalledAfter while the feed may send, and resolve it when chunks move', () => {
    // Chunks move for 10 steps, then stand still from step 10 (100 s) to step 60, then move again.
    const alerts = simulate(fresh(), 100, (i) => ({ imaging: moving(i < 10 ? i : i < 60 ? 10 : i - 50) }));
    expect(summary(alerts)).toEqual(['imaging-stalled:pacs firing warning', 'imaging-stalled:pacs resolved info']);
    const [firing] = alerts.filter((a) => a.rule === 'imaging-stalled');
    expect(firing!.atMs).toBe(T0 + 100_000 + 300_000);
    expect(firing!.value).toBe(300);
    expect(firing!.threshold).toBe(300);
    expect(firing!.message).toBe('imaging feed pacs stalled: no chunk sent for 5 min (threshold 5 min) while it may send, 800.0 MiB in 200 instances waiting');
    expect(alertMessage(firing!, 'zh')).toBe('影像推送 pacs 发送停滞：允许发送但 5 分钟 未发出任何数据块（阈值 5 分钟），800.0 MiB（200 个实例）待发送');
  });

  it('never call a feed stalled while the timetable, the operator or a problem holds it, and count from when it may send again', () => {
    const night = { blocked: 'may send only during bulk-night' };
    // Held back for 60 steps (10 min, twice the threshold), then allowed and still for 20 steps (200 s < 300 s).
    expect(summary(simulate(fresh(), 80, (i) => (i < 60 ? night : {})))).toEqual([]);
    expect(summary(simulate(fresh(), 80, (i) => (i < 60 ? { paused: true, blocked: 'paused by an operator' } : {})))).toEqual([]);
    // Allowed long enough afterwards: it does raise.
    expect(summary(simulate(fresh(), 100, (i) => (i < 60 ? night : {})))).toEqual(['imaging-stalled:pacs firing warning']);
    // A problem holds it: imaging-blocked, not also imaging-stalled.
    const problem = { code: 'WL_A026', message: 'chunk corrupt in the archive', sinceMs: T0 };
    expect(summary(simulate(fresh(), 100, () => ({ imaging: { problem } })))).toEqual(['imaging-blocked:pacs firing warning']);
  });
});
