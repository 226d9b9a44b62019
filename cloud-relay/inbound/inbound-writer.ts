// A vendor's write, decided once for both APIs (HTTP inbound-routes.ts and gRPC
// inbound-service.ts): the channel must be declared, the Idempotency-Key
// present, the kind, size, fields, key and TTL must fit the declaration, and
// only then is it stored. The transports parse their own framing and convert
// the errors thrown here to their statuses.
//
// Failure modes handled:
//  1. A body the agent could not map (a required field missing): refused here
//     (422 naming the field), never stored, so it cannot sit quarantined at the
//     hospital; the relay checks with the declaration the agent itself sent.
//  2. A channel whose agent declares more than the relay accepts: the
//     relay's inbound.maxBodyBytes caps the channel's limit.
//  3. A retry after the agent declared a stricter channel: the checks run
//     before the store answers, so a body the agent can no longer take is
//     refused even on a retry; the key stays bound to its first body (409 on
//     another body).
import {
  checkInboundBody,
  inboundKeyOf,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_INBOUND_KEY_LENGTH,
  type InboundChannelDeclaration,
  type InboundContentType,
} from '../../protocol/index.js';
import { InboundContentTypeError, InboundIdempotencyKeyError, InboundKeyConflictError, InboundTooLargeError, InboundUnfitError, InboundUnknownChannelError } from './errors.js';
import type { InboundRecord, InboundStore } from './inbound-store.js';

/** Who writes where (from VendorAuth.authorizeWrite). */
export interface InboundWriterAccess {
  vendor: string;
  hospital: string;
  channel: string;
}

export interface InboundWriteInput {
  idempotencyKey: string | undefined;
  contentType: InboundContentType;
  body: Buffer;
  /** Wardline-TTL-Ms / ttl_ms; undefined = the channel's default. */
  ttlMs?: number;
  /** Wardline-Key / key: the ordering key; for JSON with a key path, the body gives it when absent. */
  key?: string;
}

export interface InboundWriterOptions {
  store: InboundStore;
  /** inbound.maxBodyBytes: no channel takes more, in bytes. */
  maxBodyBytesCeiling: number;
  /** ms since the epoch; default Date.now. */
  now?: () => number;
}

export class InboundWriter {
  private readonly now: () => number;

  constructor(private readonly options: InboundWriterOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The channel's declaration; throws InboundUnknownChannelError when its agent never declared it. */
  async channel(hospital: string, channel: string): Promise<InboundChannelDeclaration> {
    const declaration = await this.options.store.channel(hospital, channel);
    if (!declaration) throw new InboundUnknownChannelError(hospital, channel);
    return declaration;
  }

  /** The most bytes a body of this channel may have: its own limit under the relay's ceiling. */
  bodyLimit(declaration: InboundChannelDeclaration): number {
    return Math.min(declaration.maxBodyBytes, this.options.maxBodyBytesCeiling);
  }

  /** Throws InboundIdempotencyKeyError unless `key` is 1 to MAX_IDEMPOTENCY_KEY_LENGTH characters. */
  checkIdempotencyKey(key: string | undefined): string {
    if (key === undefined || key === '') throw new InboundIdempotencyKeyError('Idempotency-Key is required: a key naming this event on your side, so a retry is not stored twice');
    if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) throw new InboundIdempotencyKeyError(`Idempotency-Key is ${key.length} characters; at most ${MAX_IDEMPOTENCY_KEY_LENGTH}`);
    return key;
  }

  /** Throws InboundContentTypeError unless the channel takes `contentType`. */
  checkContentType(declaration: InboundChannelDeclaration, contentType: InboundContentType): void {
    if (!declaration.contentTypes.includes(contentType)) {
      throw new InboundContentTypeError(`channel "${declaration.name}" takes ${declaration.contentTypes.join(' or ')} bodies, not ${contentType}`);
    }
  }

  /** Checks and stores; `replayed` when the Idempotency-Key already wrote this body. */
  async write(access: InboundWriterAccess, input: InboundWriteInput): Promise<{ record: InboundRecord; replayed: boolean }> {
    const declaration = await this.channel(access.hospital, access.channel);
    const idempotencyKey = this.checkIdempotencyKey(input.idempotencyKey);
    this.checkContentType(declaration, input.contentType);
    const limit = this.bodyLimit(declaration);
    if (input.body.length > limit) throw new InboundTooLargeError(access.channel, limit);
    const checked = checkInboundBody(declaration, input.contentType, input.body);
    if (!checked.ok) throw new InboundUnfitError(checked.problem.reason, checked.problem.field);
    const key = this.keyOf(declaration, input, checked.json);
    const ttlMs = input.ttlMs ?? declaration.defaultTtlMs;
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new InboundUnfitError(`Wardline-TTL-Ms: expected a positive whole number of milliseconds, got ${ttlMs}`, 'Wardline-TTL-Ms');
    if (ttlMs > declaration.maxTtlMs) {
      throw new InboundUnfitError(`Wardline-TTL-Ms: ${ttlMs} is above channel "${declaration.name}"'s maximum of ${declaration.maxTtlMs} ms`, 'Wardline-TTL-Ms');
    }
    const receivedAtMs = this.now();
    const result = await this.options.store.write({
      hospital: access.hospital,
      channel: access.channel,
      vendor: access.vendor,
      idempotencyKey,
      contentType: input.contentType,
      body: input.body,
      key,
      receivedAtMs,
      expiresAtMs: receivedAtMs + ttlMs,
    });
    switch (result.kind) {
      case 'created':
        return { record: result.record, replayed: false };
      case 'replayed':
        return { record: result.record, replayed: true };
      case 'conflict':
        throw new InboundKeyConflictError(idempotencyKey, result.existing.id);
    }
  }

  /** The ordering key: the writer's, else the body's at the key path; refused when neither or too long. */
  private keyOf(declaration: InboundChannelDeclaration, input: InboundWriteInput, json: unknown): string {
    const given = input.key === '' ? undefined : input.key;
    const fromBody = input.contentType === 'json' ? inboundKeyOf(declaration, json) : undefined;
    const key = given ?? fromBody;
    const field = given !== undefined || declaration.keyPath === '' || input.contentType !== 'json' ? 'Wardline-Key' : declaration.keyPath;
    if (key === undefined) {
      throw new InboundUnfitError(
        field === 'Wardline-Key'
          ? `Wardline-Key is required: channel "${declaration.name}" takes the ordering key from the writer for ${input.contentType} bodies`
          : `${declaration.keyPath} is required by channel "${declaration.name}": it is the ordering key (a non-empty string or a number)`,
        field,
      );
    }
    if (key.length > MAX_INBOUND_KEY_LENGTH) throw new InboundUnfitError(`the ordering key is ${key.length} characters; at most ${MAX_INBOUND_KEY_LENGTH}`, field);
    return key;
  }
}
