// A vendor key's named consumers over HTTP, as Feeds.Commit and Feeds.GetConsumer
// over gRPC (cloud-relay/feeds/consumer-positions.ts keeps them):
//   PUT    /v1/feeds/{feed}/consumers/{name}[?hospital=]   body {"cursor": N}: commit; 200 and the position
//                                                           (the gRPC ConsumerPosition's fields, camelCase)
//   GET    /v1/feeds/{feed}/consumers/{name}[?hospital=]   the committed position; 404 WL_CONSUMER_NOT_FOUND before any commit
//   DELETE /v1/feeds/{feed}/consumers/{name}[?hospital=]   forget the consumer; 204, 404 when unknown
// The key, the feed grant and hospital= are checked as for the feed's events, and
// each request holds one of the key's read slots while it runs
// (feedLimits.concurrentReadsPerKey), so commits in a tight loop cannot crowd
// out the store.
//
// Failure modes handled:
//  1. A body that is not {"cursor": N} (not JSON, another field, a string or a
//     fraction for the cursor): 400 naming the field, nothing stored.
//  2. A cursor past the feed's head or below its retention floor: 409 with the
//     feed's range (ConsumerPositions.commit), nothing stored.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NAME_PATTERN } from '../../protocol/index.js';
import { BadRequestError, ConsumerNotFoundError, MethodNotAllowedError } from '../errors.js';
import { CONSUMER_NAME_PATTERN, consumerPositionAnswer, parseHospitalParameter, type ConsumerPositions, type VendorAuth, type VendorSlots } from '../feeds/index.js';
import { readJsonBody, sendJson } from './json-body.js';
import { decodePathSegment } from './path-segment.js';

const CONSUMER_PATH = /^\/v1\/feeds\/([^/]+)\/consumers\/([^/]+)$/;

/** The methods the consumer path answers (the Allow header of a 405). */
export const CONSUMER_METHODS = 'GET, PUT, DELETE';

export interface ConsumerRouteOptions {
  vendors: VendorAuth;
  consumers: ConsumerPositions;
  slots: VendorSlots;
}

/** True for the consumer path (its metrics name and its Allow header). */
export function isConsumerPath(path: string): boolean {
  return CONSUMER_PATH.test(path);
}

/** Serves the routes above; undefined for any other path (the caller goes on). */
export function createConsumerRoutes(options: ConsumerRouteOptions): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | undefined {
  const { vendors, consumers, slots } = options;

  async function serve(req: IncomingMessage, res: ServerResponse, url: URL, feedSegment: string, nameSegment: string): Promise<void> {
    const method = req.method ?? '?';
    if (method !== 'GET' && method !== 'PUT' && method !== 'DELETE') throw new MethodNotAllowedError(method);
    const feed = decodePathSegment(feedSegment, 'feed', NAME_PATTERN, 'a feed name (letters, digits, ".", "_" or "-")');
    const consumer = decodePathSegment(nameSegment, 'consumer', CONSUMER_NAME_PATTERN, 'a consumer name (1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit)');
    const access = vendors.authorize(req.headers.authorization, feed, parseHospitalParameter(url.searchParams));
    const release = slots.acquire(access.vendor, 'read');
    try {
      switch (method) {
        case 'PUT':
          return sendJson(res, 200, consumerPositionAnswer(await consumers.commit(access, consumer, commitCursor(await readJsonBody(req)))));
        case 'GET':
          return sendJson(res, 200, consumerPositionAnswer(await consumers.get(access, consumer)));
        case 'DELETE':
          if (!(await consumers.remove(access, consumer))) throw new ConsumerNotFoundError(consumer);
          res.writeHead(204, { 'cache-control': 'no-store' }).end();
          return;
      }
    } finally {
      release();
    }
  }

  return (req, res, url) => {
    const match = CONSUMER_PATH.exec(url.pathname);
    return match ? serve(req, res, url, match[1]!, match[2]!) : undefined;
  };
}

/** Failure mode 1: the cursor of a commit's body, which must be exactly {"cursor": N}. */
export function commitCursor(body: unknown): number {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError(`body: expected a JSON object such as {"cursor": 42}, got ${JSON.stringify(body)}`, 'body');
  const other = Object.keys(body).find((field) => field !== 'cursor');
  if (other !== undefined) throw new BadRequestError(`body: unknown field ${JSON.stringify(other)}; a commit is {"cursor": N}`, other);
  const { cursor } = body as { cursor?: unknown };
  if (cursor === undefined) throw new BadRequestError('cursor: required: the seq of the last event this consumer processed, such as {"cursor": 42}', 'cursor');
  if (typeof cursor !== 'number' || !Number.isSafeInteger(cursor) || cursor < 0) {
    throw new BadRequestError(`cursor: expected a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(cursor)}`, 'cursor');
  }
  return cursor;
}
