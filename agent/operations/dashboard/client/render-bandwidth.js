// The uplink: the limit in force, what is in flight, the priority order, the
// timetable windows in force and the whole schedule, and classes held back.
import { fill, h } from './dom.js';
import { bitRate, bytes, clock, count, fromNow } from './format.js';
import { kindText, t, word } from './i18n.js';

function row(label, ...value) {
  return h('div', { class: 'kv' }, h('span', { class: 'label' }, label), h('span', {}, ...value));
}

function hhmm(seconds) {
  const s = seconds % 86_400;
  return `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}`;
}

function days(list) {
  const names = t('days').split(',');
  if (list.length === 7) return '*';
  return list.map((d) => names[d]).join(' ');
}

export function renderBandwidth(panel, view) {
  const { status, schedule, nowMs } = view;
  const b = status.bandwidth;
  const box = panel.querySelector('[data-role="body"]');
  if (!b) {
    fill(box, h('p', { class: 'muted' }, t('bandwidth.notWired')));
    return;
  }
  const windows = schedule?.windows ?? [];
  fill(
    box,
    row(t('bandwidth.limit'), h('span', { class: 'big', dataset: { figure: 'bandwidth.limit', value: String(b.rateLimitBytesPerSecond ?? '') } }, b.rateLimitBytesPerSecond === null ? t('bandwidth.unlimited') : bitRate(b.rateLimitBytesPerSecond))),
    row(t('bandwidth.inFlight'), `${bytes(b.inFlightBytes)} / ${bytes(b.maxInFlightBytes)} · ${t('bandwidth.waiting', { count: count(b.waitingBatches) })}`),
    row(t('bandwidth.classes'), b.classes.map((c) => word('class', c)).join(' › ')),
    row(t('bandwidth.windows'), b.windowsInForce.length ? b.windowsInForce.join(', ') : t('bandwidth.none')),
    ...b.blockedClasses.map((c) => h('div', { class: 'kv warn-text' }, t('bandwidth.blocked', { class: word('class', c), reason: kindText('blocked', 'timetable', b.blockedReasons[c]) }))),
    row(t('bandwidth.next'), b.nextChange ? `${clock(b.nextChange.atMs, nowMs)} (${fromNow(b.nextChange.atMs, nowMs)}) ${b.nextChange.description}` : t('bandwidth.none')),
    windows.length === 0
      ? h('p', { class: 'muted' }, t('bandwidth.noSchedule'))
      : h(
          'table',
          { class: 'schedule' },
          h('caption', {}, t('bandwidth.schedule', { zone: schedule.timezone })),
          h('thead', {}, h('tr', {}, h('th', {}, t('bandwidth.window')), h('th', {}, t('bandwidth.when')), h('th', {}, t('bandwidth.effect')))),
          h(
            'tbody',
            {},
            ...windows.map((w) =>
              h(
                'tr',
                { class: b.windowsInForce.includes(w.name) ? 'in-force' : '' },
                h('td', {}, w.name),
                h('td', {}, `${days(w.days)} ${hhmm(w.fromSecond)}–${hhmm(w.toSecond)}`),
                h(
                  'td',
                  {},
                  [
                    w.rateBytesPerSecond !== undefined ? t('bandwidth.effect.rate', { rate: w.rateBytesPerSecond === null ? t('bandwidth.unlimited') : bitRate(w.rateBytesPerSecond) }) : null,
                    w.classRule ? t(w.classRule.allow ? 'bandwidth.effect.allow' : 'bandwidth.effect.deny', { classes: w.classRule.classes.map((c) => word('class', c)).join(', ') }) : null,
                  ]
                    .filter(Boolean)
                    .join('; '),
                ),
              ),
            ),
          ),
        ),
  );
}
