// A card per database source (postgres, mysql, sql-poll): its kind and state
// (snapshot progress, the reason it is paused, retrying or stopped), lag, rows/s,
// the WAL or binlog the server retains for it against its budget, position,
// schema version and last error. The words come from capture-view.js; the panel
// is hidden while the agent has no database source.
import { figure, h, keyed, setFigure, setText } from './dom.js';
import { t } from './i18n.js';
import { captureView, isCaptureSource } from './capture-view.js';

function stat(labelKey, ...value) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-label', dataset: { label: labelKey } }), h('div', { class: 'stat-value' }, ...value));
}

export function renderCapture(panel, view) {
  const { status, nowMs, reach } = view;
  const sources = status.sources.filter(isCaptureSource);
  panel.hidden = sources.length === 0;
  keyed(
    panel.querySelector('[data-role="list"]'),
    sources,
    (s) => s.name,
    (source) => {
      const n = source.name;
      return h('div', { class: 'feed-card capture-card', dataset: { capture: n } },
        h('div', { class: 'feed-head' },
          h('span', { class: 'feed-name' }, n),
          h('span', { class: 'muted', dataset: { role: 'kind' } }),
          figure(`capture.${n}.state`, source.capture.state, '', { class: 'badge capture-state' }),
        ),
        h('div', { class: 'capture-detail', dataset: { role: 'detail' } }),
        h('div', { class: 'meter capture-meter', dataset: { role: 'meter' } }, h('div', { class: 'meter-fill', dataset: { role: 'meter-fill' } })),
        h('div', { class: 'stats' },
          stat('capture.lag', figure(`capture.${n}.lagMs`, source.capture.lagMs, '', { class: 'big' })),
          stat('capture.rows', figure(`capture.${n}.rowsPerSecond`, source.capture.rowsPerSecond, '', { class: 'big' }), h('div', { class: 'sub', dataset: { role: 'transactions' } })),
          stat('capture.retained', figure(`capture.${n}.retained.bytes`, source.capture.retained?.bytes, '', { class: 'big' }), h('div', { class: 'sub', dataset: { role: 'retained' } })),
        ),
        h('dl', { class: 'capture-facts' },
          h('dt', { dataset: { label: 'capture.position' } }), h('dd', {}, figure(`capture.${n}.position`, source.capture.position, '', { class: 'mono' })),
          h('dt', { dataset: { label: 'capture.schema' } }), h('dd', {}, figure(`capture.${n}.schemaVersion`, source.capture.schemaVersion, '')),
          h('dt', { dataset: { label: 'capture.lastError' } }), h('dd', { class: 'capture-error', dataset: { role: 'error' } }),
        ),
      );
    },
    (card, source) => {
      const n = source.name;
      const c = source.capture;
      const v = captureView(source, nowMs, reach);
      const q = (role) => card.querySelector(`[data-role="${role}"]`);
      const fig = (name) => card.querySelector(`[data-figure="capture.${n}.${name}"]`);
      card.dataset.level = v.level;
      card.dataset.state = v.state;
      for (const label of card.querySelectorAll('[data-label]')) setText(label, t(label.dataset.label));
      setText(q('kind'), v.kind);
      const state = fig('state');
      setFigure(state, c.state, v.stateText);
      state.dataset.level = v.level;
      setText(q('detail'), v.detail);
      const meter = q('meter');
      meter.hidden = v.snapshotPercent === null;
      if (v.snapshotPercent !== null) q('meter-fill').style.width = `${Math.max(0, Math.min(100, v.snapshotPercent))}%`;
      setFigure(fig('lagMs'), c.lagMs, v.lag);
      setFigure(fig('rowsPerSecond'), c.rowsPerSecond, v.rows);
      setText(q('transactions'), v.transactions);
      const retained = fig('retained.bytes');
      setFigure(retained, c.retained?.bytes, v.retained);
      retained.dataset.level = v.retainedLevel;
      setText(q('retained'), v.retainedDetail);
      setFigure(fig('position'), c.position, v.position);
      setFigure(fig('schemaVersion'), c.schemaVersion, v.schemaVersion);
      setText(q('error'), v.lastError);
      q('error').classList.toggle('message-error', c.lastError !== null);
    },
  );
}
