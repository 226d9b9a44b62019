// Every source: its state and counters, the last rejection's reason, when it
// last sent anything. A source silent past its quiet period stands out in red;
// one without a quiet period turns amber after UNCONFIGURED_QUIET_SECONDS, as a
// hint only (it raises no alert).
import { figure, fill, h, keyed, setFigure, setText } from './dom.js';
import { ago, count, duration } from './format.js';
import { kindText, t, word } from './i18n.js';

/** A hint for sources with no alerts.quietPeriods entry, in seconds. */
export const UNCONFIGURED_QUIET_SECONDS = 30 * 60;

/** Seconds since the source last received anything (or since the agent started). */
export function silentSeconds(source, status, nowMs) {
  return Math.max(0, (nowMs - (source.lastMessageAtMs ?? status.startedAtMs)) / 1000);
}

/** Whether the source is silent past its configured quiet period. */
export function isSilent(source, status, nowMs) {
  const quiet = source.quietPeriodSeconds;
  return quiet !== null && quiet !== undefined && silentSeconds(source, status, nowMs) >= quiet;
}

export function renderSources(panel, view) {
  const { status, nowMs } = view;
  const table = panel.querySelector('table');
  const body = table.tBodies[0];
  const head = table.tHead.rows[0];
  fill(head, ...['source.name', 'source.state', 'source.received', 'source.acknowledged', 'source.rejected', 'source.lastMessage'].map((k) => h('th', {}, t(k))));
  panel.querySelector('[data-role="empty"]').hidden = status.sources.length > 0;
  keyed(
    body,
    status.sources,
    (s) => s.name,
    (source) => {
      const n = source.name;
      return h('tr', { dataset: { source: n } },
        h('td', {}, h('div', { class: 'source-name' }, n), h('div', { class: 'sub muted', dataset: { role: 'where' } })),
        h('td', { dataset: { role: 'state' } }),
        h('td', { class: 'num' }, figure(`source.${n}.received`, source.received, '')),
        h('td', { class: 'num' }, figure(`source.${n}.acknowledged`, source.acknowledged, '')),
        h('td', { class: 'num' }, figure(`source.${n}.rejected`, source.rejected, ''), h('div', { class: 'sub rejection', dataset: { role: 'rejection' } })),
        h('td', {}, h('div', { dataset: { role: 'last' } }), h('div', { class: 'sub', dataset: { role: 'silent' } })),
      );
    },
    (row, source) => {
      const n = source.name;
      const q = (role) => row.querySelector(`[data-role="${role}"]`);
      const silent = isSilent(source, status, nowMs);
      const seconds = silentSeconds(source, status, nowMs);
      const hinted = !silent && (source.quietPeriodSeconds === null || source.quietPeriodSeconds === undefined) && seconds >= UNCONFIGURED_QUIET_SECONDS;
      row.classList.toggle('is-silent', silent);
      row.classList.toggle('is-quiet', hinted);
      row.dataset.silent = String(silent);
      setText(q('where'), [word('source.kind', source.kind), source.listen].filter(Boolean).join(' '));
      setText(q('state'), word('source.state', source.state));
      setFigure(row.querySelector(`[data-figure="source.${n}.received"]`), source.received, count(source.received));
      setFigure(row.querySelector(`[data-figure="source.${n}.acknowledged"]`), source.acknowledged, count(source.acknowledged));
      setFigure(row.querySelector(`[data-figure="source.${n}.rejected"]`), source.rejected, count(source.rejected));
      setText(q('rejection'), source.lastRejection ? t('source.lastRejection', { reason: kindText('rejection', source.lastRejection.kind, source.lastRejection.reason) }) : '');
      setText(q('last'), source.lastMessageAtMs ? ago(source.lastMessageAtMs, nowMs) : t('source.never'));
      setText(
        q('silent'),
        silent
          ? t('source.silent', { duration: duration(seconds) })
          : source.quietPeriodSeconds
            ? t('source.quiet', { duration: duration(source.quietPeriodSeconds) })
            : '',
      );
    },
  );
}
