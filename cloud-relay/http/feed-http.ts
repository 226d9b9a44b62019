// The relay's HTTP API (node:http, no framework):
//   GET /v1/feeds/{feed}/events?after=&limit=[&hospital=]   NDJSON, vendor key
//   GET /v1/hospitals/{hospital}/feeds/{feed}/studies/…     imaging instances, vendor key (imaging-routes.ts)
//   GET /v1/status    operator token: everything; vendor key: that vendor's own grants and cursors
//   GET /metrics  GET /   (the status page, HTML)   operator token only
//   GET /healthz    GET /readyz   public
//   GET /v1/signing-key, /v1/feeds/{feed}/tree-heads, /v1/feeds/{feed}/events/{seq}/proof   completeness proofs (proof-routes.ts)
//   POST/GET /v1/hospitals/{hospital}/inbound/…   vendors' inbound events and their receipts (inbound-routes.ts)
// Errors are JSON `{ "error": { "code", "message" } }`; this is the one place
// relay errors become HTTP statuses.
//
// Failure modes handled:
//  1. A vendor that asks for pages and never reads them: a page is sent in
//     chunks read from the store as the socket drains (never whole in memory),
//     a response that does not drain for stalledResponseMs is cut, and one key
//     has at most concurrentReadsPerKey pages in progress (429 past that).
//  2. A stored row the relay cannot re-serialise (a JSON body nested thousands of
//     levels deep): its stored text is sent as it is (toVendorEventLine), so a
//     page never fails on an event and the vendor's cursor never sticks.
//  3. A vendor probing the operator endpoints: they need the operator token; a
//     vendor key on /v1/status sees only that vendor's own grants and cursors.
//  4. The feed is revoked while a page is being sent: the next chunk read
//     refuses, the response is cut, and the vendor's re-read gets 410.
import { once } from 'node:events';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { toVendorEventLine, type JournalEvent } from '../../protocol/index.js';
import { NAME_PATTERN } from '../../protocol/index.js';
import { DEFAULT_STALLED_RESPONSE_MS } from '../feeds/index.js';
import {
  BadRequestError,
  ConsumerNotFoundError,
  CursorOutOfRangeError,
  FeedNotGrantedError,
  FeedRevokedError,
  StoreUnavailableError,
  HospitalRequiredError,
  ImagingNotFoundError,
  MethodNotAllowedError,
  ProofNotFoundError,
  OperatorAuthError,
  RelayError,
  RelayErrorCode,
  RouteNotFoundError,
  TooManyRequestsError,
  VendorAuthError,
  PurgeRefusedError,
} from '../errors.js';
import { writeMessage } from '../grpc/index.js';
import { OPERATOR_CHALLENGE, renderRelayStatusPage, type OperatorAuth, type RelayMetrics, type RelayStatus, type VendorOwnStatus } from '../status/index.js';
import type { BlobStore, FeedStore } from '../store/index.js';
import { nextCursor, parseFeedQuery, type ConsumerPositions, type VendorAuth, type VendorReads, type VendorSlots } from '../feeds/index.js';
import { EnrolmentTokenError } from '../enrolment/index.js';
import type { ReadinessReport } from '../../runtime/index.js';
import { createImagingRoutes, imagingRouteName } from './imaging-routes.js';
import { createProofRoutes, proofRouteName } from './proof-routes.js';
import { inboundAllowedMethods, inboundErrorExtras, inboundHttpStatus, inboundRouteName, type InboundRoutes } from './inbound-routes.js';
import { decodePathSegment } from './path-segment.js';

/** Events read from the store per chunk of a page. */
export const PAGE_CHUNK_EVENTS = 128;
/** A chunk of a page stops once its bodies pass this many bytes (it holds at least one event). */
export const PAGE_CHUNK_BYTES = 64 * 1024;

/** The feed's high-water mark when the page was read. */
export const HIGH_WATER_HEADER = 'x-wardline-high-water';
/** The `after` to pass for the next page. */
export const NEXT_AFTER_HEADER = 'x-wardline-next-after';
/** The hospital whose feed was read (useful when it was resolved from the grant). */
export const HOSPITAL_HEADER = 'x-wardline-hospital';

export interface FeedHttpOptions {
  store: FeedStore;
  vendors: VendorAuth;
  metrics: RelayMetrics;
  /** The current status document (operator token). */
  status: () => Promise<RelayStatus>;
  /** One vendor's own part of it (that vendor's key on /v1/status). */
  vendorStatus: (vendor: string) => Promise<VendorOwnStatus>;
  /** Who holds the operator token. */
  operators: OperatorAuth;
  /** Per-key bound on concurrent page reads. */
  slots: VendorSlots;
  /** A response that does not drain for this long is cut, in milliseconds; default DEFAULT_STALLED_RESPONSE_MS. */
  stalledResponseMs?: number;
  logger: Logger;
  /** A page stops once event bodies pass this many bytes; default FeedStore's DEFAULT_PAGE_MAX_BYTES. */
  pageMaxBytes?: number;
  /** Where each vendor has read up to, for the status page; absent = not tracked. */
  reads?: VendorReads;
  /** Named consumers' committed cursors (the consumer routes, and reads naming a consumer and no cursor); absent = none. */
  consumers?: ConsumerPositions;
  /** GET /readyz; absent = ready whenever the process answers. */
  readiness?: () => ReadinessReport;
  /** POST /v1/enrol (cloud-relay/enrolment): the parsed JSON body -> the JSON answer; absent = 404. */
  enrol?: (body: unknown) => Promise<unknown>;
  /** The imaging instances the feeds' blob-ref events name; absent = no imaging routes (404). */
  blobs?: BlobStore;
  /** The relay's public key text: serves the completeness-proof routes (proof-routes.ts); absent = 404. */
  signingPublicKey?: string;
  /** POST /v1/operator/purge (operator token; cloud-relay/exit/operator-purge.ts): the parsed JSON body -> the JSON answer; absent = 404. */
  purge?: (body: unknown) => Promise<unknown>;
  /** Vendors' inbound writes and receipts (inbound-routes.ts createInboundRoutes); absent = 404. */
  inbound?: InboundRoutes;
}

/** The operator's purge of a hospital or feed (`wardline relay purge`). */
export const OPERATOR_PURGE_PATH = '/v1/operator/purge';

const FEED_EVENTS_PATH = /^\/v1\/feeds\/([^/]+)\/events$/;

/** The HTTP status for an error raised while serving a request. */
export function httpStatusFor(error: unknown): number {
  const inbound = inboundHttpStatus(error);
  if (inbound !== undefined) return inbound;
  if (error instanceof VendorAuthError || error instanceof OperatorAuthError) return 401;
  if (error instanceof TooManyRequestsError) return 429;
  if (error instanceof EnrolmentTokenError) return 403;
  if (error instanceof FeedNotGrantedError) return 403;
  if (error instanceof CursorOutOfRangeError) return 409;
  if (error instanceof ConsumerNotFoundError) return 404;
  if (error instanceof HospitalRequiredError || error instanceof BadRequestError) return 400;
  if (error instanceof RouteNotFoundError || error instanceof ImagingNotFoundError || error instanceof ProofNotFoundError) return 404;
  if (error instanceof FeedRevokedError) return 410;
  if (error instanceof MethodNotAllowedError) return 405;
  if (error instanceof StoreUnavailableError) return 503;
  if (error instanceof PurgeRefusedError) return error.code === RelayErrorCode.PURGE_UNSIGNED ? 503 : error.code === RelayErrorCode.PURGE_BAD_REQUEST ? 400 : 404;
  return 500;
}

export function createFeedHttpHandler(options: FeedHttpOptions): RequestListener {
  const { store, vendors, metrics, logger } = options;

  const stalledMs = options.stalledResponseMs ?? DEFAULT_STALLED_RESPONSE_MS;
  const imaging =
    options.blobs && createImagingRoutes({ blobs: options.blobs, store, vendors, slots: options.slots, stalledResponseMs: stalledMs, logger });
  const proofs = options.signingPublicKey !== undefined ? createProofRoutes({ store, vendors, publicKeyText: options.signingPublicKey }) : undefined;

  async function serveFeedEvents(req: IncomingMessage, res: ServerResponse, url: URL, encodedFeed: string): Promise<void> {
    const feed = decodeSegment(encodedFeed);
    const query = parseFeedQuery(url.searchParams);
    const access = vendors.authorize(req.headers.authorization, feed, query.hospital);
    const release = options.slots.acquire(access.vendor, 'read');
    try {
      // Where the page ends is decided first, from seqs and sizes, so the headers can go
      // out before the bodies are read; the page is the same as one read would give.
      const extent = await store.pageExtent(access.hospital, feed, query.after, query.limit, options.pageMaxBytes);
      const cursor = nextCursor(query.after, extent);
      res.writeHead(200, {
        'content-type': 'application/x-ndjson; charset=utf-8',
        'cache-control': 'no-store',
        [HIGH_WATER_HEADER]: String(extent.highWater),
        [NEXT_AFTER_HEADER]: String(cursor),
        [HOSPITAL_HEADER]: access.hospital,
      });
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      let after = query.after;
      while (extent.lastSeq !== undefined && after < extent.lastSeq) {
        const chunk = await store.readEvents(access.hospital, feed, after, PAGE_CHUNK_EVENTS, PAGE_CHUNK_BYTES, extent.lastSeq);
        const last = chunk.events[chunk.events.length - 1];
        if (!last) break;
        after = last.seq;
        if (!(await writeOrCut(res, vendorEventLines(access.hospital, feed, chunk.events, chunk.prevSeq), gone.signal))) return;
      }
      res.end();
      // Until the last bytes reach the socket they sit in relay memory: a vendor that stops
      // reading here is cut too.
      if (!res.writableFinished && !(await finishedOrCut(res, gone.signal))) return;
      options.reads?.record(access.vendor, access.hospital, feed, cursor, 'http');
      metrics.eventsServed.inc({ api: 'http' }, extent.events);
      logger.debug({ vendor: access.vendor, hospital: access.hospital, feed, after: query.after, events: extent.events }, 'feed page served');
    } finally {
      release();
    }
  }

  /** Writes `text`; false when the vendor went away, or read nothing for stalledMs and was cut. */
  async function writeOrCut(res: ServerResponse, text: string, gone: AbortSignal): Promise<boolean> {
    try {
      await writeMessage(res, text, gone, stalledMs);
      return true;
    } catch {
      return cutUnlessGone(res, gone);
    }
  }

  async function finishedOrCut(res: ServerResponse, gone: AbortSignal): Promise<boolean> {
    try {
      await once(res, 'finish', { signal: AbortSignal.any([gone, AbortSignal.timeout(stalledMs)]) });
      return true;
    } catch {
      return cutUnlessGone(res, gone);
    }
  }

  function cutUnlessGone(res: ServerResponse, gone: AbortSignal): false {
    if (!gone.aborted) {
      logger.warn({ stalledMs }, 'feed response cut: the vendor read nothing for stalledResponseMs');
      res.destroy();
    }
    return false; // either way the vendor re-reads from its cursor
  }

  /** GET /v1/status: everything for the operator, a vendor's own part for its key. */
  async function statusFor(authorization: string | undefined): Promise<RelayStatus | VendorOwnStatus> {
    if (authorization === undefined || options.operators.isOperator(authorization)) {
      options.operators.require(authorization); // throws without a header
      return options.status();
    }
    try {
      return await options.vendorStatus(vendors.identify(authorization));
    } catch (error) {
      if (!(error instanceof VendorAuthError)) throw error;
      throw new OperatorAuthError('send the operator token, or a vendor key for that vendor\'s own status: "Authorization: Bearer <token or key>"');
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (url.pathname === '/v1/enrol' && options.enrol) {
      if (req.method !== 'POST') throw new MethodNotAllowedError(req.method ?? '?');
      return sendJson(res, 200, await options.enrol(await readJsonBody(req)));
    }
    if (url.pathname === OPERATOR_PURGE_PATH && options.purge) {
      options.operators.require(req.headers.authorization);
      if (req.method !== 'POST') throw new MethodNotAllowedError(req.method ?? '?');
      return sendJson(res, 200, await options.purge(await readJsonBody(req)));
    }
    const inboundServed = options.inbound?.handle(req, res, url);
    if (inboundServed) return inboundServed;
    if (req.method !== 'GET') throw new MethodNotAllowedError(req.method ?? '?');
    const feedMatch = FEED_EVENTS_PATH.exec(url.pathname);
    if (feedMatch) return serveFeedEvents(req, res, url, feedMatch[1]!);
    const imagingServed = imaging?.(req, res, url);
    if (imagingServed) return imagingServed;
    const proofServed = proofs?.(req, res, url);
    if (proofServed) return proofServed;
    switch (url.pathname) {
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end('ok\n');
        return;
      case '/readyz': {
        const report = options.readiness?.() ?? { ready: true, checks: [] };
        return sendJson(res, report.ready ? 200 : 503, report);
      }
      case '/':
      case '/status':
        options.operators.require(req.headers.authorization);
        res
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'" })
          .end(renderRelayStatusPage(await options.status()));
        return;
      case '/v1/status':
        return sendJson(res, 200, await statusFor(req.headers.authorization));
      case '/metrics': {
        options.operators.require(req.headers.authorization);
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
        return;
      }
      default:
        throw new RouteNotFoundError(url.pathname);
    }
  }

  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://relay.invalid');
    const name = routeName(url.pathname, req.method);
    route(req, res, url)
      .then(() => metrics.httpRequests.inc({ route: name, status: String(res.statusCode) }))
      .catch((error: unknown) => {
        const status = httpStatusFor(error);
        metrics.httpRequests.inc({ route: name, status: String(status) });
        if (status === 500) logger.error({ err: error, path: url.pathname }, 'HTTP request failed');
        if (res.headersSent) {
          // Mid-body: the vendor sees a truncated response and re-reads from its cursor.
          res.destroy();
          return;
        }
        const code = error instanceof RelayError && status !== 500 ? error.code : RelayErrorCode.INTERNAL;
        // The database's address is the operator's business, not the vendor's: it stays in the relay log.
        if (error instanceof StoreUnavailableError) logger.warn({ err: error.message, path: url.pathname }, 'HTTP request failed: the database is unreachable');
        const message =
          status === 500
            ? 'internal relay error (details are in the relay log)'
            : error instanceof StoreUnavailableError
              ? "the relay's database is unreachable just now; nothing was lost: retry from your cursor"
              : (error as Error).message;
        const extras = errorExtras(error);
        const headers: Record<string, string> = { ...extras.headers };
        if (status === 401) headers['www-authenticate'] = error instanceof OperatorAuthError ? OPERATOR_CHALLENGE : 'Bearer realm="wardline"';
        if (error instanceof TooManyRequestsError) headers['retry-after'] = String(error.retryAfterSeconds);
        if (error instanceof StoreUnavailableError) headers['retry-after'] = '1';
        if (status === 405) headers.allow = url.pathname === '/v1/enrol' || url.pathname === OPERATOR_PURGE_PATH ? 'POST' : (inboundAllowedMethods(url.pathname) ?? 'GET');
        sendJson(res, status, { error: { code, message, ...(status === 500 ? {} : extras.body) } }, headers);
      });
  };
}

/** What an error answer carries beside code and message: the feed's range for a refused cursor, the inbound API's fields. */
function errorExtras(error: unknown): { body: Record<string, string | number>; headers: Record<string, string> } {
  if (!(error instanceof CursorOutOfRangeError)) return inboundErrorExtras(error);
  const { highWater, retentionFloorSeq, oldestSeq } = error.range;
  return { body: { highWater, retentionFloorSeq, ...(oldestSeq === undefined ? {} : { oldestSeq }) }, headers: { [HIGH_WATER_HEADER]: String(highWater) } };
}

/** The page's NDJSON lines, each event with its feed context: the first follows `prevSeq`, each next one the event before it. */
function vendorEventLines(hospital: string, feed: string, events: readonly JournalEvent[], prevSeq: number): string {
  // One join, not += : a rope of thousands of lines is flattened again on write, and
  // 40 unread pages each holding both copies is what the exhaustion test measures.
  return events.map((event, i) => toVendorEventLine(event, { hospital, feed, prevSeq: i === 0 ? prevSeq : events[i - 1]!.seq })).join('');
}

function decodeSegment(segment: string): string {
  return decodePathSegment(segment, 'feed', NAME_PATTERN, 'a feed name (letters, digits, ".", "_" or "-")');
}

function routeName(path: string, method: string | undefined): string {
  if (FEED_EVENTS_PATH.test(path)) return 'feed-events';
  const inbound = inboundRouteName(path, method);
  if (inbound) return inbound;
  const imaging = imagingRouteName(path);
  if (imaging) return imaging;
  const proof = proofRouteName(path);
  if (proof) return proof;
  if (path === '/' || path === '/status') return 'status-page';
  if (path === '/readyz') return 'readyz';
  if (path === '/v1/enrol') return 'enrol';
  if (path === OPERATOR_PURGE_PATH) return 'operator-purge';
  if (path === '/healthz' || path === '/v1/status' || path === '/metrics') return path.replace(/^\/(v1\/)?/, '');
  return 'unknown';
}

/** Enrolment bodies are a token and a CSR: a few kilobytes. */
const MAX_JSON_BODY_BYTES = 64 * 1024;

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BODY_BYTES) throw new BadRequestError(`body: larger than ${MAX_JSON_BODY_BYTES} bytes`, 'body');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new BadRequestError('body: expected JSON', 'body');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }).end(text);
}
