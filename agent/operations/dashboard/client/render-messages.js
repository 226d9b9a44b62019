// The message browser: find a message by MSH-10, key, stream or time, and see
// where it went in one screen — its journal seq and the ACK it got, each feed's
// relay acknowledgement and when, and whether each vendor key has read past it
// (GET /v1/messages, agent/http/message-routes.ts). Below it, the messages the
// agent refused, with their reasons (GET /v1/rejections).
import { fill, h } from './dom.js';
import { clock } from './format.js';
import { t } from './i18n.js';

/** Refusals listed at most. */
const REJECTIONS_SHOWN = 50;

const state = { panel: null, results: null, error: null, rejections: null, raw: new Map() };

export function setupMessages(panel) {
  state.panel = panel;
  const form = panel.querySelector('[data-role="search"]');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void search(new FormData(form));
  });
  panel.querySelector('[data-role="refresh-rejections"]').addEventListener('click', () => void loadRejections());
  document.getElementById('lang')?.addEventListener('click', () => draw());
  void loadRejections();
  draw();
}

async function getJson(url) {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

async function search(form) {
  const params = new URLSearchParams();
  for (const name of ['controlId', 'key', 'stream']) {
    const value = String(form.get(name) ?? '').trim();
    if (value) params.set(name, value);
  }
  // datetime-local is the browser's local time: sent as ms since the epoch.
  for (const name of ['from', 'to']) {
    const value = String(form.get(name) ?? '');
    if (value) params.set(name, String(new Date(value).getTime()));
  }
  try {
    state.results = await getJson(`/v1/messages?${params}`);
    state.error = null;
  } catch (error) {
    state.results = null;
    state.error = error.message;
  }
  draw();
}

async function loadRejections() {
  try {
    state.rejections = (await getJson(`/v1/rejections?limit=${REJECTIONS_SHOWN}`)).rejections;
  } catch (error) {
    state.rejections = { error: error.message };
  }
  draw();
}

async function showRaw(seq) {
  try {
    state.raw.set(seq, (await getJson(`/v1/messages/${seq}`)).message.body ?? '');
  } catch (error) {
    state.raw.set(seq, `${t('messages.raw.failed')}: ${error.message}`);
  }
  draw();
}

function draw() {
  const panel = state.panel;
  if (!panel) return;
  for (const el of panel.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  const nowMs = Date.now();
  const results = panel.querySelector('[data-role="results"]');
  if (state.error) fill(results, h('p', { class: 'message-error', 'data-role': 'search-error' }, state.error));
  else if (!state.results) fill(results, h('p', { class: 'muted' }, t('messages.hint')));
  else if (state.results.messages.length === 0) fill(results, h('p', { class: 'muted', 'data-role': 'no-match' }, t('messages.none')));
  else fill(results, ...state.results.messages.map((m) => trail(m, state.results.showMessages, nowMs)));
  drawRejections(panel.querySelector('[data-role="rejected"]'), nowMs);
}

/** One message and where it went: the night-duty answer first, then the figures it rests on. */
function trail(m, showMessages, nowMs) {
  const feeds = m.feeds.map((f) => feedRow(f, m.seq, nowMs));
  const raw = state.raw.get(m.seq);
  return h(
    'article',
    { class: 'trail', 'data-role': 'trail', dataset: { seq: String(m.seq) } },
    h('div', { class: 'trail-answer', 'data-role': 'answer' }, answer(m)),
    h(
      'dl',
      { class: 'trail-facts' },
      fact('messages.controlId', m.controlId ?? '—', 'control-id'),
      fact('messages.seq', String(m.seq), 'journal-seq'),
      fact('messages.ack', m.ack, 'ack'),
      fact('messages.received', clock(m.receivedAtMs, nowMs), 'received'),
      fact('messages.source', m.source),
      fact('messages.type', m.messageType ?? m.contentType),
      fact('messages.stream', m.stream),
      fact('messages.key', m.key),
      fact('messages.sender', [m.sendingApplication, m.sendingFacility].filter(Boolean).join(' / ') || '—'),
    ),
    feeds.length === 0
      ? h('p', { class: 'muted' }, t('messages.noFeed'))
      : h('table', { class: 'table trail-feeds' }, h('thead', {}, h('tr', {}, ...['messages.feed', 'messages.relayAck', 'messages.vendors'].map((k) => h('th', {}, t(k))))), h('tbody', {}, ...feeds)),
    showMessages
      ? raw === undefined
        ? h('button', { type: 'button', 'data-role': 'show-raw', onclick: () => void showRaw(m.seq) }, t('messages.raw.show'))
        : h('pre', { class: 'raw mono', 'data-role': 'raw' }, raw.replace(/\r/g, '\n'))
      : h('p', { class: 'muted small', 'data-role': 'raw-hidden' }, t('messages.raw.hidden')),
  );
}

function fact(key, value, figure) {
  return h('div', {}, h('dt', {}, t(key)), h('dd', figure ? { 'data-figure': figure } : {}, value));
}

/** "Received, acknowledged by the relay, read by X" — or where it stopped. */
function answer(m) {
  if (m.feeds.length === 0) return t('messages.answer.noFeed');
  return m.feeds
    .map((f) => {
      if (!f.acked) return t('messages.answer.notRelayed', { feed: f.feed });
      if (f.vendors === 'unknown') return t('messages.answer.relayedVendorsUnknown', { feed: f.feed });
      const read = f.vendors.filter((v) => v.readPast).map((v) => v.vendor);
      return read.length > 0 ? t('messages.answer.read', { feed: f.feed, vendors: read.join(', ') }) : t('messages.answer.relayedUnread', { feed: f.feed });
    })
    .join(' · ');
}

function feedRow(f, seq, nowMs) {
  let ack;
  if (!f.acked) ack = t('messages.ack.pending', { acked: f.ackedSeq });
  else if (f.ackedAtMs === undefined) ack = t('messages.ack.atUnknown');
  else if (f.ackedAfterMs === undefined) ack = t('messages.ack.by', { at: clock(f.ackedAtMs, nowMs) });
  else ack = t('messages.ack.between', { after: clock(f.ackedAfterMs, nowMs), at: clock(f.ackedAtMs, nowMs) });
  let vendors;
  if (f.vendors === 'unknown') vendors = h('span', { class: 'muted', 'data-figure': 'vendor-read', dataset: { state: 'unknown' } }, t('messages.vendor.unknown'));
  else if (f.vendors.length === 0) vendors = h('span', { 'data-figure': 'vendor-read', dataset: { state: 'none' } }, t('messages.vendor.none'));
  else {
    vendors = h(
      'ul',
      { class: 'vendor-reads' },
      ...f.vendors.map((v) =>
        h(
          'li',
          { 'data-figure': 'vendor-read', dataset: { state: v.readPast ? 'read' : 'unread', vendor: v.vendor, cursor: String(v.readThroughSeq) } },
          t(v.readPast ? 'messages.vendor.read' : 'messages.vendor.unread', { vendor: v.vendor, cursor: v.readThroughSeq, at: clock(v.readAtMs, nowMs) }),
        ),
      ),
    );
  }
  return h(
    'tr',
    { dataset: { feed: f.feed } },
    h('td', {}, f.feed, h('div', { class: 'muted small' }, f.relay)),
    h('td', { 'data-figure': 'relay-ack', dataset: { acked: String(f.acked), at: f.ackedAtMs === undefined ? '' : String(f.ackedAtMs) } }, ack),
    h('td', {}, vendors),
  );
}

function drawRejections(container, nowMs) {
  const rejections = state.rejections;
  if (!rejections) return fill(container, '');
  if (rejections.error) return fill(container, h('p', { class: 'message-error' }, rejections.error));
  if (rejections.length === 0) return fill(container, h('p', { class: 'muted' }, t('messages.rejected.none')));
  fill(
    container,
    h(
      'table',
      { class: 'table' },
      h('thead', {}, h('tr', {}, ...['messages.rejected.time', 'messages.source', 'messages.rejected.peer', 'messages.controlId', 'messages.ack', 'messages.rejected.reason'].map((k) => h('th', {}, t(k))))),
      h(
        'tbody',
        {},
        ...rejections.map((r) =>
          h('tr', { 'data-role': 'rejection' }, h('td', {}, clock(r.atMs, nowMs)), h('td', {}, r.source), h('td', { class: 'mono' }, r.peer ?? '—'), h('td', { class: 'mono' }, r.controlId ?? '—'), h('td', {}, r.ackCode), h('td', {}, r.reason)),
        ),
      ),
    ),
  );
}
