// Errors of the replication path. `retryable` decides whether the replicator backs
// off and reconnects (true) or stays down until an operator acts (false).

export class RelayLinkError extends Error {
  override name = 'RelayLinkError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly phase: 'connect' | 'handshake' | 'stream',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The relay broke the protocol (an ack beyond what was sent, a reply with nothing in flight). */
export class RelayProtocolViolation extends Error {
  override name = 'RelayProtocolViolation';
}

/** A batch stayed unacknowledged past the ack timeout: the link is treated as dead. */
export class AckTimeoutError extends Error {
  override name = 'AckTimeoutError';
  constructor(
    readonly feed: string,
    readonly waitedMs: number,
  ) {
    super(`no reply from the relay for feed ${feed} within ${waitedMs} ms`);
  }
}
