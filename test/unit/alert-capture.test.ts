// The alerts of database sources (postgres, mysql, sql-poll) on simulated
// CaptureStatus values: capture-stopped with the reason, capture-lagging,
// capture-position-lost (WL_A025) and capture-wal-budget at 50 % with the ETA,
// each once per state change, cleared when it no longer holds, in English and
// Chinese.
import { describe, expect, it } from 'vitest';
import { AlertEvaluator, AlertsConfigSchema, alertMessage, type AlertInputs, type AlertRecord, type CaptureAlertInput } from '../../agent/operations/alerts/index.js';
import type { CaptureStatus } from '../../agent/sources/index.js';

const T0 = Date.parse('2026-11-21T08:00:00Z');
const config = AlertsConfigSchema.parse({ settleAfter: '60s' });
const GiB = 1024 ** 3;

const streaming: CaptureStatus = {
  state: 'streaming',
  reason: null,
  position: '0/16B3748',
  schemaVersion: 1,
  snapshot: null,
  lagMs: 12,
  rowsPerSecond: 40,
  transactions: 1200,
  retained: { bytes: 16 * 1024 ** 2, budgetBytes: 4 * GiB, status: 'reserved', secondsToBudget: null },
  lastError: null,
};

function inputs(capture: Partial<CaptureAlertInput>): AlertInputs {
  return { links: [], feeds: [], disk: null, sources: [{ name: 'his', lastMessageAtMs: T0, capture: { ...streaming, ...capture } }, { name: 'lis', lastMessageAtMs: T0 }] };
}

/** One evaluation per second from T0; `at(i)` is the capture status at second i. */
function simulate(evaluator: AlertEvaluator, seconds: number, at: (i: number) => Partial<CaptureAlertInput>): AlertRecord[] {
  const alerts: AlertRecord[] = [];
  for (let i = 0; i < seconds; i++) alerts.push(...evaluator.evaluate(inputs(at(i)), T0 + i * 1000));
  return alerts;
}

const summary = (alerts: AlertRecord[]) => alerts.map((a) => `${a.rule}:${a.subject} ${a.state} ${a.severity}`);
const fresh = () => new AlertEvaluator({ config, watchingSinceMs: T0 });

describe('database source alerts', () => {
  it('say nothing while a source streams, snapshots or starts', () => {
    const states = ['starting', 'snapshotting', 'streaming'] as const;
    expect(simulate(fresh(), 600, (i) => ({ state: states[Math.floor(i / 200)]! }))).toEqual([]);
  });

  it('raise capture-stopped once with the reason, and resolve it once the source captures again', () => {
    const reason = 'source his: wal_level is replica; run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL';
    const alerts = simulate(fresh(), 300, (i) => (i >= 10 && i < 100 ? { state: 'stopped', reason } : { state: 'streaming' }));
    expect(summary(alerts)).toEqual(['capture-stopped:his firing critical', 'capture-stopped:his resolved info']);
    expect(alerts[0]!.atMs - T0).toBe(10_000);
    expect(alerts[0]!.message).toBe(`database source his stopped: ${reason}`);
    expect(alertMessage(alerts[0]!, 'zh')).toBe(`数据库来源 his 已停止采集：${reason}`);
    expect(alerts[1]!.atMs - T0).toBe(160_000);
  });

  it('raise capture-lagging once while the source says lagging, with the lag, and not for a lag that flaps', () => {
    // Lagging 3 s of every 5 for four minutes: one alert, not fifty.
    const alerts = simulate(fresh(), 400, (i) => (i < 240 && i % 5 < 3 ? { state: 'lagging', lagMs: 42_000 } : { state: 'streaming', lagMs: 30 }));
    expect(summary(alerts)).toEqual(['capture-lagging:his firing warning', 'capture-lagging:his resolved info']);
    expect(alerts[0]!.value).toBe(42);
    expect(alerts[0]!.message).toBe('database source his lagging: the journal is 42 s behind the database\'s commits');
    expect(alertMessage(alerts[0]!, 'zh')).toBe('数据库来源 his 采集延迟：本地数据日志落后数据库提交 42 秒');
  });

  it('raise capture-position-lost on a WL_A025 error, hold it through the re-snapshot, and resolve it once streaming', () => {
    const lost = { atMs: T0 + 5_000, message: '[WL_A025] source his: replication slot wardline_his is lost (wal_status lost); taking a new snapshot' };
    const alerts = simulate(fresh(), 400, (i) =>
      i < 5 ? {} : i < 120 ? { state: 'snapshotting', lastError: lost } : { state: 'streaming', lastError: lost },
    );
    expect(summary(alerts)).toEqual(['capture-position-lost:his firing critical', 'capture-position-lost:his resolved info']);
    expect(alerts[0]!.atMs - T0).toBe(5_000);
    expect(alerts[0]!.message).toContain('lost its position');
    expect(alerts[0]!.message).toContain('wardline_his is lost');
    expect(alerts[1]!.atMs - T0).toBe(180_000);
  });

  it('raise capture-position-lost for a loss whose re-snapshot ended between two evaluations, and again for the next loss', () => {
    const first = { atMs: T0 + 1, message: 'source his: binlog mysql-bin.000004 purged', code: 'WL_A025' };
    const second = { atMs: T0 + 200_000, message: 'source his: binlog mysql-bin.000009 purged', code: 'WL_A025' };
    const alerts = simulate(fresh(), 400, (i) => (i < 200 ? { lastError: first } : { lastError: second }));
    expect(summary(alerts)).toEqual([
      'capture-position-lost:his firing critical',
      'capture-position-lost:his resolved info',
      'capture-position-lost:his firing critical',
      'capture-position-lost:his resolved info',
    ]);
  });

  it('ignore errors other than a lost position', () => {
    const refused = { atMs: T0, message: 'connect ECONNREFUSED 127.0.0.1:5432' };
    expect(simulate(fresh(), 100, () => ({ state: 'retrying', reason: 'connect ECONNREFUSED 127.0.0.1:5432', lastError: refused }))).toEqual([]);
  });

  it('raise capture-wal-budget at 50 % of the budget with the ETA, once, and resolve it below the hysteresis band', () => {
    const retained = (fraction: number, secondsToBudget: number | null) => ({ retained: { bytes: Math.round(fraction * 4 * GiB), budgetBytes: 4 * GiB, status: 'reserved', secondsToBudget } });
    const alerts = simulate(fresh(), 500, (i) => {
      if (i < 100) return retained(0.2 + i * 0.0031, 7200); // climbing to 50.7 %
      if (i < 200) return retained(0.49 + (i % 2) * 0.02, 3600); // hovering at 50 %
      return retained(0.1, null); // the agent is back and confirmed its position
    });
    expect(summary(alerts)).toEqual(['capture-wal-budget:his firing warning', 'capture-wal-budget:his resolved info']);
    const raised = alerts[0]!;
    expect(raised.threshold).toBe(50);
    expect(raised.value).toBeGreaterThanOrEqual(50);
    expect(raised.details.secondsToBudget).toBe(7200);
    expect(raised.message).toMatch(/^database source his: the server retains 50\.\d% of the WAL\/binlog budget for it \(2\.0 GiB of 4\.0 GiB\); budget used up in about 2\.0 h;/);
    expect(alertMessage(raised, 'zh')).toContain('约 2.0 小时 后用尽');
    expect(alerts[1]!.atMs - T0).toBe(260_000);
  });

  it('raise no WAL-budget alert without a budget (max_slot_wal_keep_size = -1) or without a reading', () => {
    expect(simulate(fresh(), 60, () => ({ retained: { bytes: 50 * GiB, budgetBytes: null, status: 'reserved', secondsToBudget: null } }))).toEqual([]);
    expect(simulate(fresh(), 60, () => ({ retained: null }))).toEqual([]);
  });

  it('keep each source apart and resume from restored levels without repeating', () => {
    const restored = new Map([['capture-stopped:his', 1]]);
    const evaluator = new AlertEvaluator({ config, watchingSinceMs: T0, restoredLevels: restored });
    expect(simulate(evaluator, 100, () => ({ state: 'stopped', reason: 'still broken' }))).toEqual([]);
    const resolved = simulate(evaluator, 100, () => ({ state: 'streaming' }));
    expect(summary(resolved)).toEqual(['capture-stopped:his resolved info']);
  });
});
