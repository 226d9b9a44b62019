// What a database source's card says, from its SourceStatus.capture
// (agent/sources/database/capture-status.ts): the state in words with what it
// is doing (snapshot progress, the reason it is paused, retrying or stopped),
// lag, rows/s, the WAL or binlog the server retains for it against its budget,
// position, schema version and last error, and how alarming that is. Pure (no
// DOM), so every state is tested from sample values; render-capture.js draws it.
import { ago, bytes, clock, count, decimal, duration, percent } from './format.js';
import { t, word } from './i18n.js';

/** The retained share of the budget that turns the card amber, in % (the agent's capture-wal-budget alert: alert-evaluator.ts). */
export const RETAINED_WARN_PERCENT = 50;

/** How each state looks: ok (green), busy (blue: working as it should, not caught up yet), warn (amber), bad (red). */
const STATE_LEVEL = {
  starting: 'busy',
  snapshotting: 'busy',
  streaming: 'ok',
  lagging: 'warn',
  paused: 'warn',
  retrying: 'warn',
  stopped: 'bad',
};

/** Whether a source is a database source (it reports a capture status). */
export function isCaptureSource(source) {
  return source.capture !== undefined && source.capture !== null;
}

/** The retained WAL/binlog as a share of its budget, in %; null without a budget or a reading. */
export function retainedPercent(retained) {
  if (!retained || retained.bytes === null || retained.budgetBytes === null || !(retained.budgetBytes > 0)) return null;
  return (retained.bytes / retained.budgetBytes) * 100;
}

/**
 * @param {object} source a SourceStatus with `capture`
 * @param {number} nowMs the agent's clock now
 * @param {{ unreachableSinceMs: number } | null} [reach] set while the page has lost the agent
 */
export function captureView(source, nowMs, reach = null) {
  const c = source.capture;
  const stateWord = word('capture.state', c.state);
  const retainedShare = retainedPercent(c.retained);
  let level = STATE_LEVEL[c.state] ?? 'warn';
  if (level === 'ok' && retainedShare !== null && retainedShare >= RETAINED_WARN_PERCENT) level = 'warn';
  const view = {
    name: source.name,
    kind: word('capture.kind', source.kind),
    state: c.state,
    stateText: stateWord,
    level,
    detail: detailText(c),
    lag: c.lagMs === null ? t('capture.unknown') : lagText(c.lagMs),
    rows: `${decimal(c.rowsPerSecond, c.rowsPerSecond < 10 ? 1 : 0)}`,
    transactions: t('capture.transactions', { n: count(c.transactions) }),
    retained: retainedText(c.retained),
    retainedDetail: retainedDetail(c.retained, retainedShare),
    retainedLevel: retainedShare !== null && retainedShare >= RETAINED_WARN_PERCENT ? 'warn' : 'ok',
    position: c.position ?? t('capture.none'),
    schemaVersion: c.schemaVersion === null ? t('capture.none') : String(c.schemaVersion),
    lastError: c.lastError ? t('capture.lastError.at', { message: c.lastError.message, ago: ago(c.lastError.atMs, nowMs) }) : t('capture.none'),
    snapshotPercent: c.state === 'snapshotting' ? (c.snapshot?.percent ?? null) : null,
  };
  if (reach) {
    // What the agent last said is history once the page has lost it: never show it as now.
    view.level = 'unknown';
    view.stateText = stateWord;
    view.detail = t('capture.lastKnown', { state: stateWord, time: clock(reach.unreachableSinceMs, nowMs) });
  }
  return view;
}

/** "38 ms", "1.2 s", "42 s", "5 min": a capture lag is normally milliseconds, and shown as such. */
export function lagText(ms) {
  if (ms < 1000) return t('capture.ms', { n: count(ms) });
  if (ms < 10_000) return t('unit.s', { n: decimal(ms / 1000, 1) });
  return duration(ms / 1000);
}

/** The line under the state: what it is doing, or why it is not capturing. */
function detailText(c) {
  switch (c.state) {
    case 'starting':
      return t('capture.starting');
    case 'snapshotting':
      return snapshotText(c.snapshot);
    case 'paused':
    case 'retrying':
    case 'stopped':
      return t(`capture.reason.${c.state}`, { reason: c.reason ?? '' });
    case 'lagging':
    case 'streaming':
    default:
      return c.reason ?? '';
  }
}

/** "42.0 % · table patients · 420,000 of about 1,000,000 rows (1 of 3 tables done)" */
export function snapshotText(s) {
  if (!s) return '';
  const rows =
    s.rowsEstimated === null ? t('capture.snapshot.rowsCopied', { copied: count(s.rowsCopied) }) : t('capture.snapshot.rows', { copied: count(s.rowsCopied), estimated: count(s.rowsEstimated) });
  return t('capture.snapshot', {
    percent: s.percent === null ? '…' : percent(s.percent),
    table: s.table ?? t('capture.snapshot.finishing'),
    rows,
    done: count(s.tablesDone),
    total: count(s.tablesTotal),
  });
}

function retainedText(r) {
  if (!r || r.bytes === null) return t('capture.unknown');
  return bytes(r.bytes);
}

/** "50.0 % of the 4.0 GiB budget · budget reached in 1.5 h · server says reserved" */
function retainedDetail(r, share) {
  if (!r) return '';
  const parts = [];
  if (r.budgetBytes === null) parts.push(t('capture.retained.noBudget'));
  else {
    parts.push(t('capture.retained.budget', { percent: share === null ? '—' : percent(share), budget: bytes(r.budgetBytes) }));
    parts.push(r.secondsToBudget === null ? t('capture.retained.notFilling') : t('capture.retained.eta', { eta: duration(r.secondsToBudget) }));
  }
  if (r.status) parts.push(t('capture.retained.status', { status: r.status }));
  return parts.join(' · ');
}

/**
 * The database source that most needs a look, for the page's verdict line:
 * stopped, then unreachable, then lagging, paused, or retaining half its budget.
 * @returns {{ key: string, vars: Record<string, string>, detail: string } | null}
 */
export function worstCapture(sources) {
  const capture = sources.filter(isCaptureSource);
  const find = (state) => capture.find((s) => s.capture.state === state);
  const stopped = find('stopped');
  if (stopped) return { key: 'verdict.captureStopped', vars: { source: stopped.name }, detail: stopped.capture.reason ?? '' };
  const retrying = find('retrying');
  if (retrying) return { key: 'verdict.captureRetrying', vars: { source: retrying.name }, detail: retrying.capture.reason ?? '' };
  const lagging = find('lagging');
  if (lagging) return { key: 'verdict.captureLagging', vars: { source: lagging.name, duration: duration((lagging.capture.lagMs ?? 0) / 1000) }, detail: '' };
  const paused = find('paused');
  if (paused) return { key: 'verdict.capturePaused', vars: { source: paused.name }, detail: paused.capture.reason ?? '' };
  const full = capture.find((s) => (retainedPercent(s.capture.retained) ?? 0) >= RETAINED_WARN_PERCENT);
  if (full) return { key: 'verdict.captureBudget', vars: { source: full.name, percent: percent(retainedPercent(full.capture.retained)) }, detail: retainedDetail(full.capture.retained, retainedPercent(full.capture.retained)) };
  return null;
}
