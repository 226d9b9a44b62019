// A database source as `wardline agent status` prints it (one line: state, lag,
// rows/s, retained of its budget, then snapshot progress or the reason), and as
// GET /v1/status serves it: the capture object passed through unchanged, with no
// quiet period unless alerts.quietPeriods names the source. The dashboard's words
// for the four capture alerts, in English and Chinese.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { captureLine } from '../../cli/agent-status-command.js';
import { createStatusProvider, type AgentStatusInputs } from '../../agent/operations/agent-status.js';
import { sourceReadiness } from '../../agent/operations/operations.js';
import { captureSourceStatus, initialCaptureStatus, type CaptureStatus, type SourceStatus } from '../../agent/sources/index.js';

const GiB = 1024 ** 3;
const base = initialCaptureStatus();

describe('wardline agent status: a database source line', () => {
  it('prints each state with lag, rows/s and retained', () => {
    expect(captureLine('his', 'postgres', base)).toBe('  his              postgres starting     lag -  rows/s 0  retained -');
    expect(
      captureLine('his', 'postgres', { ...base, state: 'streaming', lagMs: 38, rowsPerSecond: 1987.4, retained: { bytes: 512 * 1024 ** 2, budgetBytes: 20 * GiB, status: 'reserved', secondsToBudget: null } }),
    ).toBe('  his              postgres streaming    lag 0.04 s  rows/s 1987  retained 512.0 MiB of 20.0 GiB (2.5%)');
    expect(captureLine('lis-db', 'mysql', { ...base, state: 'lagging', lagMs: 90_000, rowsPerSecond: 2.25, retained: { bytes: 3 * GiB, budgetBytes: 4 * GiB, status: 'mysql-bin.000042', secondsToBudget: 7_200 } })).toBe(
      '  lis-db           mysql    lagging      lag 90 s  rows/s 2.3  retained 3.0 GiB of 4.0 GiB (75.0%, budget reached in 2.0 h)',
    );
    expect(captureLine('his', 'postgres', { ...base, state: 'snapshotting', snapshot: { table: 'his.patients', rowsCopied: 420_000, rowsEstimated: 1_000_000, percent: 42, tablesDone: 1, tablesTotal: 3 } })).toBe(
      '  his              postgres snapshotting lag -  rows/s 0  retained -  42.0% table his.patients 420000 rows',
    );
    for (const state of ['paused', 'retrying', 'stopped'] as const) {
      expect(captureLine('his', 'postgres', { ...base, state, reason: 'why and the fix' })).toMatch(new RegExp(`^ {2}his +postgres ${state} +lag - {2}rows/s 0 {2}retained - {2}why and the fix$`));
    }
  });
});

describe('GET /v1/status: a database source', () => {
  function provider(sources: SourceStatus[], quiet: Record<string, number> = {}) {
    const inputs = {
      hospital: { id: 'h', name: '' },
      agentId: 'a',
      version: '0.0.0',
      startedAtMs: 0,
      journal: { head: 0, pendingAppends: 0, groupCommitStats: { groups: 0, requests: 0 } },
      backlog: { backlog: () => ({ events: 0, bytes: 0, oldestTsMs: null }) },
      replicators: () => [],
      sources: () => sources,
      thresholds: { lagSeconds: () => null, quietPeriodSeconds: (s: string) => quiet[s] ?? null },
    } as unknown as AgentStatusInputs;
    return createStatusProvider(inputs);
  }

  it('carries the capture status as the source built it, with no quiet period of its own', () => {
    const capture: CaptureStatus = {
      ...base,
      state: 'snapshotting',
      position: '0/16B3748',
      schemaVersion: 4,
      snapshot: { table: 'visits', rowsCopied: 5, rowsEstimated: 10, percent: 50, tablesDone: 0, tablesTotal: 1 },
      lagMs: 12,
      rowsPerSecond: 3,
      transactions: 7,
      retained: { bytes: 1, budgetBytes: 2, status: 'reserved', secondsToBudget: 60 },
      lastError: { atMs: 5, message: 'x' },
    };
    const source = captureSourceStatus('his', 'postgres', { received: 9, acknowledged: 9, rejected: 0, lastMessageAtMs: 3 }, capture);
    const served = provider([source])().sources[0]!;
    expect(served.capture).toEqual(capture);
    expect(served.quietPeriodSeconds).toBeNull();
    expect(JSON.parse(JSON.stringify(served)).capture).toEqual(capture);
    expect(provider([source], { his: 900 })().sources[0]!.quietPeriodSeconds).toBe(900);
  });
});

describe('/readyz: a database source', () => {
  it('is ready while it captures (snapshotting, streaming, lagging, paused by the disk), not while starting, retrying or stopped', () => {
    const of = (capture: Partial<CaptureStatus>) => sourceReadiness(captureSourceStatus('his', 'postgres', { received: 0, acknowledged: 0, rejected: 0, lastMessageAtMs: null }, { ...base, ...capture }));
    for (const state of ['snapshotting', 'streaming', 'lagging', 'paused'] as const) expect(of({ state })).toBeNull();
    expect(of({})).toBe('not capturing (starting)');
    expect(of({ state: 'retrying', reason: 'connect ECONNREFUSED 127.0.0.1:5432' })).toBe('not capturing (retrying: connect ECONNREFUSED 127.0.0.1:5432)');
    expect(of({ state: 'stopped', reason: 'no publication' })).toBe('not capturing (stopped: no publication)');
    const mllp = { name: 'lis', kind: 'mllp', state: 'listening', received: 0, acknowledged: 0, rejected: 0, duplicates: 0, lastRejection: null, lastMessageAtMs: null } as SourceStatus;
    expect(sourceReadiness(mllp)).toBeNull();
    expect(sourceReadiness({ ...mllp, state: 'stopped' })).toBe('not listening (stopped)');
  });
});

describe('the dashboard words the capture alerts', () => {
  let alertText: (alert: object) => string;
  let setLanguage: (lang: string) => void;
  beforeAll(async () => {
    vi.stubGlobal('location', { search: '?lang=en' });
    vi.stubGlobal('localStorage', { getItem: () => null, setItem: () => undefined });
    vi.stubGlobal('navigator', { language: 'en' });
    vi.stubGlobal('document', { documentElement: {} });
    ({ alertText } = await import('../../agent/operations/dashboard/client/render-alerts.js'));
    ({ setLanguage } = await import('../../agent/operations/dashboard/client/i18n.js'));
  });
  const alert = (rule: string, level: number, value: number | null, details: object) => ({ rule, level, value, threshold: rule === 'capture-wal-budget' ? 50 : null, subject: 'his', message: 'english', details });

  it('in English and Chinese, with the reason, the lag, the lost position and the ETA', () => {
    setLanguage('en');
    expect(alertText(alert('capture-stopped', 1, null, { state: 'stopped', reason: 'no publication wardline_his' }))).toBe('Database source his stopped: no publication wardline_his');
    expect(alertText(alert('capture-lagging', 1, 42, {}))).toBe('Database source his lagging: the journal is 42 s behind the database');
    expect(alertText(alert('capture-position-lost', 1, null, { message: 'slot lost' }))).toBe('Database source his lost its position: taking a new snapshot (slot lost)');
    expect(alertText(alert('capture-wal-budget', 1, 62.5, { secondsToBudget: 9_000 }))).toBe('Database source his: the server retains 62.5 % of the WAL/binlog budget; used up in 2.5 h');
    expect(alertText(alert('capture-wal-budget', 0, 20, {}))).toBe('Database source his: retained WAL/binlog back under 50 % of the budget');
    setLanguage('zh');
    expect(alertText(alert('capture-stopped', 1, null, { reason: 'r' }))).toBe('数据库来源 his 已停止采集：r');
    expect(alertText(alert('capture-wal-budget', 1, 62.5, { secondsToBudget: 9_000 }))).toBe('数据库来源 his：数据库保留的 WAL/binlog 已达上限的 62.5 %；约 2.5 小时后用尽');
    expect(alertText(alert('capture-lagging', 0, 1, {}))).toBe('数据库来源 his 已追平');
    setLanguage('en');
  });
});
