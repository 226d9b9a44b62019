// The relay's WL_INBOUND_* codes: each documented with a remedy, each raised by a class of
// cloud-relay/inbound/errors.ts, and each mapped to the HTTP and gRPC status vendors are told.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { RelayErrorCode } from '../../cloud-relay/errors.js';
import { grpcCodeFor } from '../../cloud-relay/grpc/grpc-status.js';
import { httpStatusFor } from '../../cloud-relay/http/feed-http.js';
import {
  InboundContentTypeError,
  InboundIdempotencyKeyError,
  InboundKeyConflictError,
  InboundNotFoundError,
  InboundNotGrantedError,
  InboundStoreClosedError,
  InboundTooLargeError,
  InboundUnfitError,
  InboundUnknownChannelError,
} from '../../cloud-relay/inbound/index.js';

const cases: [Error & { code: string }, string, number, Status][] = [
  [new InboundNotGrantedError('app', 'h1', 'bookings'), RelayErrorCode.INBOUND_NOT_GRANTED, 403, Status.PERMISSION_DENIED],
  [new InboundUnknownChannelError('h1', 'bookings'), RelayErrorCode.INBOUND_UNKNOWN_CHANNEL, 404, Status.NOT_FOUND],
  [new InboundIdempotencyKeyError('Idempotency-Key is required'), RelayErrorCode.INBOUND_IDEMPOTENCY_KEY, 400, Status.INVALID_ARGUMENT],
  [new InboundKeyConflictError('k', 'ibaaaaaaaaaaaaaaaaaa'), RelayErrorCode.INBOUND_KEY_CONFLICT, 409, Status.ALREADY_EXISTS],
  [new InboundTooLargeError('bookings', 1024), RelayErrorCode.INBOUND_TOO_LARGE, 413, Status.RESOURCE_EXHAUSTED],
  [new InboundContentTypeError('text/plain'), RelayErrorCode.INBOUND_CONTENT_TYPE, 415, Status.INVALID_ARGUMENT],
  [new InboundUnfitError('$.slot is required', '$.slot'), RelayErrorCode.INBOUND_UNFIT, 422, Status.INVALID_ARGUMENT],
  [new InboundNotFoundError('h1', 'ibaaaaaaaaaaaaaaaaaa'), RelayErrorCode.INBOUND_NOT_FOUND, 404, Status.NOT_FOUND],
  [new InboundStoreClosedError(), RelayErrorCode.INBOUND_STORE_CLOSED, 503, Status.UNAVAILABLE],
];

describe('WL_INBOUND_* codes', () => {
  it('every inbound code has a class, an HTTP status and a gRPC status', () => {
    const inboundCodes = Object.values(RelayErrorCode).filter((code) => code.startsWith('WL_INBOUND_'));
    expect(cases.map(([, code]) => code).sort()).toEqual([...inboundCodes].sort());
    for (const [error, code, http, grpc] of cases) {
      expect(error.code, error.name).toBe(code);
      expect(httpStatusFor(error), error.name).toBe(http);
      expect(grpcCodeFor(error), error.name).toBe(grpc);
    }
  });

  it('each has a remedy line in cloud-relay/errors.ts', () => {
    const text = readFileSync(join(import.meta.dirname, '../../cloud-relay/errors.ts'), 'utf8');
    for (const key of Object.keys(RelayErrorCode).filter((k) => k.startsWith('INBOUND_'))) {
      const doc = new RegExp(`/\\*\\*([^]*?)\\*/\\s*${key}:`).exec(text)?.[1] ?? '';
      expect(doc.replace(/\s*\*\s*/g, ' ').length, key).toBeGreaterThan(60);
    }
  });
});
