// Whether a feed is catching up (a backlog it is sending off, not the normal
// flow of a few events in flight) and how long it still needs. Pure: the
// verdict's amber and its unit test share it.

/** A backlog whose oldest event waits longer than this is "catching up", not normal flow, in seconds. */
export const CATCHING_UP_AFTER_SECONDS = 5;

/**
 * The seconds a feed still needs: the net drain rate's estimate (the backlog
 * shrinking, new arrivals counted), else the send rate's; null when unknown.
 */
export function catchUpSeconds(feed) {
  return feed.drain?.etaSeconds ?? feed.etaSeconds ?? null;
}

/** Whether a feed holds a backlog it is sending off (not a paused or blocked feed, nor normal flow). */
export function isCatchingUp(feed) {
  return feed.backlog.events > 0 && (feed.backlog.oldestAgeSeconds ?? 0) >= CATCHING_UP_AFTER_SECONDS && !feed.paused && !feed.blocked;
}

/** The longest any of `feeds` still needs, in seconds; null when one of them cannot say. */
export function longestCatchUp(feeds) {
  const etas = feeds.map(catchUpSeconds);
  return etas.length === 0 || etas.some((s) => s === null) ? null : Math.max(...etas);
}
