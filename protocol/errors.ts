/**
 * Stable error codes shared by agent, relay and vendor clients. Each carries a
 * line telling the operator what to do; the code travels in gRPC status details
 * and HTTP error bodies so logs on both sides can be matched.
 */
export const ErrorCode = {
  /** The agent's hospital id or secret is wrong. Check `relays[].secret` in agent.yaml against the relay's `hospitals[]`. */
  BAD_AGENT_CREDENTIALS: 'WL_BAD_AGENT_CREDENTIALS',
  /** The vendor key is missing, unknown or not granted this feed. Ask the hospital for a grant. */
  BAD_VENDOR_KEY: 'WL_BAD_VENDOR_KEY',
  /** The agent and relay speak different protocol versions. Upgrade the older side. */
  PROTOCOL_VERSION: 'WL_PROTOCOL_VERSION',
  /** A stream message arrived out of order (for example a batch before Hello). This is a client bug. */
  PROTOCOL_VIOLATION: 'WL_PROTOCOL_VIOLATION',
  /** A batch failed to decode or its checksum did not match; the agent reconnects and resends. */
  BAD_BATCH: 'WL_BAD_BATCH',
  /** A batch exceeded the relay's size limit. Lower `replication.batchMaxBytes` on the agent. */
  BATCH_TOO_LARGE: 'WL_BATCH_TOO_LARGE',
  /** The batch names a feed the agent did not declare in Hello. */
  UNKNOWN_FEED: 'WL_UNKNOWN_FEED',
  /**
   * A batch's payload inflates past what an agent sends: more than the relay's
   * uncompressed ceiling per batch or more than the inflation ratio allows. Nothing
   * of it was stored. From a Wardline agent this means a single event larger than
   * the ceiling: raise `grpc.maxBatchBytes` on the relay; otherwise the peer is hostile.
   */
  BATCH_INFLATION: 'WL_BATCH_INFLATION',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error carrying a stable code (`WL_…`) that logs and documentation name; subclasses give their own name. */
export class CodedError<Code extends string> extends Error {
  constructor(message: string, readonly code: Code, options?: { cause?: unknown }) {
    super(message, options);
    // Every subclass is named after itself without restating it.
    this.name = new.target.name;
  }
}

/** A batch that cannot be accepted as sent: bad payload, bad checksum, too large. */
export class BatchDecodeError extends CodedError<ErrorCode> {
  override name = 'BatchDecodeError';
}
