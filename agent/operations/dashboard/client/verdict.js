// The one line that answers "is the cloud copy current, and if not, why and for
// how long": the worst thing happening, in words, coloured by how bad it is.
import { count, duration } from './format.js';
import { t } from './i18n.js';
import { lagExceeded } from './render-feeds.js';
import { downSinceMs, isOnline } from './render-links.js';
import { isSilent, silentSeconds } from './render-sources.js';

/** @returns {{ level: 'ok' | 'warn' | 'bad' | 'unknown', title: string, detail: string }} */
export function verdict(status, nowMs) {
  if (!status) return { level: 'unknown', title: t('verdict.unknown'), detail: '' };
  const waiting = (feeds) => feeds.reduce((sum, f) => sum + f.backlog.events, 0);
  const down = status.links.find((l) => !isOnline(l));
  if (down) {
    const events = waiting(status.feeds.filter((f) => f.relay === down.relay));
    return { level: 'bad', title: t('verdict.linkDown', { relay: down.relay, duration: duration((nowMs - downSinceMs(down, status)) / 1000) }), detail: t('verdict.waiting', { events: count(events) }) };
  }
  if (status.disk?.state === 'critical') return { level: 'bad', title: t('verdict.diskCritical'), detail: status.disk.reason ?? '' };
  const lagging = status.feeds.find(lagExceeded);
  if (lagging) {
    const detail = [t('verdict.waiting', { events: count(lagging.backlog.events) }), lagging.etaSeconds ? t('verdict.draining', { eta: duration(lagging.etaSeconds) }) : ''].filter(Boolean).join(' · ');
    return { level: 'warn', title: t('verdict.lag', { feed: lagging.feed, duration: duration(lagging.lagSeconds) }), detail };
  }
  if (status.disk?.state === 'warning') return { level: 'warn', title: t('verdict.diskWarning'), detail: status.disk.reason ?? '' };
  const silent = status.sources.find((s) => isSilent(s, status, nowMs));
  if (silent) return { level: 'warn', title: t('verdict.silent', { source: silent.name, duration: duration(silentSeconds(silent, status, nowMs)) }), detail: '' };
  const paused = status.feeds.find((f) => f.paused === true);
  if (paused) return { level: 'warn', title: t('verdict.paused', { feed: paused.feed }), detail: t('verdict.waiting', { events: count(paused.backlog.events) }) };
  const events = waiting(status.feeds);
  const slowest = status.feeds.reduce((max, f) => Math.max(max, f.etaSeconds ?? 0), 0);
  const detail = events > 0 ? [t('verdict.waiting', { events: count(events) }), slowest > 0 ? t('verdict.draining', { eta: duration(slowest) }) : ''].filter(Boolean).join(' · ') : t('verdict.ok.detail');
  return { level: 'ok', title: t('verdict.ok'), detail };
}
