// The newest records of the egress ledger: what left the hospital, batch by
// batch, and the administrative actions. Shown only when the agent's status
// carries a ledger.
import { fill, h } from './dom.js';
import { bytes, clock, count } from './format.js';
import { reasonText, t, word } from './i18n.js';

/** Newest records shown; the whole ledger is for `wardline audit export`. */
const SHOWN = 12;

function what(record) {
  const d = record.details ?? {};
  if (record.type === 'batch' && d.firstSeq !== undefined) {
    const one = d.firstSeq === d.lastSeq && d.events === 1;
    return t(one ? 'ledger.batch.one' : 'ledger.batch', { first: count(d.firstSeq), last: count(d.lastSeq), events: count(d.events), bytes: bytes(d.bytes), policy: d.policyVersion ?? 0 });
  }
  return Object.entries(d)
    .filter(([, v]) => typeof v !== 'object')
    .map(([k, v]) => `${word('ledger.field', k)}: ${k === 'reason' ? reasonText(v) : v}`)
    .join(', ');
}

export function renderLedger(panel, view) {
  const ledger = view.status.ledger;
  panel.hidden = !ledger;
  if (!ledger) return;
  const head = ledger.head;
  fill(
    panel.querySelector('[data-role="summary"]'),
    head ? t('ledger.head', { index: count(head.index), hash: `${head.hash.slice(0, 12)}…` }) : '',
    ' · ',
    t('ledger.records', { count: count(ledger.records), days: ledger.retentionDays }),
  );
  fill(
    panel.querySelector('tbody'),
    ...(ledger.recent ?? []).slice(0, SHOWN).map((r) =>
      h('tr', {}, h('td', { class: 'num' }, count(r.index)), h('td', {}, clock(r.atMs, view.nowMs)), h('td', { dataset: { type: r.type } }, word('ledger.type', r.type)), h('td', {}, r.feed ?? '—'), h('td', {}, what(r)), h('td', { class: 'mono' }, `${String(r.hash).slice(0, 12)}…`)),
    ),
  );
  fill(panel.querySelector('thead tr'), ...['ledger.index', 'ledger.time', 'ledger.type', 'ledger.feed', 'ledger.what', 'ledger.hash'].map((k) => h('th', {}, t(k))));
}
