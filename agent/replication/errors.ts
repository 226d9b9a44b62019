// Errors of the replication path. `retryable` decides whether the replicator backs
// off and reconnects (true) or stays down until an operator acts (false). Codes
// and remedies: agent/errors.ts.
import { AgentError, AgentErrorCode } from '../errors.js';

export class RelayLinkError extends AgentError {
  constructor(message: string, readonly retryable: boolean, readonly phase: 'connect' | 'handshake' | 'stream', options?: { cause?: unknown }) {
    super(message, AgentErrorCode.RELAY_LINK, options);
  }
}

/** The relay broke the protocol (an ack beyond what was sent, a reply with nothing in flight). */
export class RelayProtocolViolation extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, AgentErrorCode.RELAY_PROTOCOL_VIOLATION, options);
  }
}

/** A batch stayed unacknowledged past the ack timeout: the link is treated as dead. */
export class AckTimeoutError extends AgentError {
  constructor(readonly feed: string, readonly waitedMs: number, options?: { cause?: unknown }) {
    super(`no reply from the relay for feed ${feed} within ${waitedMs} ms`, AgentErrorCode.ACK_TIMEOUT, options);
  }
}

/** A link state change the state machine does not allow: a bug, never a condition of the line. */
export class IllegalLinkTransitionError extends AgentError {
  constructor(readonly from: string, readonly to: string) {
    super(`illegal link transition ${from} -> ${to}`, AgentErrorCode.ILLEGAL_LINK_TRANSITION);
  }
}

/**
 * The relay refused a blob request (BlobHave.error, BlobPartAck.error): a
 * malformed manifest, a feed not granted, a part at the wrong offset or a chunk
 * whose hash did not match. `received` is what the relay holds of the chunk (a
 * refused part only): the sender resumes there.
 */
export class BlobRefusedError extends AgentError {
  constructor(message: string, readonly received?: number) {
    super(message, AgentErrorCode.BLOB_TRANSFER);
  }
}

/** The relay refused a proof request (ProofAnswer.error) or does not take proofs at all (no "proof-v1"). */
export class ProofRefusedError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, AgentErrorCode.PROOF_UNAVAILABLE, options);
  }
}

/**
 * A completeness proof found the relay holding an event otherwise than this agent
 * sent it (altered), or holding one it never sent. Never thrown at the data path:
 * it is what the incident is logged, alerted and recorded as; nothing is overwritten.
 */
export class IntegrityIncidentError extends AgentError {
  constructor(
    readonly feed: string,
    readonly seq: number,
    readonly kind: string,
    problem: string,
  ) {
    super(`integrity incident in feed ${feed} at seq ${seq} (${kind}): ${problem}`, AgentErrorCode.INTEGRITY_INCIDENT);
  }
}

/**
 * The relay refused protocol 2 (FAILED_PRECONDITION, WL_PROTOCOL_VERSION): it is
 * older and speaks `relayVersion`. The replicator reconnects at once in that
 * version, without inbound channels, and tries 2 again later.
 */
export class RelayProtocolTooOldError extends AgentError {
  constructor(
    readonly relayVersion: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, AgentErrorCode.RELAY_PROTOCOL_TOO_OLD, options);
  }
}

/** The relay refused a receipt (ReceiptAck.error): logged, and the receipt is dropped (the relay will never take it). */
export class InboundReceiptRefusedError extends AgentError {
  constructor(
    readonly id: string,
    readonly relayError: string,
  ) {
    super(`relay refused the receipt of inbound event ${id}: ${relayError}`, AgentErrorCode.INBOUND_RECEIPT_REFUSED);
  }
}

/** The intake could not journal a delivery: nothing of it is acknowledged, and the stream is closed so the relay resends it. */
export class InboundIntakeError extends AgentError {
  constructor(
    readonly channel: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, AgentErrorCode.INBOUND_INTAKE_FAILED, options);
  }
}
