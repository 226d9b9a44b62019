// Errors of the operator's feed controls. `reason` decides the HTTP status at
// the admin endpoint (feed-control-routes.ts), the only place it is converted.
// Codes and remedies: agent/errors.ts.
import { AgentError, AgentErrorCode } from '../errors.js';

export type FeedControlErrorReason = 'unknown-feed' | 'conflict';

export class FeedControlError extends AgentError {
  constructor(
    message: string,
    /** unknown-feed: no configured feed has that name (404). conflict: not allowed in the feed's state (409). */
    readonly reason: FeedControlErrorReason,
    readonly feed: string,
    options?: { cause?: unknown },
  ) {
    super(message, reason === 'unknown-feed' ? AgentErrorCode.UNKNOWN_FEED : AgentErrorCode.FEED_CONTROL_CONFLICT, options);
  }
}

/**
 * agent.db holds a feed control state this agent does not know (written by a
 * newer agent, or edited by hand). Starting anyway would have to guess whether
 * the feed may send; it does not guess.
 */
export class UnknownFeedControlStateError extends AgentError {
  constructor(readonly feed: string, readonly stored: string, readonly known: readonly string[]) {
    super(
      `agent.db holds feed control state ${JSON.stringify(stored)} for feed ${feed}, which this agent does not know (known: ${known.join(', ')}); ` +
        'run the agent version that wrote it, or set the state of that feed in table feed_controls to one of the known ones',
      AgentErrorCode.FEED_CONTROL_STATE_UNKNOWN,
    );
  }
}
