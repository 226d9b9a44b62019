// The one line that answers "is the cloud copy current, and if not, why and for
// how long": the worst thing happening, in words, coloured by how bad it is.
// Red: the agent or a link is down, or the disk is full. Amber: a backlog is
// draining, an alert is firing, or something else needs a look. Green only
// when none of those is true.
import { alertText } from './render-alerts.js';
import { catchUpSeconds, isCatchingUp, longestCatchUp } from './catch-up.js';
import { clock, count, duration, events } from './format.js';
import { kindText, t } from './i18n.js';
import { lagExceeded } from './render-feeds.js';
import { downSinceMs, isOnline } from './render-links.js';
import { isSilent, silentSeconds } from './render-sources.js';
import { worstCapture } from './capture-view.js';

/**
 * @param {object | null} status the agent's last status
 * @param {number} nowMs the agent's clock now
 * @param {{ unreachableSinceMs: number } | null} [reach] set while the page has lost the agent
 * @returns {{ level: 'ok' | 'warn' | 'bad' | 'unknown', title: string, detail: string }}
 */
export function verdict(status, nowMs, reach = null) {
  if (reach) {
    const since = reach.unreachableSinceMs;
    return {
      level: 'bad',
      title: t('verdict.unreachable', { time: clock(since, nowMs), duration: duration((nowMs - since) / 1000) }),
      detail: t('verdict.unreachable.detail', { time: clock(since, nowMs) }),
    };
  }
  if (!status) return { level: 'unknown', title: t('verdict.unknown'), detail: '' };
  const waiting = (feeds) => feeds.reduce((sum, f) => sum + f.backlog.events, 0);
  const down = status.links.find((l) => !isOnline(l));
  if (down) {
    const since = downSinceMs(down, status);
    const held = waiting(status.feeds.filter((f) => f.relay === down.relay));
    return {
      level: 'bad',
      title: t('verdict.linkDown', { relay: down.relay, duration: duration((nowMs - since) / 1000) }),
      detail: [t('verdict.downSince', { time: clock(since, nowMs) }), t('verdict.held', { events: events(held) })].join(' · '),
    };
  }
  if (status.disk?.state === 'critical') return { level: 'bad', title: t('verdict.diskCritical'), detail: kindText('diskReason', status.disk.reasonKind, status.disk.reason) };
  const lagging = status.feeds.find(lagExceeded);
  if (lagging) {
    const eta = catchUpSeconds(lagging);
    const detail = [t('verdict.held', { events: events(lagging.backlog.events) }), eta ? t('verdict.draining', { eta: duration(eta) }) : ''].filter(Boolean).join(' · ');
    return { level: 'warn', title: t('verdict.lag', { feed: lagging.feed, duration: duration(lagging.lagSeconds) }), detail };
  }
  const catching = status.feeds.filter(isCatchingUp);
  if (catching.length > 0) {
    const eta = longestCatchUp(catching);
    return {
      level: 'warn',
      title: eta === null ? t('verdict.catchingUp.estimating') : t('verdict.catchingUp', { eta: duration(eta) }),
      detail: t('verdict.held', { events: events(waiting(catching)) }),
    };
  }
  // A database source that is not capturing, or whose server is about to give up its position.
  const capture = worstCapture(status.sources);
  if (capture) return { level: 'warn', title: t(capture.key, capture.vars), detail: capture.detail };
  const firing = status.alerts?.active ?? [];
  if (firing.length > 0) {
    return { level: 'warn', title: t('verdict.alertsFiring', { count: count(firing.length) }), detail: firing.map(alertText).join(' · ') };
  }
  if (status.disk?.state === 'warning') return { level: 'warn', title: t('verdict.diskWarning'), detail: kindText('diskReason', status.disk.reasonKind, status.disk.reason) };
  const silent = status.sources.find((s) => isSilent(s, status, nowMs));
  if (silent) return { level: 'warn', title: t('verdict.silent', { source: silent.name, duration: duration(silentSeconds(silent, status, nowMs)) }), detail: '' };
  const paused = status.feeds.find((f) => f.paused === true);
  if (paused) return { level: 'warn', title: t('verdict.paused', { feed: paused.feed }), detail: t('verdict.held', { events: events(paused.backlog.events) }) };
  const total = waiting(status.feeds);
  return { level: 'ok', title: t('verdict.ok'), detail: total > 0 ? t('verdict.held', { events: events(total) }) : t('verdict.ok.detail') };
}
