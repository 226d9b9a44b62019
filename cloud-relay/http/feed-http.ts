// The relay's HTTP API (node:http, no framework):
//   GET /v1/feeds/{feed}/events?after=|after_time=|consumer=&limit=&streams=&types=&wait=[&hospital=]
//                                                  NDJSON, vendor key (feeds/feed-query.ts has the parameters)
//   PUT/GET/DELETE /v1/feeds/{feed}/consumers/{name}   a key's named consumers, vendor key (consumer-routes.ts)
//   GET /v1/schema/feed-event.json                  the JSON Schema of one events line, public
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
//  5. A long-poll (wait=) at the head: it waits on the feed notifier (no store
//     polling), holds one of the key's read slots like any page, ends when the
//     vendor disconnects (slot freed, nothing written) and, at relay shutdown,
//     answers the empty page at once so stop is not held.
//  6. A cursor the feed cannot serve (past its head, below its retention floor),
//     given or resolved from after_time or a consumer: 409 with the feed's range,
//     checked on every read and again after a long-poll's wait.
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
import type { BlobStore, FeedNotifier, FeedPageExtent, FeedStore } from '../store/index.js';
import {
  DEFAULT_MAX_WAIT_MS,
  nextCursor,
  parseFeedQuery,
  refuseOutOfRange,
  resolveReadStart,
  waitForAdvance,
  type ConsumerPositions,
  type FeedAccess,
  type VendorAuth,
  type VendorReads,
  type VendorSlots,
} from '../feeds/index.js';
import { FEED_EVENT_SCHEMA } from '../../protocol/schema/index.js';
import { EnrolmentTokenError } from '../enrolment/index.js';
import type { ReadinessReport } from '../../runtime/index.js';
import { createImagingRoutes, imagingRouteName } from './imaging-routes.js';
import { createProofRoutes, proofRouteName } from './proof-routes.js';
import { inboundAllowedMethods, inboundErrorExtras, inboundHttpStatus, inboundRouteName, type InboundRoutes } from './inbound-routes.js';
import { CONSUMER_METHODS, createConsumerRoutes, isConsumerPath } from './consumer-routes.js';
import { readJsonBody, sendJson } from './json-body.js';
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
/** The feed's retention floor when the page was read: a cursor below it is refused (409 WL_CURSOR_BELOW_RETENTION). */
export const RETENTION_FLOOR_HEADER = 'x-wardline-retention-floor';
/** Where the JSON Schema of one line of GET /v1/feeds/{feed}/events is served (protocol/schema/feed-event.schema.json). */
export const FEED_EVENT_SCHEMA_PATH = '/v1/schema/feed-event.json';

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
  /** Wakes long-polls (wait=) when a feed advances; absent = wait= is ignored and pages answer at once. */
  notifier?: FeedNotifier;
  /** The longest a long-poll is held, in milliseconds (feedLimits.maxWaitMs); default DEFAULT_MAX_WAIT_MS. */
  maxWaitMs?: number;
  /** Aborted when the relay stops: long-polls answer at once with what they have. */
  closing?: AbortSignal;
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
  const { notifier } = options;
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const consumerRoutes = options.consumers && createConsumerRoutes({ vendors, consumers: options.consumers, slots: options.slots });
  const imaging =
    options.blobs && createImagingRoutes({ blobs: options.blobs, store, vendors, slots: options.slots, stalledResponseMs: stalledMs, logger });
  const proofs = options.signingPublicKey !== undefined ? createProofRoutes({ store, vendors, publicKeyText: options.signingPublicKey }) : undefined;

  async function serveFeedEvents(req: IncomingMessage, res: ServerResponse, url: URL, encodedFeed: string): Promise<void> {
    const feed = decodeSegment(encodedFeed);
    const query = parseFeedQuery(url.searchParams);
    const access = vendors.authorize(req.headers.authorization, feed, query.hospital);
    // Held while the request waits too: a long-poll is a read in progress (failure mode 5).
    const release = options.slots.acquire(access.vendor, 'read');
    const gone = new AbortController();
    const onClose = () => gone.abort();
    res.once('close', onClose);
    try {
      const { after, parameter } = await resolveReadStart(store, options.consumers, access, query.start, { time: 'after_time' });
      // Where the page ends is decided first, from seqs and sizes, so the headers can go
      // out before the bodies are read; the page is the same as one read would give.
      const readExtent = async () => {
        const extent = await store.pageExtent(access.hospital, feed, after, query.limit, options.pageMaxBytes, query.filter);
        await refuseOutOfRange(store, access, after, extent, parameter);
        return extent;
      };
      let extent = await readExtent();
      const waitMs = Math.min(query.waitMs, maxWaitMs);
      if (extent.events === 0 && waitMs > 0) {
        const waited = await waitForEvents(access, extent, waitMs, readExtent, gone.signal);
        if (waited === undefined) return; // the vendor went away while it waited
        extent = waited;
      }
      const cursor = nextCursor(after, extent);
      res.writeHead(200, {
        'content-type': 'application/x-ndjson; charset=utf-8',
        'cache-control': 'no-store',
        [HIGH_WATER_HEADER]: String(extent.highWater),
        [RETENTION_FLOOR_HEADER]: String(extent.retentionFloorSeq),
        [NEXT_AFTER_HEADER]: String(cursor),
        [HOSPITAL_HEADER]: access.hospital,
        // The relay is stopping: a kept-alive connection would hold the server's close until the grace cuts it.
        ...(options.closing?.aborted ? { connection: 'close' } : {}),
      });
      let read = after;
      while (extent.lastSeq !== undefined && read < extent.lastSeq) {
        const chunk = await store.readEvents(access.hospital, feed, read, PAGE_CHUNK_EVENTS, PAGE_CHUNK_BYTES, extent.lastSeq, query.filter);
        const last = chunk.events[chunk.events.length - 1];
        if (!last) break;
        read = last.seq;
        if (!(await writeOrCut(res, vendorEventLines(access.hospital, feed, chunk.events, chunk.prevSeq), gone.signal))) return;
      }
      res.end();
      // Until the last bytes reach the socket they sit in relay memory: a vendor that stops
      // reading here is cut too.
      if (!res.writableFinished && !(await finishedOrCut(res, gone.signal))) return;
      options.reads?.record(access.vendor, access.hospital, feed, cursor, 'http', query.consumer);
      metrics.eventsServed.inc({ api: 'http' }, extent.events);
      logger.debug({ vendor: access.vendor, hospital: access.hospital, feed, after, events: extent.events, ...(query.consumer === undefined ? {} : { consumer: query.consumer }) }, 'feed page served');
    } finally {
      res.off('close', onClose);
      release();
    }
  }

  /**
   * Failure mode 5: holds an empty page until the feed passes its head and the
   * page read again holds an event, or `waitMs` passes, or the relay stops (the
   * page as it is then); undefined when the vendor went away. Each wake-up is the
   * notifier's, never a timer polling the store.
   */
  async function waitForEvents(access: FeedAccess, first: FeedPageExtent, waitMs: number, readExtent: () => Promise<FeedPageExtent>, gone: AbortSignal): Promise<FeedPageExtent | undefined> {
    if (!notifier) return first;
    const deadline = Date.now() + waitMs;
    const signal = options.closing ? AbortSignal.any([gone, options.closing]) : gone;
    let extent = first;
    while (extent.events === 0 && !signal.aborted) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const head = extent.highWater;
      try {
        await waitForAdvance(notifier, access, head, left, signal);
      } catch (error) {
        if (!signal.aborted) throw error;
        break;
      }
      extent = await readExtent();
      // Woken without the head moving (the feed was emptied by a purge, say): answer rather than spin.
      if (extent.highWater <= head) break;
    }
    return gone.aborted ? undefined : extent;
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
    const consumerServed = consumerRoutes?.(req, res, url);
    if (consumerServed) return consumerServed;
    if (req.method !== 'GET') throw new MethodNotAllowedError(req.method ?? '?');
    const feedMatch = FEED_EVENTS_PATH.exec(url.pathname);
    if (feedMatch) return serveFeedEvents(req, res, url, feedMatch[1]!);
    const imagingServed = imaging?.(req, res, url);
    if (imagingServed) return imagingServed;
    const proofServed = proofs?.(req, res, url);
    if (proofServed) return proofServed;
    switch (url.pathname) {
      case FEED_EVENT_SCHEMA_PATH:
        // Public like the signing key: a vendor validates lines before it holds a key.
        res.writeHead(200, { 'content-type': 'application/schema+json', 'cache-control': 'public, max-age=3600' }).end(`${JSON.stringify(FEED_EVENT_SCHEMA, null, 2)}\n`);
        return;
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
        if (status === 405) headers.allow = url.pathname === '/v1/enrol' || url.pathname === OPERATOR_PURGE_PATH ? 'POST' : isConsumerPath(url.pathname) ? CONSUMER_METHODS : (inboundAllowedMethods(url.pathname) ?? 'GET');
        sendJson(res, status, { error: { code, message, ...(status === 500 ? {} : extras.body) } }, headers);
      });
  };
}

/** What an error answer carries beside code and message: the feed's range for a refused cursor, the inbound API's fields. */
function errorExtras(error: unknown): { body: Record<string, string | number>; headers: Record<string, string> } {
  if (!(error instanceof CursorOutOfRangeError)) return inboundErrorExtras(error);
  const { highWater, retentionFloorSeq, oldestSeq } = error.range;
  return { body: { highWater, retentionFloorSeq, ...(oldestSeq === undefined ? {} : { oldestSeq }) }, headers: { [HIGH_WATER_HEADER]: String(highWater), [RETENTION_FLOOR_HEADER]: String(retentionFloorSeq) } };
}

/** The page's NDJSON lines, each event with its feed context: the first follows `prevSeq`, each next one the event before it. */
function vendorEventLines(hospital: string, feed: string, events: readonly JournalEvent[], prevSeq: number): string {
  return events.map((event, i) => toVendorEventLine(event, { hospital, feed, prevSeq: i === 0 ? prevSeq : events[i - 1]!.seq })).join('');
}

function decodeSegment(segment: string): string {
  return decodePathSegment(segment, 'feed', NAME_PATTERN, 'a feed name (letters, digits, ".", "_" or "-")');
}

function routeName(path: string, method: string | undefined): string {
  if (FEED_EVENTS_PATH.test(path)) return 'feed-events';
  if (isConsumerPath(path)) return 'feed-consumer';
  if (path === FEED_EVENT_SCHEMA_PATH) return 'feed-event-schema';
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
