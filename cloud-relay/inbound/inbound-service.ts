// The gRPC Inbound service for vendors: Write and Get (unary) and Receipts
// (server streaming, with follow the live tail), authenticated like Feeds with
// `authorization: Bearer <vendor key>` metadata. Writes are decided by the same
// InboundWriter as the HTTP API, so both answer alike; errors become gRPC
// statuses only at grpc-status.ts.
//
// Failure modes handled:
//  1. A receipt stored between a page read and the wait: the store subscription
//     is taken before the first read and a wake-up is remembered, so it is sent.
//  2. A slow vendor on Receipts: each write waits for drain (writeMessage), and
//     one that reads nothing for stalledResponseMs is ended with UNAVAILABLE.
//  3. The vendor cancels, or the relay stops: the call's AbortSignal ends the
//     wait; closeAll() ends follow streams with UNAVAILABLE (WL_SHUTTING_DOWN)
//     so vendors reconnect from their cursor.
//  4. A vendor asking for another vendor's event: NOT_FOUND, as for an id that
//     does not exist.
import type { sendUnaryData, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  INBOUND_CONTENT_TYPES,
  NAME_PATTERN,
  pb,
  receiptFields,
  type InboundContentType,
  type InboundGetRequest,
  type InboundStatusMessage,
  type InboundWriteRequest,
  type ReceiptsRequest,
} from '../../protocol/index.js';
import { BadRequestError, RelayError, ShuttingDownError } from '../errors.js';
import type { VendorAuth } from '../feeds/index.js';
import { toGrpcStatus, writeMessage } from '../grpc/index.js';
import { InboundContentTypeError, InboundNotFoundError } from './errors.js';
import type { InboundRecord, InboundStore, StoredReceipt } from './inbound-store.js';
import type { InboundWriter } from './inbound-writer.js';

/** Receipts read from the store per page of a Receipts call. */
export const RECEIPTS_PAGE = 500;
/** Default for stalledResponseMs, in milliseconds (as feedLimits.stalledResponseMs). */
const DEFAULT_STALL_MS = 30_000;

export type ReceiptsCall = ServerWritableStream<ReceiptsRequest, InboundStatusMessage>;

export interface InboundServiceOptions {
  store: InboundStore;
  writer: InboundWriter;
  vendors: VendorAuth;
  logger: Logger;
  /** A Receipts call whose vendor reads nothing for this long is ended, in milliseconds; default 30000. */
  stalledResponseMs?: number;
}

function receiptProto(receipt: NonNullable<InboundRecord['receipt']>) {
  return pb.InboundReceipt.create(receiptFields(receipt));
}

/** An event as InboundStatus. */
export function toInboundStatusProto(record: InboundRecord, replayed = false): InboundStatusMessage {
  return pb.InboundStatus.create({
    id: record.id,
    hospitalId: record.hospital,
    channel: record.channel,
    key: record.key,
    state: record.state,
    receivedAtMs: record.receivedAtMs,
    expiresAtMs: record.expiresAtMs,
    replayed,
    ...(record.receipt ? { receipt: receiptProto(record.receipt), receiptSeq: record.receipt.receiptSeq } : {}),
  });
}

/** One receipt of the Receipts stream as InboundStatus: the state it tells, with its event's times when still held. */
function receiptStatus(receipt: StoredReceipt, record: InboundRecord | undefined): InboundStatusMessage {
  return pb.InboundStatus.create({
    id: receipt.id,
    hospitalId: receipt.hospital,
    channel: receipt.channel,
    key: receipt.key,
    state: receipt.final ? receipt.outcome : 'quarantined',
    receivedAtMs: record?.receivedAtMs ?? 0,
    expiresAtMs: record?.expiresAtMs ?? 0,
    receipt: receiptProto(receipt),
    receiptSeq: receipt.receiptSeq,
  });
}

export class InboundGrpcService {
  private readonly active = new Set<AbortController>();

  constructor(private readonly options: InboundServiceOptions) {}

  /** The implementation to pass to `server.addService(InboundService, …)`. */
  get implementation() {
    return {
      write: (call: ServerUnaryCall<InboundWriteRequest, InboundStatusMessage>, callback: sendUnaryData<InboundStatusMessage>) => void this.unary(call, callback, () => this.write(call)),
      get: (call: ServerUnaryCall<InboundGetRequest, InboundStatusMessage>, callback: sendUnaryData<InboundStatusMessage>) => void this.unary(call, callback, () => this.get(call)),
      receipts: (call: ReceiptsCall) => void this.receipts(call),
    };
  }

  /** Ends every open Receipts stream with UNAVAILABLE (relay shutdown). */
  closeAll(): void {
    for (const controller of this.active) controller.abort(new ShuttingDownError());
  }

  private async write(call: ServerUnaryCall<InboundWriteRequest, InboundStatusMessage>): Promise<InboundStatusMessage> {
    const request = call.request;
    const hospital = nameOf(request.hospitalId, 'hospital_id');
    const channel = nameOf(request.channel, 'channel');
    const access = this.options.vendors.authorizeWrite(authorizationOf(call), hospital, channel);
    if (!(INBOUND_CONTENT_TYPES as readonly string[]).includes(request.contentType)) {
      throw new InboundContentTypeError(`content_type ${JSON.stringify(request.contentType)}: expected ${INBOUND_CONTENT_TYPES.join(' or ')}`);
    }
    const { record, replayed } = await this.options.writer.write(access, {
      idempotencyKey: request.idempotencyKey,
      contentType: request.contentType as InboundContentType,
      body: Buffer.from(request.body),
      ...(request.ttlMs ? { ttlMs: Number(request.ttlMs) } : {}),
      ...(request.key ? { key: request.key } : {}),
    });
    return toInboundStatusProto(record, replayed);
  }

  private async get(call: ServerUnaryCall<InboundGetRequest, InboundStatusMessage>): Promise<InboundStatusMessage> {
    const hospital = nameOf(call.request.hospitalId, 'hospital_id');
    const vendor = this.options.vendors.identify(authorizationOf(call));
    const record = await this.options.store.get(hospital, call.request.id);
    if (!record || record.vendor !== vendor) throw new InboundNotFoundError(hospital, call.request.id);
    return toInboundStatusProto(record);
  }

  private async unary<Req>(call: ServerUnaryCall<Req, InboundStatusMessage>, callback: sendUnaryData<InboundStatusMessage>, serve: () => Promise<InboundStatusMessage>): Promise<void> {
    try {
      callback(null, await serve());
    } catch (error) {
      this.logRefusal(error, call.getPeer());
      callback(toGrpcStatus(error));
    }
  }

  private async receipts(call: ReceiptsCall): Promise<void> {
    const { store, vendors } = this.options;
    const stalledMs = this.options.stalledResponseMs ?? DEFAULT_STALL_MS;
    const controller = new AbortController();
    const signal = controller.signal;
    this.active.add(controller);
    const gone = () => controller.abort(new Error('subscriber went away'));
    call.on('cancelled', gone);
    let unsubscribe: (() => void) | undefined;
    try {
      const request = call.request;
      const hospital = nameOf(request.hospitalId, 'hospital_id');
      const channel = nameOf(request.channel, 'channel');
      const after = Number(request.after);
      if (!Number.isSafeInteger(after) || after < 0) throw new BadRequestError(`after: expected a non-negative integer, got ${request.after}`, 'after');
      const access = vendors.authorizeWrite(authorizationOf(call), hospital, channel);
      await this.options.writer.channel(hospital, channel);
      // Subscribed before the first read; `news` remembers a receipt stored while a page was sent.
      let news = false;
      let wake: (() => void) | undefined;
      unsubscribe = store.subscribe(hospital, (what, ofChannel) => {
        if (what !== 'receipt' || ofChannel !== channel) return;
        news = true;
        wake?.();
      });
      let cursor = after;
      for (;;) {
        news = false;
        const page = await store.receipts(hospital, channel, access.vendor, cursor, RECEIPTS_PAGE);
        for (const receipt of page) {
          await writeMessage(call, receiptStatus(receipt, await store.get(hospital, receipt.id)), signal, stalledMs);
          cursor = receipt.receiptSeq;
        }
        if (page.length === RECEIPTS_PAGE) continue;
        if (!request.follow) break;
        if (!news) {
          await new Promise<void>((resolve, reject) => {
            const onAbort = () => reject(signal.reason);
            wake = () => {
              signal.removeEventListener('abort', onAbort);
              resolve();
            };
            if (signal.aborted) onAbort();
            else signal.addEventListener('abort', onAbort, { once: true });
          }).finally(() => (wake = undefined));
        }
      }
      call.end();
    } catch (error) {
      const reason: unknown = signal.aborted ? signal.reason : error;
      if (signal.aborted && !(reason instanceof ShuttingDownError)) return; // the vendor went away: nobody to tell
      this.logRefusal(reason, call.getPeer());
      call.emit('error', toGrpcStatus(reason));
    } finally {
      unsubscribe?.();
      call.off('cancelled', gone);
      this.active.delete(controller);
    }
  }

  private logRefusal(error: unknown, peer: string): void {
    if (error instanceof ShuttingDownError) return;
    if (error instanceof RelayError) this.options.logger.warn({ peer, code: error.code, reason: error.message }, 'inbound call refused');
    else this.options.logger.error({ peer, err: error }, 'inbound call failed');
  }
}

function nameOf(value: string, parameter: string): string {
  if (!NAME_PATTERN.test(value)) throw new BadRequestError(`${parameter}: expected a name (letters, digits, ".", "_" or "-"), got ${JSON.stringify(value)}`, parameter);
  return value;
}

function authorizationOf(call: { metadata: { get(key: string): (string | Buffer)[] } }): string | undefined {
  const value = call.metadata.get('authorization')[0];
  return value === undefined ? undefined : value.toString();
}
