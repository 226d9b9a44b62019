// Errors of the agent's HTTP side: request bodies, the admin login's password
// hashes, and feed-control requests. Codes and remedies: agent/errors.ts. The
// routes turn them into HTTP statuses; nothing here knows one.
import { AgentError, AgentErrorCode } from '../errors.js';

/** A body larger than the reader's limit; the rest of it was drained, not buffered. */
export class BodyTooLargeError extends AgentError {
  constructor(readonly limitBytes: number, options?: { cause?: unknown }) {
    super(`body exceeds ${limitBytes} bytes`, AgentErrorCode.BODY_TOO_LARGE, options);
  }
}

/** An admin password hash that is not a PHC scrypt string this agent writes; the message says what is wrong. */
export class PasswordHashFormatError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, AgentErrorCode.PASSWORD_HASH_FORMAT, options);
  }
}

/** What was wrong with a feed-control request body. */
export type FeedControlRequestProblem = 'not-json' | 'not-object' | 'unknown-member' | 'bad-reason';

/** A feed-control request body that is not `{"reason": "…"}` or empty (HTTP 400); the message says what was wrong. */
export class FeedControlRequestError extends AgentError {
  constructor(message: string, readonly problem: FeedControlRequestProblem, options?: { cause?: unknown }) {
    super(message, AgentErrorCode.FEED_CONTROL_REQUEST, options);
  }
}

/** A message-browser query parameter that cannot be used (HTTP 400); names the parameter and what was expected. */
export class MessageQueryError extends AgentError {
  constructor(readonly parameter: string, message: string, options?: { cause?: unknown }) {
    super(message, AgentErrorCode.MESSAGE_QUERY, options);
  }
}
