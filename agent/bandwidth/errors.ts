// Errors of bandwidth control. Both are configuration mistakes: the config schema
// turns them into a message naming the key, the value and the file. Codes and
// remedies: agent/errors.ts.
import { AgentError, AgentErrorCode } from '../errors.js';

/** A rate that cannot be read ("20Mb/s" is ambiguous, "fast" is not a rate). */
export class InvalidRateError extends AgentError {
  constructor(readonly input: string | number, message: string, options?: { cause?: unknown }) {
    super(message, AgentErrorCode.INVALID_RATE, options);
  }
}

/** A time of day or a list of days in a timetable window that cannot be read. */
export class InvalidTimetableError extends AgentError {
  constructor(readonly input: unknown, message: string, options?: { cause?: unknown }) {
    super(message, AgentErrorCode.INVALID_TIMETABLE, options);
  }
}
