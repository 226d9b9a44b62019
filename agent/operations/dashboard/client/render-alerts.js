// Recent alerts, newest first, the firing ones marked; worded in the reader's
// language from the alert's fields (the agent's English line is the fallback).
import { fill, h } from './dom.js';
import { clock, duration } from './format.js';
import { has, t } from './i18n.js';

const SHOWN = 30;

/** One alert in the current language. */
export function alertText(alert) {
  const firing = alert.level > 0;
  const key = alert.rule === 'disk' && firing ? `alert.disk.firing.${alert.level}` : `alert.${alert.rule}.${firing ? 'firing' : 'resolved'}`;
  if (!has(key)) return alert.message;
  const seconds = alert.rule === 'lag' || alert.rule === 'backlog-age' || alert.rule === 'source-silent' || alert.rule === 'capture-lagging';
  const eta = alert.details?.secondsToBudget;
  return t(key, {
    subject: alert.subject,
    value: seconds ? duration(alert.value) : alert.value,
    threshold: seconds ? duration(alert.threshold) : alert.threshold,
    state: alert.details?.state ? t(`state.${alert.details.state}`) : '',
    reason: alert.details?.reason ?? '',
    message: alert.details?.message ?? '',
    eta: typeof eta === 'number' ? duration(eta) : '—',
  });
}

export function renderAlerts(panel, view) {
  const { alerts, status, nowMs } = view;
  const active = status.alerts?.active ?? [];
  const activeIds = new Set(active.map((a) => a.id));
  const count = panel.querySelector('[data-role="count"]');
  count.textContent = active.length > 0 ? t('alerts.active', { count: active.length }) : '';
  count.hidden = active.length === 0;
  const list = panel.querySelector('[data-role="list"]');
  if (alerts.length === 0) {
    fill(list, h('li', { class: 'muted' }, t('alerts.none')));
    return;
  }
  fill(
    list,
    ...alerts.slice(0, SHOWN).map((a) =>
      h(
        'li',
        { class: `alert sev-${a.severity} ${activeIds.has(a.id) ? 'is-active' : ''}`, dataset: { alertId: String(a.id), rule: a.rule, subject: a.subject, state: a.state } },
        h('span', { class: 'alert-time' }, clock(a.atMs, nowMs)),
        h('span', { class: `badge sev-badge sev-${a.severity}` }, a.state === 'resolved' ? t('alerts.resolved') : activeIds.has(a.id) ? t('alerts.firing') : t(`severity.${a.severity}`)),
        h('span', { class: 'alert-text', title: a.message }, alertText(a)),
      ),
    ),
  );
}
