// Why a sink could not publish. Codes and remedies: cloud-relay/errors.ts (WL_SINK_*).
// `retryable` decides what the sink runner does next: wait and reconcile, or stop the feed.
import { RelayError, RelayErrorCode } from '../errors.js';

/** NATS is unreachable or did not ack in time: retried after a backoff, starting with a reconcile. */
export class SinkUnavailableError extends RelayError {
  override name = 'SinkUnavailableError';
  readonly retryable = true;
  constructor(sink: string, cause: unknown) {
    super(`sink "${sink}": NATS did not answer: ${messageOf(cause)}`, RelayErrorCode.SINK_UNAVAILABLE, { cause });
  }
}

/** JetStream refused the publish (no stream for the subject, permissions, a full stream). Retried slowly: only the operator can fix it. */
export class SinkRefusedError extends RelayError {
  override name = 'SinkRefusedError';
  readonly retryable = true;
  constructor(sink: string, subject: string, cause: unknown) {
    super(`sink "${sink}": JetStream refused a publish to ${subject}: ${messageOf(cause)}`, RelayErrorCode.SINK_REFUSED, { cause });
  }
}

/** The subject's last message is not one of the feed's: the sink cannot tell what the stream holds, so the feed stops. */
export class SinkForeignMessageError extends RelayError {
  override name = 'SinkForeignMessageError';
  readonly retryable = false;
  constructor(
    sink: string,
    readonly subject: string,
    readonly messageId: string | undefined,
  ) {
    super(
      `sink "${sink}": the last message on ${subject} (stream seq) has Nats-Msg-Id ${JSON.stringify(messageId ?? null)}, not one of this feed's; nothing more is published to it`,
      RelayErrorCode.SINK_FOREIGN_MESSAGE,
    );
  }
}

/** Another publisher wrote to the subject since the sink's last publish (expected last subject sequence mismatch): reconcile at once. */
export class SinkSubjectMovedError extends Error {
  override name = 'SinkSubjectMovedError';
  constructor(readonly subject: string, cause: unknown) {
    super(`${subject} moved since the sink's last publish: ${messageOf(cause)}`, { cause });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
