// What an imaging feed's card says, from its FeedStatus.imaging
// (agent/operations/agent-status.ts ImagingFeedView): studies, instances and
// bytes waiting, chunks/s, the ETA under the timetable (or when the timetable
// next lets the feed's class send), what deduplication saved, the instance in
// flight and why nothing moves. Pure (no DOM), so every state is tested from
// sample values (test/unit/dashboard-imaging-view.test.ts); render-imaging.js
// draws it.
import { bytes, clock, count, decimal, duration } from './format.js';
import { t } from './i18n.js';

/** Whether a feed carries imaging instances (its status has an imaging part). */
export function isImagingFeed(feed) {
  return feed.imaging !== undefined && feed.imaging !== null;
}

/**
 * @param {object} feed a FeedStatus with `imaging`
 * @param {boolean} linkDown the feed's relay link is not streaming
 * @param {number} nowMs the agent's clock now
 * @param {{ unreachableSinceMs: number } | null} [reach] set while the page has lost the agent
 */
export function imagingView(feed, linkDown, nowMs, reach = null) {
  const m = feed.imaging;
  const waiting = m.bytesWaiting > 0 || m.instancesWaiting > 0;
  const state = m.problem ? 'problem' : !waiting ? 'caughtUp' : feed.paused ? 'paused' : linkDown ? 'linkDown' : m.opensAt ? 'held' : 'sending';
  const view = {
    feed: feed.feed,
    state,
    level: { problem: 'bad', caughtUp: 'ok', paused: 'warn', linkDown: 'warn', held: 'busy', sending: 'busy' }[state],
    stateText: t(`imaging.state.${state}`),
    studies: count(m.studiesWaiting),
    instances: t('imaging.instances', { n: count(m.instancesWaiting) }),
    bytesWaiting: bytes(m.bytesWaiting),
    chunksPerSecond: decimal(m.chunksPerSecond, m.chunksPerSecond < 10 ? 1 : 0),
    chunksSent: t('imaging.chunksSent', { n: count(m.chunksSent), bytes: bytes(m.chunkBytesSent) }),
    eta: etaText(m, state),
    deduped: bytes(m.dedupedBytes),
    current: m.current ? t('imaging.current', { uid: m.current.sopInstanceUid, done: count(m.current.chunksDone), total: count(m.current.chunks) }) : t('imaging.none'),
    problem: m.problem ? t('imaging.problem', { code: m.problem.code, message: m.problem.message, since: clock(m.problem.sinceMs, nowMs) }) : '',
  };
  if (reach) {
    // What the agent last said is history once the page has lost it: never show it as now.
    view.level = 'unknown';
    view.stateText = t('imaging.lastKnown', { time: clock(reach.unreachableSinceMs, nowMs) });
    view.eta = t('feed.eta.unknown');
  }
  return view;
}

/** The ETA tile: caught up, when the timetable opens, link down, unknown, or a duration. */
function etaText(m, state) {
  if (state === 'caughtUp') return t('feed.eta.caughtUp');
  if (state === 'problem' || state === 'paused') return t('feed.eta.unknown');
  if (state === 'linkDown') return t('feed.eta.linkDown');
  if (state === 'held' && m.opensAt) {
    const at = m.opensAt.dayOffset === 0 ? m.opensAt.time : t('imaging.opensAt.days', { time: m.opensAt.time, days: m.opensAt.dayOffset });
    return m.etaSeconds === null ? t('imaging.opensAt', { at }) : t('imaging.opensAt.eta', { at, eta: duration(m.etaSeconds) });
  }
  return m.etaSeconds === null ? t('feed.eta.unknown') : duration(m.etaSeconds);
}
