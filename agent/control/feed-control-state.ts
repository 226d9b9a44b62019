// The operator's control state of one feed and the only moves between states.
// Pure: feed-control.ts asks transitionFeedControl() for every change and records what it
// answers; nothing else decides a feed's next state.
//
// Why "revoked at the relay only" is not a sixth state: it is the relay's word,
// not the agent's. It is never stored (each Welcome says it afresh, and a relay
// restored from a backup forgets it), and it lies across the agent's own state:
// a paused feed can be revoked at the relay too, and resuming it leaves it
// refused there. So it is a flag beside the state (`relayHoldsRevoked`), and the
// table shows the one thing it changes: re-enable is allowed from active or
// paused only while the relay holds the feed as revoked.

/**
 * active: sends. paused: holds its backlog. revoking: held; the revoke waits
 * for the relay's answer. revoked: held; the relay deleted the feed. reinstating:
 * held; the re-enable waits for the relay's answer.
 */
export type FeedControlState = 'active' | 'paused' | 'revoking' | 'revoked' | 'reinstating';

export const FEED_CONTROL_STATES: readonly FeedControlState[] = ['active', 'paused', 'revoking', 'revoked', 'reinstating'];

/** The operator's four actions and the relay's two answers. */
export type FeedControlEvent = 'pause' | 'resume' | 'revoke' | 'reenable' | 'relay-revoked' | 'relay-reinstated' | 'purge' | 'relay-purged';

export const FEED_CONTROL_EVENTS: readonly FeedControlEvent[] = ['pause', 'resume', 'revoke', 'reenable', 'relay-revoked', 'relay-reinstated', 'purge', 'relay-purged'];

type Moves = Partial<Record<FeedControlState, FeedControlState>>;

/**
 * Every allowed move. A state missing under an operator action means the action
 * is refused there (409 at the admin endpoint). The relay's answers are recorded
 * whatever the state, so they list every state: an answer that does not apply
 * (a late revoke answer after a re-enable) leaves the state where it is.
 */
export const FEED_CONTROL_TRANSITIONS: Readonly<Record<FeedControlEvent, Moves>> = {
  // Pausing a paused feed changes nothing but still waits for what is in flight.
  pause: { active: 'paused', paused: 'paused' },
  // Resuming an active feed changes nothing (it is released again, in case).
  resume: { paused: 'active', active: 'active' },
  // A revoke is sent again from any state: the relay's handling is idempotent.
  revoke: { active: 'revoking', paused: 'revoking', revoking: 'revoking', revoked: 'revoking', reinstating: 'revoking' },
  reenable: { revoking: 'reinstating', revoked: 'reinstating', reinstating: 'reinstating' },
  'relay-revoked': { active: 'active', paused: 'paused', revoking: 'revoked', revoked: 'revoked', reinstating: 'reinstating' },
  'relay-reinstated': { active: 'active', paused: 'paused', revoking: 'revoking', revoked: 'revoked', reinstating: 'active' },
  // A purge is a revoke that also deletes the rest of the feed at the relay and answers with a signed
  // receipt: the same moves, and the feed ends revoked here (nothing of it is sent again).
  purge: { active: 'revoking', paused: 'revoking', revoking: 'revoking', revoked: 'revoking', reinstating: 'revoking' },
  'relay-purged': { active: 'active', paused: 'paused', revoking: 'revoked', revoked: 'revoked', reinstating: 'reinstating' },
};

/** The moves added while the relay holds the feed as revoked although the agent does not. */
export const WHILE_REVOKED_AT_RELAY: Readonly<Partial<Record<FeedControlEvent, Moves>>> = {
  reenable: { active: 'reinstating', paused: 'reinstating' },
};

/** A move the table does not allow. feed-control.ts turns it into a FeedControlError (conflict) with the operator's wording. */
export class IllegalFeedControlTransitionError extends Error {
  override name = 'IllegalFeedControlTransitionError';
  constructor(
    readonly from: FeedControlState,
    readonly event: FeedControlEvent,
  ) {
    super(`feed control: ${event} is not allowed in state ${from}`);
  }
}

/** The state after `event` in state `from`; throws IllegalFeedControlTransitionError for a move the table refuses. */
export function transitionFeedControl(from: FeedControlState, event: FeedControlEvent, relayHoldsRevoked = false): FeedControlState {
  const to = FEED_CONTROL_TRANSITIONS[event][from] ?? (relayHoldsRevoked ? WHILE_REVOKED_AT_RELAY[event]?.[from] : undefined);
  if (to === undefined) throw new IllegalFeedControlTransitionError(from, event);
  return to;
}

/** Whether the table allows `event` in state `from`. */
export function feedControlAllows(from: FeedControlState, event: FeedControlEvent, relayHoldsRevoked = false): boolean {
  return FEED_CONTROL_TRANSITIONS[event][from] !== undefined || (relayHoldsRevoked && WHILE_REVOKED_AT_RELAY[event]?.[from] !== undefined);
}

/** A stored word, as a state; undefined for a word this agent does not know (a newer agent's state). */
export function parseFeedControlState(word: string): FeedControlState | undefined {
  return (FEED_CONTROL_STATES as readonly string[]).includes(word) ? (word as FeedControlState) : undefined;
}
