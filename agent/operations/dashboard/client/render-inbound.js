// The Inbound card: each inbound channel (events vendors write at the relay,
// delivered here into the hospital's system) with its counts, its sink's state,
// what waits at the relay as last reported (and when that was: the relay reports
// it, the page never guesses), its problem, and the quarantined events with the
// operator's replay and refuse. Shown only when the agent has inbound channels.
import { pauseInbound, refuseInbound, replayInbound, resumeInbound } from './admin-actions.js';
import { figure, fill, h } from './dom.js';
import { ago, clock, count } from './format.js';
import { t } from './i18n.js';

function sinkText(channel, nowMs) {
  const s = channel.sinkState;
  if (s.state === 'down') return t('inbound.sink.down', { kind: channel.sinkKind, since: clock(s.sinceMs, nowMs), ago: ago(s.sinceMs, nowMs) });
  if (s.state === 'up') return t('inbound.sink.up', { kind: channel.sinkKind });
  return t('inbound.sink.unknown', { kind: channel.sinkKind });
}

function atRelayText(channel, nowMs) {
  const r = channel.atRelay;
  if (!r) return t('inbound.atRelay.none');
  return t('inbound.atRelay', { waiting: count(r.waiting), time: clock(r.reportedAtMs, nowMs), ago: ago(r.reportedAtMs, nowMs) });
}

function channelRow(c, nowMs, refresh) {
  const action = c.paused
    ? h('button', { type: 'button', onclick: () => resumeInbound(c.channel).then(refresh) }, t('inbound.resume'))
    : h('button', { type: 'button', onclick: () => pauseInbound(c.channel).then(refresh) }, t('inbound.pause'));
  return h(
    'tr',
    { dataset: { channel: c.channel, problem: c.problem ? 'yes' : 'no' } },
    h('td', {}, h('strong', {}, c.channel), h('div', { class: 'muted small' }, `${t('inbound.relay')} ${c.relay}`)),
    h('td', { dataset: { sink: c.sinkState.state } }, sinkText(c, nowMs), c.paused ? h('div', { class: 'badge badge-warn' }, t('inbound.paused')) : null),
    h('td', { class: 'num' }, figure('inbound-waiting', c.pending + c.retrying + c.awaiting, count(c.pending + c.retrying + c.awaiting)), h('div', { class: 'muted small' }, t('inbound.waiting.detail', { retrying: count(c.retrying), awaiting: count(c.awaiting) }))),
    h('td', { class: 'num' }, figure('inbound-quarantined', c.quarantined, count(c.quarantined))),
    h('td', { class: 'num' }, figure('inbound-accepted', c.accepted, count(c.accepted)), h('div', { class: 'muted small' }, t('inbound.final.detail', { refused: count(c.refused), expired: count(c.expired) }))),
    h('td', {}, c.oldestWaitingAtMs === null ? '—' : ago(c.oldestWaitingAtMs, nowMs)),
    h('td', { dataset: { role: 'at-relay' } }, atRelayText(c, nowMs)),
    h('td', { class: c.problem ? 'bad' : 'muted' }, c.problem ?? t('inbound.flowing')),
    h('td', {}, action),
  );
}

function quarantinedRow(q, nowMs, refresh) {
  return h(
    'tr',
    { dataset: { id: q.id } },
    h('td', { class: 'mono' }, q.id),
    h('td', {}, q.channel),
    h('td', { class: 'num' }, count(q.attempts)),
    h('td', {}, clock(q.sinceMs, nowMs)),
    h('td', {}, q.reason),
    h(
      'td',
      {},
      h('button', { type: 'button', onclick: () => replayInbound(q.id).then(refresh) }, t('inbound.replay')),
      ' ',
      h('button', { type: 'button', onclick: () => refuseInbound(q.id).then(refresh) }, t('inbound.refuse')),
    ),
  );
}

export function renderInbound(panel, view, refresh = () => undefined) {
  const downlink = view.status.downlink;
  panel.hidden = !downlink || downlink.channels.length === 0;
  if (panel.hidden) return;
  const nowMs = view.nowMs;
  fill(
    panel.querySelector('[data-role="channels"] thead tr'),
    ...['inbound.channel', 'inbound.sink', 'inbound.waiting', 'inbound.quarantined', 'inbound.accepted', 'inbound.oldest', 'inbound.atRelay.head', 'inbound.problem', ''].map((k) => h('th', {}, k ? t(k) : '')),
  );
  fill(panel.querySelector('[data-role="channels"] tbody'), ...downlink.channels.map((c) => channelRow(c, nowMs, refresh)));
  const quarantined = panel.querySelector('[data-role="quarantined"]');
  quarantined.hidden = downlink.quarantined.length === 0;
  fill(quarantined.querySelector('thead tr'), ...['inbound.q.id', 'inbound.channel', 'inbound.q.attempts', 'inbound.q.since', 'inbound.q.reason', ''].map((k) => h('th', {}, k ? t(k) : '')));
  fill(quarantined.querySelector('tbody'), ...downlink.quarantined.map((q) => quarantinedRow(q, nowMs, refresh)));
}
