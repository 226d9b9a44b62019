// The one place relay errors become gRPC statuses. The stable Wardline code
// travels twice: at the front of the status details (people read those) and in
// the `wardline-error-code` trailer (programs read that).
import { Metadata, status as Status, type StatusObject } from '@grpc/grpc-js';
import { ErrorCode } from '../../protocol/index.js';
import {
  ConsumerNotFoundError,
  CursorOutOfRangeError,
  AgentAuthError,
  BadBatchError,
  BadRequestError,
  BatchBeyondHeadError,
  BatchTooLargeError,
  CertificateIdentityError,
  FeedNotGrantedError,
  FeedRevokedError,
  HelloTimeoutError,
  HospitalRequiredError,
  ProtocolVersionError,
  ProtocolViolationError,
  RelayError,
  RelayErrorCode,
  ShuttingDownError,
  StalledResponseError,
  StoreUnavailableError,
  TooManyRequestsError,
  TooManyUnauthenticatedStreamsError,
  UnknownFeedError,
  VendorAuthError,
} from '../errors.js';

/** Trailer carrying the stable Wardline error code. */
export const ERROR_CODE_TRAILER = 'wardline-error-code';
/** Trailers of a refused cursor (CursorOutOfRangeError): the feed's head, its retention floor, its oldest event. */
export const HIGH_WATER_TRAILER = 'wardline-high-water';
export const RETENTION_FLOOR_TRAILER = 'wardline-retention-floor';
export const OLDEST_SEQ_TRAILER = 'wardline-oldest-seq';

/** Vendors' inbound API (cloud-relay/inbound): by code, as the HTTP routes map them to 400/403/404/409/413/415/422/503. */
const INBOUND_STATUS: ReadonlyMap<string, Status> = new Map([
  [RelayErrorCode.INBOUND_IDEMPOTENCY_KEY, Status.INVALID_ARGUMENT],
  [RelayErrorCode.INBOUND_NOT_GRANTED, Status.PERMISSION_DENIED],
  [RelayErrorCode.INBOUND_UNKNOWN_CHANNEL, Status.NOT_FOUND],
  [RelayErrorCode.INBOUND_NOT_FOUND, Status.NOT_FOUND],
  [RelayErrorCode.INBOUND_KEY_CONFLICT, Status.ALREADY_EXISTS],
  [RelayErrorCode.INBOUND_TOO_LARGE, Status.RESOURCE_EXHAUSTED],
  [RelayErrorCode.INBOUND_CONTENT_TYPE, Status.INVALID_ARGUMENT],
  [RelayErrorCode.INBOUND_UNFIT, Status.INVALID_ARGUMENT],
  [RelayErrorCode.INBOUND_STORE_CLOSED, Status.UNAVAILABLE],
]);

/** The gRPC status code for an error raised inside the relay. */
export function grpcCodeFor(error: unknown): Status {
  const inbound = error instanceof RelayError ? INBOUND_STATUS.get(error.code) : undefined;
  if (inbound !== undefined) return inbound;
  if (error instanceof AgentAuthError || error instanceof VendorAuthError) return Status.UNAUTHENTICATED;
  if (error instanceof FeedNotGrantedError || error instanceof CertificateIdentityError) return Status.PERMISSION_DENIED;
  if (error instanceof ProtocolVersionError) return Status.FAILED_PRECONDITION;
  // Resending the same range cannot help; the agent waits its longest backoff.
  if (error instanceof BatchBeyondHeadError) return Status.FAILED_PRECONDITION;
  const inflatesTooFar = error instanceof BadBatchError && error.code === ErrorCode.BATCH_INFLATION;
  if (error instanceof BatchTooLargeError || inflatesTooFar || error instanceof TooManyUnauthenticatedStreamsError || error instanceof TooManyRequestsError) {
    return Status.RESOURCE_EXHAUSTED;
  }
  if (error instanceof HelloTimeoutError) return Status.DEADLINE_EXCEEDED;
  // The relay's database (PostgreSQL) is unreachable: nothing was acknowledged, and the
  // agent reconnects with its usual backoff and resends from the durable mark.
  if (error instanceof ShuttingDownError || error instanceof StalledResponseError || error instanceof StoreUnavailableError) return Status.UNAVAILABLE;
  if (error instanceof FeedRevokedError || error instanceof ConsumerNotFoundError) return Status.NOT_FOUND;
  if (error instanceof CursorOutOfRangeError) return Status.OUT_OF_RANGE;
  // The Export RPC: a feed the relay does not hold for the hospital; a damaged blob store (the agent is told which instance).
  if (error instanceof RelayError && error.code === RelayErrorCode.EXPORT_UNKNOWN_FEED) return Status.NOT_FOUND;
  if (error instanceof RelayError && error.code === RelayErrorCode.EXPORT_BLOB_DAMAGED) return Status.DATA_LOSS;
  if (
    error instanceof ProtocolViolationError ||
    error instanceof UnknownFeedError ||
    error instanceof BadBatchError ||
    error instanceof HospitalRequiredError ||
    error instanceof BadRequestError
  ) {
    return Status.INVALID_ARGUMENT;
  }
  return Status.INTERNAL;
}

/** A status to end a call with: `WL_CODE: message`, plus the code as a trailer. */
export function toGrpcStatus(error: unknown): StatusObject {
  const code = grpcCodeFor(error);
  const wardlineCode = error instanceof RelayError ? error.code : RelayErrorCode.INTERNAL;
  // Unexpected faults are described in the relay log, not to the peer.
  // The database's address stays in the relay log too: the agent is another organisation's machine.
  const message =
    code === Status.INTERNAL
      ? 'internal relay error; nothing was acknowledged, retry (details are in the relay log)'
      : error instanceof StoreUnavailableError
        ? "the relay's database is unreachable; nothing was acknowledged, retry (details are in the relay log)"
        : (error as Error).message;
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_TRAILER, wardlineCode);
  if (error instanceof CursorOutOfRangeError) {
    metadata.set(HIGH_WATER_TRAILER, String(error.range.highWater));
    metadata.set(RETENTION_FLOOR_TRAILER, String(error.range.retentionFloorSeq));
    if (error.range.oldestSeq !== undefined) metadata.set(OLDEST_SEQ_TRAILER, String(error.range.oldestSeq));
  }
  return { code, details: `${wardlineCode}: ${message}`, metadata };
}
