// The link to each relay: online or offline at a glance, the precise state and
// since when, the last error, and the 24-hour timeline.
import { reconnectNow } from './admin-actions.js';
import { figure, h, keyed, setFigure, setText } from './dom.js';
import { ago, clock, count, duration, fromNow } from './format.js';
import { linkErrorText, t } from './i18n.js';
import { HOUR_MS } from './timeline.js';

/** States in which the relay receives what the agent sends. */
export function isOnline(link) {
  return link.state === 'streaming';
}

/**
 * When the link last stopped streaming (ms since the epoch): what "down for"
 * counts from, across the retries in between. The agent says (downSinceMs); an
 * older agent that does not is read from its transitions.
 */
export function downSinceMs(link, status) {
  if (typeof link.downSinceMs === 'number') return link.downSinceMs;
  const left = [...(link.transitions ?? [])].reverse().find((tr) => tr.from === 'streaming');
  if (left) return left.atMs;
  return Math.min(link.sinceMs, status.startedAtMs ?? link.sinceMs);
}

export function renderLinks(container, view) {
  const { status, nowMs, timelines, admin } = view;
  keyed(
    container,
    status.links,
    (l) => l.relay,
    (link) => {
      const card = h('div', { class: 'link-card', dataset: { link: link.relay } });
      card.append(
        h('div', { class: 'link-head' },
          h('span', { class: 'pill', dataset: { role: 'online' } }),
          h('span', { class: 'link-name' }, link.relay),
          figure(`link.${link.relay}.state`, link.state, '', { class: 'link-state' }),
          h('span', { class: 'muted', dataset: { role: 'since' } }),
          admin ? h('button', { class: 'action', type: 'button', dataset: { role: 'reconnect' }, onclick: () => reconnectNow() }) : null,
        ),
        h('div', { class: 'link-facts' },
          h('span', {}, h('span', { class: 'label', dataset: { role: 'error-label' } }), ' ', h('span', { class: 'error-text', dataset: { role: 'error' } })),
          h('span', {}, h('span', { class: 'label', dataset: { role: 'reconnects-label' } }), ' ', figure(`link.${link.relay}.reconnects`, link.reconnects, '')),
          h('span', { dataset: { role: 'next' } }),
        ),
        h('div', { class: 'timeline', dataset: { role: 'timeline' } }),
        h('div', { class: 'timeline timeline-hour', dataset: { role: 'timeline-hour' } }),
      );
      return card;
    },
    (card, link) => {
      const online = isOnline(link);
      card.dataset.online = String(online);
      card.dataset.state = link.state;
      const q = (role) => card.querySelector(`[data-role="${role}"]`);
      setText(q('online'), online ? t('link.online') : t('link.offline'));
      q('online').className = `pill ${online ? 'pill-ok' : 'pill-bad'}`;
      setFigure(card.querySelector(`[data-figure="link.${link.relay}.state"]`), link.state, t(`state.${link.state}`));
      const since = online ? link.sinceMs : downSinceMs(link, status);
      setText(q('since'), t(online ? 'link.since' : 'link.downSince', { time: clock(since, nowMs), ago: ago(since, nowMs), duration: duration((nowMs - since) / 1000) }));
      setText(q('error-label'), `${t('link.lastError')}:`);
      setText(q('error'), linkErrorText(link));
      q('error').title = link.lastError ?? '';
      setText(q('reconnects-label'), `${t('link.reconnects')}:`);
      setFigure(card.querySelector(`[data-figure="link.${link.relay}.reconnects"]`), link.reconnects, count(link.reconnects));
      setText(q('next'), link.nextAttemptAtMs ? `${t('link.nextAttempt')}: ${fromNow(link.nextAttemptAtMs, nowMs)}` : '');
      const button = q('reconnect');
      if (button) setText(button, t('link.reconnectNow'));
      timelines.render(q('timeline'), link.relay, nowMs);
      timelines.render(q('timeline-hour'), link.relay, nowMs, HOUR_MS);
    },
  );
}
