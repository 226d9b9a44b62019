// The operator's controls over what leaves: what others may use.
export { FeedControlError, UnknownFeedControlStateError, type FeedControlErrorReason } from './errors.js';
export {
  FEED_CONTROL_EVENTS,
  FEED_CONTROL_STATES,
  FEED_CONTROL_TRANSITIONS,
  IllegalFeedControlTransitionError,
  WHILE_REVOKED_AT_RELAY,
  feedControlAllows,
  transitionFeedControl,
  type FeedControlEvent,
  type FeedControlState,
} from './feed-control-state.js';
export { FeedControlStore, type FeedControlRow } from './feed-control-store.js';
export {
  DEFAULT_PAUSE_SETTLE_MS,
  DEFAULT_RELAY_ANSWER_TIMEOUT_MS,
  DEFAULT_PURGE_ANSWER_TIMEOUT_MS,
  FeedControl,
  type ControlledFeed,
  type ControlRequestContext,
  type FeedControlOptions,
  type FeedControlResult,
  type FeedLink,
  type FeedLinkListener,
} from './feed-control.js';
