// Errors of the downlink's delivery side: an operator's control that names
// nothing or does not fit the event's state, and an event whose body is gone.
// Codes and remedies: agent/errors.ts; HTTP status is chosen at the routes.
import { AgentError, AgentErrorCode } from '../errors.js';

export type InboundControlProblem = 'unknown-channel' | 'unknown-event' | 'conflict';

const CODES: Record<InboundControlProblem, AgentErrorCode> = {
  'unknown-channel': AgentErrorCode.UNKNOWN_INBOUND_CHANNEL,
  'unknown-event': AgentErrorCode.UNKNOWN_INBOUND_EVENT,
  conflict: AgentErrorCode.INBOUND_CONTROL_CONFLICT,
};

/** A pause, resume, replay or refuse that cannot be done; `problem` decides the HTTP status (404, 404, 409). */
export class InboundControlError extends AgentError {
  constructor(
    message: string,
    readonly problem: InboundControlProblem,
    /** The channel or event id named. */
    readonly subject: string,
    options?: { cause?: unknown },
  ) {
    super(message, CODES[problem], options);
  }
}

/** The journal no longer holds an inbound event's body: the event is quarantined, never delivered empty. */
export class InboundEventLostError extends AgentError {
  constructor(
    readonly id: string,
    readonly seq: number,
    options?: { cause?: unknown },
  ) {
    super(`inbound event ${id}: the journal no longer holds its body (seq ${seq})`, AgentErrorCode.INBOUND_EVENT_LOST, options);
  }
}
