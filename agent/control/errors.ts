// Errors of the operator's feed controls. `reason` decides the HTTP status at
// the admin endpoint (feed-control-routes.ts), the only place it is converted.

export type FeedControlErrorReason = 'unknown-feed' | 'conflict';

export class FeedControlError extends Error {
  override name = 'FeedControlError';
  constructor(
    message: string,
    /** unknown-feed: no configured feed has that name (404). conflict: not allowed in the feed's state (409). */
    readonly reason: FeedControlErrorReason,
    readonly feed: string,
  ) {
    super(message);
  }
}
