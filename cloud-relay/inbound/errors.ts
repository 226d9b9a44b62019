// Why an inbound write or read was refused. Codes and remedies: cloud-relay/errors.ts (WL_INBOUND_*).
// The HTTP routes and the gRPC service map each class to its status at their boundary.
import { RelayError, RelayErrorCode } from '../errors.js';

/** The vendor is not granted writes to the channel at the hospital (HTTP 403, gRPC PERMISSION_DENIED). */
export class InboundNotGrantedError extends RelayError {
  override name = 'InboundNotGrantedError';
  constructor(
    readonly vendor: string,
    readonly hospital: string,
    readonly channel: string,
  ) {
    super(
      `vendor "${vendor}" is not granted inbound channel "${channel}" of hospital "${hospital}" (vendors[].grants[].inbound in the relay config)`,
      RelayErrorCode.INBOUND_NOT_GRANTED,
    );
  }
}

/** The hospital's agent never declared the channel (HTTP 404, gRPC NOT_FOUND). */
export class InboundUnknownChannelError extends RelayError {
  override name = 'InboundUnknownChannelError';
  constructor(
    readonly hospital: string,
    readonly channel: string,
  ) {
    super(`hospital "${hospital}" has no inbound channel "${channel}": its agent never declared it`, RelayErrorCode.INBOUND_UNKNOWN_CHANNEL);
  }
}

/** Idempotency-Key missing or too long (HTTP 400, gRPC INVALID_ARGUMENT). */
export class InboundIdempotencyKeyError extends RelayError {
  override name = 'InboundIdempotencyKeyError';
  constructor(message: string) {
    super(message, RelayErrorCode.INBOUND_IDEMPOTENCY_KEY);
  }
}

/** The Idempotency-Key was used for another body (HTTP 409, gRPC ALREADY_EXISTS). */
export class InboundKeyConflictError extends RelayError {
  override name = 'InboundKeyConflictError';
  constructor(
    readonly idempotencyKey: string,
    /** The id of the event the key first wrote. */
    readonly existingId: string,
  ) {
    super(`Idempotency-Key ${JSON.stringify(idempotencyKey)} was already used for another body (event ${existingId}); nothing was stored`, RelayErrorCode.INBOUND_KEY_CONFLICT);
  }
}

/** The body is larger than the channel takes (HTTP 413, gRPC RESOURCE_EXHAUSTED). */
export class InboundTooLargeError extends RelayError {
  override name = 'InboundTooLargeError';
  constructor(
    readonly channel: string,
    readonly limitBytes: number,
  ) {
    super(`channel "${channel}" takes bodies of at most ${limitBytes} bytes`, RelayErrorCode.INBOUND_TOO_LARGE);
  }
}

/** The content type is not one the channel takes (HTTP 415, gRPC INVALID_ARGUMENT). */
export class InboundContentTypeError extends RelayError {
  override name = 'InboundContentTypeError';
  constructor(message: string) {
    super(message, RelayErrorCode.INBOUND_CONTENT_TYPE);
  }
}

/** The body does not fit the channel's declaration; `field` names the path at fault (HTTP 422, gRPC INVALID_ARGUMENT). */
export class InboundUnfitError extends RelayError {
  override name = 'InboundUnfitError';
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message, RelayErrorCode.INBOUND_UNFIT);
  }
}

/** No event with that id that this vendor wrote at this hospital (HTTP 404, gRPC NOT_FOUND). */
export class InboundNotFoundError extends RelayError {
  override name = 'InboundNotFoundError';
  constructor(
    readonly hospital: string,
    readonly id: string,
  ) {
    super(`no inbound event ${JSON.stringify(id)} of yours at hospital "${hospital}"`, RelayErrorCode.INBOUND_NOT_FOUND);
  }
}

/** The store was closed (the relay is stopping). */
export class InboundStoreClosedError extends RelayError {
  override name = 'InboundStoreClosedError';
  constructor() {
    super('the inbound store is closed', RelayErrorCode.INBOUND_STORE_CLOSED);
  }
}
