// The sinks' errors. A hospital system's answer is never an error (it is a
// SinkOutcome); these are the conditions around it that an operator fixes.
import { AgentError, AgentErrorCode } from '../../errors.js';

/** The system refuses Wardline's setup (table, columns, login, permission, secret): no delivery can succeed until fixed. */
export class SinkSetupError extends AgentError {
  constructor(
    /** "mllp", "webhook" or "inbox". */
    readonly sink: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, AgentErrorCode.SINK_SETUP, options);
  }
}

/** settle() or withdraw() could not reach the system; ask again later. */
export class SinkUnavailableError extends AgentError {
  readonly retryable = true;

  constructor(
    readonly sink: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, AgentErrorCode.SINK_UNAVAILABLE, options);
  }
}
