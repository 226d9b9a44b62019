// Errors of the operator's feed controls. `reason` decides the HTTP status at
// the admin endpoint (feed-control-routes.ts), the only place it is converted.
// Codes and remedies: agent/errors.ts.
import { AgentError, AgentErrorCode } from '../errors.js';

export type FeedControlErrorReason = 'unknown-feed' | 'conflict';

export class FeedControlError extends AgentError {
  override name = 'FeedControlError';
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
