// The relay's HTTP API (node:http, no framework):
//   GET /v1/feeds/{feed}/events?after=&limit=[&hospital=]   NDJSON, vendor key
//   GET /v1/status    GET /metrics    GET /healthz    GET /readyz
//   GET /   the status page (HTML): hospitals, agents, feeds, vendor cursors
// Errors are JSON `{ "error": { "code", "message" } }`; this is the one place
// relay errors become HTTP statuses.
import { once } from 'node:events';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { toVendorEventJson } from '../../protocol/index.js';
import { NAME_PATTERN } from '../config.js';
import {
  BadRequestError,
  FeedNotGrantedError,
  FeedRevokedError,
  HospitalRequiredError,
  MethodNotAllowedError,
  RelayError,
  RelayErrorCode,
  RouteNotFoundError,
  VendorAuthError,
} from '../errors.js';
import type { RelayMetrics } from '../relay-metrics.js';
import type { RelayStatus } from '../relay-status.js';
import type { FeedStore } from '../store/feed-store.js';
import { nextCursor } from './feed-cursor.js';
import { parseFeedQuery } from './feed-query.js';
import type { VendorAuth } from './vendor-auth.js';
import type { VendorReads } from './vendor-reads.js';
import { renderRelayStatusPage } from '../status-page/relay-status-page.js';
import { EnrolmentTokenError } from '../enrolment/enrolment-service.js';
import type { ReadinessReport } from '../../protocol/index.js';

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
  /** The current status document. */
  status: () => RelayStatus;
  logger: Logger;
  /** A page stops once event bodies pass this many bytes; default FeedStore's DEFAULT_PAGE_MAX_BYTES. */
  pageMaxBytes?: number;
  /** Where each vendor has read up to, for the status page; absent = not tracked. */
  reads?: VendorReads;
  /** GET /readyz; absent = ready whenever the process answers. */
  readiness?: () => ReadinessReport;
  /** POST /v1/enrol (cloud-relay/enrolment): the parsed JSON body -> the JSON answer; absent = 404. */
  enrol?: (body: unknown) => Promise<unknown>;
}

const FEED_EVENTS_PATH = /^\/v1\/feeds\/([^/]+)\/events$/;

/** The HTTP status for an error raised while serving a request. */
export function httpStatusFor(error: unknown): number {
  if (error instanceof VendorAuthError) return 401;
  if (error instanceof EnrolmentTokenError) return 403;
  if (error instanceof FeedNotGrantedError) return 403;
  if (error instanceof HospitalRequiredError || error instanceof BadRequestError) return 400;
  if (error instanceof RouteNotFoundError) return 404;
  if (error instanceof FeedRevokedError) return 410;
  if (error instanceof MethodNotAllowedError) return 405;
  return 500;
}

export function createFeedHttpHandler(options: FeedHttpOptions): RequestListener {
  const { store, vendors, metrics, logger } = options;

  async function serveFeedEvents(req: IncomingMessage, res: ServerResponse, url: URL, encodedFeed: string): Promise<void> {
    const feed = decodeSegment(encodedFeed);
    const query = parseFeedQuery(url.searchParams);
    const access = vendors.authorize(req.headers.authorization, feed, query.hospital);
    const page = store.readEvents(access.hospital, feed, query.after, query.limit, options.pageMaxBytes);
    res.writeHead(200, {
      'content-type': 'application/x-ndjson; charset=utf-8',
      'cache-control': 'no-store',
      [HIGH_WATER_HEADER]: String(page.highWater),
      [NEXT_AFTER_HEADER]: String(nextCursor(query.after, page)),
      [HOSPITAL_HEADER]: access.hospital,
    });
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    for (const event of page.events) {
      if (res.write(`${JSON.stringify(toVendorEventJson(event))}\n`)) continue;
      // A slow vendor is waited for, not buffered for.
      try {
        await once(res, 'drain', { signal: gone.signal });
      } catch {
        return; // the vendor went away; it re-reads from its cursor
      }
    }
    res.end();
    options.reads?.record(access.vendor, access.hospital, feed, nextCursor(query.after, page), 'http');
    metrics.eventsServed.inc({ api: 'http' }, page.events.length);
    logger.debug({ vendor: access.vendor, hospital: access.hospital, feed, after: query.after, events: page.events.length }, 'feed page served');
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (url.pathname === '/v1/enrol' && options.enrol) {
      if (req.method !== 'POST') throw new MethodNotAllowedError(req.method ?? '?');
      return sendJson(res, 200, await options.enrol(await readJsonBody(req)));
    }
    if (req.method !== 'GET') throw new MethodNotAllowedError(req.method ?? '?');
    const feedMatch = FEED_EVENTS_PATH.exec(url.pathname);
    if (feedMatch) return serveFeedEvents(req, res, url, feedMatch[1]!);
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
        res
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'" })
          .end(renderRelayStatusPage(options.status()));
        return;
      case '/v1/status':
        return sendJson(res, 200, options.status());
      case '/metrics': {
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
    const name = routeName(url.pathname);
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
        const message = status === 500 ? 'internal relay error (details are in the relay log)' : (error as Error).message;
        const headers: Record<string, string> = {};
        if (status === 401) headers['www-authenticate'] = 'Bearer realm="wardline"';
        if (status === 405) headers.allow = url.pathname === '/v1/enrol' ? 'POST' : 'GET';
        sendJson(res, status, { error: { code, message } }, headers);
      });
  };
}

function decodeSegment(segment: string): string {
  let feed: string;
  try {
    feed = decodeURIComponent(segment);
  } catch {
    throw new BadRequestError(`feed: not a valid URL path segment: ${JSON.stringify(segment)}`, 'feed');
  }
  if (!NAME_PATTERN.test(feed)) {
    throw new BadRequestError(`feed: expected a feed name (letters, digits, ".", "_" or "-"), got ${JSON.stringify(feed)}`, 'feed');
  }
  return feed;
}

function routeName(path: string): string {
  if (FEED_EVENTS_PATH.test(path)) return 'feed-events';
  if (path === '/' || path === '/status') return 'status-page';
  if (path === '/readyz') return 'readyz';
  if (path === '/v1/enrol') return 'enrol';
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
