// The vendor side of the downlink over HTTP:
//   POST /v1/hospitals/{hospital}/inbound/{channel}            write an event (202), vendor key with a write grant
//   GET  /v1/hospitals/{hospital}/inbound/{id}                 where the event is (the vendor that wrote it only)
//   GET  /v1/hospitals/{hospital}/inbound/{channel}/receipts?after=&limit=&wait=
//                                                              NDJSON receipts of the vendor's own events, long-poll
// A write is JSON (Content-Type: application/json) or HL7 v2 (x-application/hl7-v2+er7,
// the ordering key in Wardline-Key); Idempotency-Key is required; Wardline-TTL-Ms is
// optional. Errors are thrown as relay errors; feed-http.ts turns them into
// `{ "error": { "code", "message"[, "field"] } }` with the status of inboundHttpStatus().
//
// Failure modes handled:
//  1. A body larger than the channel takes: refused from Content-Length before
//     a byte is read, or, chunked, as soon as the limit is passed; the rest is
//     never read (the connection is closed after the 413).
//  2. A client that sends its body slowly forever: the server's requestTimeout
//     ends it (node:http), nothing is stored before the whole body is in.
//  3. A long-poll whose receipt arrives between the read and the wait: the
//     store subscription is taken before the first read, so it is not missed.
//  4. A long-poll open at shutdown: close() ends every wait at once and the
//     reads answer with what they have (possibly nothing), so stop is not held.
//  5. A vendor guessing another vendor's ids: a GET of an id it did not write
//     is 404, the same as an id that does not exist.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  HL7_V2_CONTENT_TYPE,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  INBOUND_ID_PATTERN,
  inboundEventPath,
  NAME_PATTERN,
  RECEIPTS_NEXT_AFTER_HEADER,
  toInboundStatusJson,
  toReceiptJson,
  WARDLINE_KEY_HEADER,
  WARDLINE_TTL_HEADER,
  type InboundContentType,
} from '../../protocol/index.js';
import { BadRequestError, MethodNotAllowedError } from '../errors.js';
import type { VendorAuth } from '../feeds/index.js';
import {
  DEFAULT_RECEIPTS_LIMIT,
  InboundContentTypeError,
  InboundIdempotencyKeyError,
  InboundKeyConflictError,
  InboundNotFoundError,
  InboundNotGrantedError,
  InboundStoreClosedError,
  InboundTooLargeError,
  InboundUnfitError,
  InboundUnknownChannelError,
  MAX_RECEIPTS_LIMIT,
  MAX_RECEIPTS_WAIT_MS,
  type InboundStore,
  type InboundWriter,
} from '../inbound/index.js';
import { sendJson } from './json-body.js';
import { decodePathSegment } from './path-segment.js';

const WRITE_OR_GET_PATH = /^\/v1\/hospitals\/([^/]+)\/inbound\/([^/]+)$/;
const RECEIPTS_PATH = /^\/v1\/hospitals\/([^/]+)\/inbound\/([^/]+)\/receipts$/;

export interface InboundRouteOptions {
  store: InboundStore;
  writer: InboundWriter;
  vendors: VendorAuth;
}

/** The HTTP status of an inbound error, or undefined for any other error (feed-http.ts decides those). */
export function inboundHttpStatus(error: unknown): number | undefined {
  if (error instanceof InboundIdempotencyKeyError) return 400;
  if (error instanceof InboundNotGrantedError) return 403;
  if (error instanceof InboundUnknownChannelError || error instanceof InboundNotFoundError) return 404;
  if (error instanceof InboundKeyConflictError) return 409;
  if (error instanceof InboundTooLargeError) return 413;
  if (error instanceof InboundContentTypeError) return 415;
  if (error instanceof InboundUnfitError) return 422;
  if (error instanceof InboundStoreClosedError) return 503;
  return undefined;
}

/** What an inbound error adds to the error JSON and the headers: the field at fault, the id a key first wrote. */
export function inboundErrorExtras(error: unknown): { body: Record<string, string>; headers: Record<string, string> } {
  if (error instanceof InboundUnfitError && error.field !== undefined) return { body: { field: error.field }, headers: {} };
  if (error instanceof InboundKeyConflictError) return { body: { id: error.existingId }, headers: {} };
  // The unread rest of the body is not drained: the connection ends after the answer.
  if (error instanceof InboundTooLargeError) return { body: {}, headers: { connection: 'close' } };
  return { body: {}, headers: {} };
}

/** The route's metrics name, or undefined when the path is not one of these routes. */
export function inboundRouteName(path: string, method: string | undefined): string | undefined {
  if (RECEIPTS_PATH.test(path)) return 'inbound-receipts';
  if (WRITE_OR_GET_PATH.test(path)) return method === 'POST' ? 'inbound-write' : 'inbound-get';
  return undefined;
}

/** The methods a path of these routes takes (for 405's Allow), or undefined. */
export function inboundAllowedMethods(path: string): string | undefined {
  if (RECEIPTS_PATH.test(path)) return 'GET';
  if (WRITE_OR_GET_PATH.test(path)) return 'GET, POST';
  return undefined;
}

export interface InboundRoutes {
  /** Serves the routes above; undefined for any other path (the caller goes on). */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> | undefined;
  /** Ends every receipts long-poll at once (relay shutdown). */
  close(): void;
}

export function createInboundRoutes(options: InboundRouteOptions): InboundRoutes {
  const { store, writer, vendors } = options;
  const waiting = new Set<AbortController>();

  async function write(req: IncomingMessage, res: ServerResponse, hospital: string, channel: string): Promise<void> {
    const access = vendors.authorizeWrite(req.headers.authorization, hospital, channel);
    const declaration = await writer.channel(hospital, channel);
    writer.checkIdempotencyKey(header(req, IDEMPOTENCY_KEY_HEADER));
    const contentType = contentTypeOf(req.headers['content-type']);
    writer.checkContentType(declaration, contentType);
    const body = await readBody(req, channel, writer.bodyLimit(declaration));
    const ttl = header(req, WARDLINE_TTL_HEADER);
    const { record, replayed } = await writer.write(access, {
      idempotencyKey: header(req, IDEMPOTENCY_KEY_HEADER),
      contentType,
      body,
      ...(ttl === undefined ? {} : { ttlMs: parseTtl(ttl) }),
      ...(header(req, WARDLINE_KEY_HEADER) === undefined ? {} : { key: header(req, WARDLINE_KEY_HEADER)! }),
    });
    sendJson(res, 202, toInboundStatusJson(record), {
      location: inboundEventPath(hospital, record.id),
      ...(replayed ? { [IDEMPOTENT_REPLAYED_HEADER]: 'true' } : {}),
    });
  }

  async function get(req: IncomingMessage, res: ServerResponse, hospital: string, id: string): Promise<void> {
    const vendor = vendors.identify(req.headers.authorization);
    const record = INBOUND_ID_PATTERN.test(id) ? await store.get(hospital, id) : undefined;
    if (!record || record.vendor !== vendor) throw new InboundNotFoundError(hospital, id);
    sendJson(res, 200, toInboundStatusJson(record));
  }

  async function receipts(req: IncomingMessage, res: ServerResponse, url: URL, hospital: string, channel: string): Promise<void> {
    const access = vendors.authorizeWrite(req.headers.authorization, hospital, channel);
    await writer.channel(hospital, channel);
    const after = integerParameter(url, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = integerParameter(url, 'limit', DEFAULT_RECEIPTS_LIMIT, 1, MAX_RECEIPTS_LIMIT);
    const waitMs = integerParameter(url, 'wait', 0, 0, MAX_RECEIPTS_WAIT_MS);
    const controller = new AbortController();
    waiting.add(controller);
    const gone = () => controller.abort();
    res.once('close', gone);
    // Subscribed before the first read: a receipt stored in between still wakes the wait.
    let wake: (() => void) | undefined;
    const unsubscribe = store.subscribe(hospital, (what, ofChannel) => {
      if (what === 'receipt' && ofChannel === channel) wake?.();
    });
    try {
      const deadline = Date.now() + waitMs;
      let found = await store.receipts(hospital, channel, access.vendor, after, limit);
      while (found.length === 0 && !controller.signal.aborted && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, deadline - Date.now());
          controller.signal.addEventListener('abort', done, { once: true });
          wake = done;
          function done(): void {
            clearTimeout(timer);
            controller.signal.removeEventListener('abort', done);
            wake = undefined;
            resolve();
          }
        });
        found = await store.receipts(hospital, channel, access.vendor, after, limit);
      }
      if (res.destroyed) return;
      const next = found.length > 0 ? found[found.length - 1]!.receiptSeq : after;
      res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', [RECEIPTS_NEXT_AFTER_HEADER]: String(next) });
      res.end(found.map((receipt) => `${JSON.stringify(toReceiptJson(receipt))}\n`).join(''));
    } finally {
      unsubscribe();
      res.off('close', gone);
      waiting.delete(controller);
    }
  }

  return {
    handle(req, res, url) {
      const receiptsMatch = RECEIPTS_PATH.exec(url.pathname);
      if (receiptsMatch) {
        if (req.method !== 'GET') throw new MethodNotAllowedError(req.method ?? '?');
        return receipts(req, res, url, hospitalOf(receiptsMatch[1]!), channelOf(receiptsMatch[2]!));
      }
      const match = WRITE_OR_GET_PATH.exec(url.pathname);
      if (!match) return undefined;
      const hospital = hospitalOf(match[1]!);
      if (req.method === 'POST') return write(req, res, hospital, channelOf(match[2]!));
      if (req.method === 'GET') return get(req, res, hospital, decodePathSegment(match[2]!, 'id', { test: () => true }, 'an inbound id'));
      throw new MethodNotAllowedError(req.method ?? '?');
    },
    close() {
      for (const controller of waiting) controller.abort();
    },
  };
}

function hospitalOf(segment: string): string {
  return decodePathSegment(segment, 'hospital', NAME_PATTERN, 'a hospital id (letters, digits, ".", "_" or "-")');
}

function channelOf(segment: string): string {
  return decodePathSegment(segment, 'channel', NAME_PATTERN, 'a channel name (letters, digits, ".", "_" or "-")');
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The body kind of a Content-Type; InboundContentTypeError for any other. */
export function contentTypeOf(value: string | undefined): InboundContentType {
  const type = (value ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (type === HL7_V2_CONTENT_TYPE || type === 'application/hl7-v2+er7') return 'hl7v2';
  throw new InboundContentTypeError(
    `Content-Type ${value === undefined ? 'is missing' : JSON.stringify(value)}: expected application/json, or ${HL7_V2_CONTENT_TYPE} with the ordering key in Wardline-Key`,
  );
}

function parseTtl(value: string): number {
  if (!/^[0-9]{1,15}$/.test(value.trim()) || Number(value) <= 0) {
    throw new BadRequestError(`Wardline-TTL-Ms: expected a positive whole number of milliseconds, got ${JSON.stringify(value)}`, 'Wardline-TTL-Ms');
  }
  return Number(value);
}

function integerParameter(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  const value = /^[0-9]{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new BadRequestError(`${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`, name);
  }
  return value;
}

/**
 * The request body, refusing past `limit` bytes without reading further. Not an
 * async iterator: leaving one early destroys the socket, and the vendor would get
 * no 413, only a reset.
 */
function readBody(req: IncomingMessage, channel: string, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(new InboundTooLargeError(channel, limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stop();
        // Paused, not drained: the answer closes the connection (inboundErrorExtras).
        req.pause();
        reject(new InboundTooLargeError(channel, limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

