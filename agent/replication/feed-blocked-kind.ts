// Why a feed is not sending, as a stable code beside status `blocked` (the
// English text): the dashboard translates the code and keeps the text, which
// names the window, the seqs or the operator's reason.

/**
 * The kind of what holds the feed: the gate's holder first (as `blocked` reads
 * it), else `timetable` for a class the bandwidth timetable keeps off the line;
 * null when the feed may send. Generic over the holders so it needs nothing of
 * the pump (FeedPump's FeedBlockedKind is its instance).
 */
export function feedBlockedKind<H extends string>(gate: { state: 'open' } | { state: 'held'; by: H }, timetableReason: string | undefined): H | 'timetable' | null {
  if (gate.state === 'held') return gate.by;
  return timetableReason === undefined ? null : 'timetable';
}
