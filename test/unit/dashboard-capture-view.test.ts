// The dashboard's card of a database source, from sample CaptureStatus values of
// every state (agent/operations/dashboard/client/capture-view.js): what it says in
// English and Chinese, how it is coloured, the retained WAL against its budget with
// the time to reach it, and that a status the page can no longer confirm is shown
// as "last known", never as now. The verdict line names a database source that is
// not capturing.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { captureSourceStatus, initialCaptureStatus, type CaptureStatus, type SourceStatus } from '../../agent/sources/index.js';

type View = {
  level: string;
  stateText: string;
  detail: string;
  lag: string;
  rows: string;
  transactions: string;
  retained: string;
  retainedDetail: string;
  retainedLevel: string;
  position: string;
  schemaVersion: string;
  lastError: string;
  snapshotPercent: number | null;
  kind: string;
};
let captureView: (source: SourceStatus, nowMs: number, reach?: { unreachableSinceMs: number } | null) => View;
let worstCapture: (sources: SourceStatus[]) => { key: string; vars: Record<string, string>; detail: string } | null;
let setLanguage: (lang: string) => void;
let verdict: (status: object, nowMs: number) => { level: string; title: string; detail: string };

// verdict.js reaches the charts, which import uPlot from the agent's asset path.
vi.mock('/assets/uplot/uPlot.esm.js', () => ({ default: class {} }));

const NOW = Date.parse('2026-11-21T08:00:00Z');
const GiB = 1024 ** 3;

beforeAll(async () => {
  vi.stubGlobal('location', { search: '?lang=en' });
  vi.stubGlobal('localStorage', { getItem: () => null, setItem: () => undefined });
  vi.stubGlobal('navigator', { language: 'en' });
  vi.stubGlobal('document', { documentElement: {} });
  ({ captureView, worstCapture } = await import('../../agent/operations/dashboard/client/capture-view.js'));
  ({ setLanguage } = await import('../../agent/operations/dashboard/client/i18n.js'));
  ({ verdict } = await import('../../agent/operations/dashboard/client/verdict.js'));
});

function source(capture: Partial<CaptureStatus>, kind: SourceStatus['kind'] = 'postgres'): SourceStatus {
  return captureSourceStatus('his', kind, { received: 0, acknowledged: 0, rejected: 0, lastMessageAtMs: null }, { ...initialCaptureStatus(), ...capture });
}

const streaming: Partial<CaptureStatus> = {
  state: 'streaming',
  position: '0/16B3748',
  schemaVersion: 2,
  lagMs: 38,
  rowsPerSecond: 1987.4,
  transactions: 123_456,
  retained: { bytes: 512 * 1024 ** 2, budgetBytes: 4 * GiB, status: 'reserved', secondsToBudget: null },
};

describe('a database source card', () => {
  it('starting: blue, connecting and checking, nothing known yet', () => {
    setLanguage('en');
    const v = captureView(source({}), NOW);
    expect([v.level, v.stateText, v.detail, v.kind]).toEqual(['busy', 'Starting', "Connecting and checking the server's settings", 'PostgreSQL']);
    expect([v.lag, v.retained, v.position, v.schemaVersion, v.lastError]).toEqual(['not known yet', 'not known yet', 'none', 'none', 'none']);
    expect(v.retainedDetail).toBe('');
  });

  it('snapshotting: blue, n % with the table and the rows, and the progress bar', () => {
    const v = captureView(source({ state: 'snapshotting', snapshot: { table: 'his.patients', rowsCopied: 420_000, rowsEstimated: 1_000_000, percent: 42, tablesDone: 1, tablesTotal: 3 } }), NOW);
    expect(v.level).toBe('busy');
    expect(v.stateText).toBe('Snapshotting');
    expect(v.detail).toBe('42.0 % · table his.patients · 420,000 of about 1,000,000 rows (1 of 3 tables done)');
    expect(v.snapshotPercent).toBe(42);
    const unknown = captureView(source({ state: 'snapshotting', snapshot: { table: 'visits', rowsCopied: 10, rowsEstimated: null, percent: null, tablesDone: 0, tablesTotal: 2 } }), NOW);
    expect(unknown.detail).toBe('… · table visits · 10 rows copied (0 of 2 tables done)');
    setLanguage('zh');
    expect(captureView(source({ state: 'snapshotting', snapshot: { table: 'his.patients', rowsCopied: 420_000, rowsEstimated: 1_000_000, percent: 42, tablesDone: 1, tablesTotal: 3 } }), NOW).detail).toBe(
      '42.0 % · 表 his.patients · 已复制 420,000 行，约 1,000,000 行（已完成 1/3 张表）',
    );
    setLanguage('en');
  });

  it('streaming: green, with lag, rows/s, transactions, retained against the budget, position and schema version', () => {
    const v = captureView(source(streaming), NOW);
    expect([v.level, v.stateText, v.detail]).toEqual(['ok', 'Streaming', '']);
    expect(v.lag).toBe('38 ms');
    expect(captureView(source({ ...streaming, lagMs: 1_240 }), NOW).lag).toBe('1.2 s');
    expect(v.rows).toBe('1,987');
    expect(v.transactions).toBe('123,456 transactions journaled');
    expect(v.retained).toBe('512.0 MiB');
    expect(v.retainedDetail).toBe('12.5 % of the 4.0 GiB budget · not filling · server says reserved');
    expect(v.retainedLevel).toBe('ok');
    expect([v.position, v.schemaVersion]).toEqual(['0/16B3748', '2']);
    expect(v.snapshotPercent).toBeNull();
  });

  it('streaming with half the WAL budget retained: amber, with the time to the budget', () => {
    const v = captureView(source({ ...streaming, retained: { bytes: 2.5 * GiB, budgetBytes: 4 * GiB, status: 'extended', secondsToBudget: 9_000 } }), NOW);
    expect([v.level, v.retainedLevel]).toEqual(['warn', 'warn']);
    expect(v.retainedDetail).toBe('62.5 % of the 4.0 GiB budget · budget reached in 2.5 h · server says extended');
    setLanguage('zh');
    expect(captureView(source({ ...streaming, retained: { bytes: 2.5 * GiB, budgetBytes: 4 * GiB, status: 'extended', secondsToBudget: 9_000 } }), NOW).retainedDetail).toBe(
      '占上限 4.0 GiB 的 62.5 % · 约 2.5 小时后达到上限 · 数据库状态 extended',
    );
    setLanguage('en');
    const unlimited = captureView(source({ ...streaming, retained: { bytes: 10 * GiB, budgetBytes: null, status: 'reserved', secondsToBudget: null } }), NOW);
    expect(unlimited.retainedDetail).toBe('no budget set on the server · server says reserved');
    expect(unlimited.level).toBe('ok');
  });

  it('lagging: amber, with the lag', () => {
    const v = captureView(source({ ...streaming, state: 'lagging', lagMs: 42_000 }), NOW);
    expect([v.level, v.stateText, v.lag]).toEqual(['warn', 'Lagging', '42 s']);
  });

  it('paused: amber, with the admission refusal', () => {
    const v = captureView(source({ ...streaming, state: 'paused', reason: 'disk critical: 96.1% used (threshold 95%)' }), NOW);
    expect([v.level, v.stateText]).toEqual(['warn', 'Paused']);
    expect(v.detail).toBe('Paused, the database keeps the changes: disk critical: 96.1% used (threshold 95%)');
  });

  it('retrying: amber, with the reason and the last error and when', () => {
    const v = captureView(source({ state: 'retrying', reason: 'connect ECONNREFUSED 127.0.0.1:5999', lastError: { atMs: NOW - 30_000, message: 'connect ECONNREFUSED 127.0.0.1:5999' } }), NOW);
    expect([v.level, v.stateText]).toEqual(['warn', 'Retrying']);
    expect(v.detail).toBe('Cannot reach the database, retrying: connect ECONNREFUSED 127.0.0.1:5999');
    expect(v.lastError).toBe('connect ECONNREFUSED 127.0.0.1:5999 (30 s ago)');
    setLanguage('zh');
    expect(captureView(source({ state: 'retrying', reason: 'x', lastError: { atMs: NOW - 30_000, message: 'x' } }), NOW).lastError).toBe('x（30 秒前）');
    setLanguage('en');
  });

  it('stopped: red, with the reason naming the setting and the fix, in both languages', () => {
    const reason = 'source his: wal_level is replica; run ALTER SYSTEM SET wal_level = logical and restart PostgreSQL';
    const v = captureView(source({ state: 'stopped', reason }, 'mysql'), NOW);
    expect([v.level, v.stateText, v.kind]).toEqual(['bad', 'Stopped', 'MySQL / MariaDB']);
    expect(v.detail).toBe(`Will not capture until fixed: ${reason}`);
    setLanguage('zh');
    const zh = captureView(source({ state: 'stopped', reason }, 'sql-poll'), NOW);
    expect([zh.stateText, zh.kind, zh.detail]).toEqual(['已停止', 'SQL 轮询', `需修复后才能继续采集：${reason}`]);
    setLanguage('en');
  });

  it('never shows a status the page can no longer confirm as now: "last known", uncoloured, once the agent is unreachable', () => {
    const since = Date.parse('2026-11-21T07:59:30Z');
    const v = captureView(source(streaming), NOW, { unreachableSinceMs: since });
    expect(v.level).toBe('unknown');
    expect(v.detail).toMatch(/^Last known: Streaming\. The agent is unreachable since \d\d:\d\d:\d\d: this may no longer be true$/);
    setLanguage('zh');
    expect(captureView(source(streaming), NOW, { unreachableSinceMs: since }).detail).toMatch(/^最后已知：实时采集中。自 \d\d:\d\d:\d\d 起无法连接网关/);
    setLanguage('en');
  });
});

describe('the verdict line with database sources', () => {
  const status = (sources: SourceStatus[]) => ({ links: [], feeds: [], sources, disk: null, alerts: null, startedAtMs: NOW });

  it('names the worst database source: stopped before retrying before lagging before paused before a full budget', () => {
    const named = (name: string, capture: Partial<CaptureStatus>) => ({ ...source(capture), name });
    const all = [
      named('a', { ...streaming, retained: { bytes: 3 * GiB, budgetBytes: 4 * GiB, status: 'reserved', secondsToBudget: 60 } }),
      named('b', { state: 'paused', reason: 'disk critical' }),
      named('c', { state: 'lagging', lagMs: 90_000 }),
      named('d', { state: 'retrying', reason: 'connect ECONNREFUSED' }),
      named('e', { state: 'stopped', reason: 'no publication' }),
    ];
    const order: string[] = [];
    for (let n = all.length; n > 0; n--) order.push(worstCapture(all.slice(0, n))!.vars.source!);
    expect(order).toEqual(['e', 'd', 'c', 'b', 'a']);
    expect(worstCapture([named('ok', streaming), named('snap', { state: 'snapshotting' })])).toBeNull();
  });

  it('is amber and says which database source stopped, and why', () => {
    const v = verdict(status([source({ state: 'stopped', reason: 'no publication wardline_his' })]), NOW);
    expect(v).toEqual({ level: 'warn', title: 'Database source his stopped', detail: 'no publication wardline_his' });
    expect(verdict(status([source(streaming)]), NOW).level).toBe('ok');
    const lagging = verdict(status([source({ ...streaming, state: 'lagging', lagMs: 300_000 })]), NOW);
    expect(lagging.title).toBe('Database source his is 5 min behind its database');
  });
});
