// The admin endpoints for feed controls, and the one place their errors become
// HTTP statuses:
//   POST /v1/admin/feeds/{feed}/pause      200 once nothing more of the feed leaves
//   POST /v1/admin/feeds/{feed}/resume     200
//   POST /v1/admin/feeds/{feed}/revoke     200 with the relay's answer, 202 while it is pending
//   POST /v1/admin/feeds/{feed}/reenable   200 with the relay's answer, 202 while it is pending
//   POST /v1/admin/feeds/{feed}/purge      200 with the relay's signed receipt, 202 while it is pending
// An optional JSON body {"reason": "…"} goes into the ledger record (purge also takes
// "requestedBy", the name of who ran it, kept in the relay's receipt).
import { FeedControlError } from '../control/index.js';
import { FeedControlRequestError } from './errors.js';
import type { FeedControl, FeedControlResult } from '../control/index.js';

/** Longest reason accepted, in characters. */
export const MAX_REASON_LENGTH = 500;
const MAX_BODY_BYTES = 16 * 1024;
const PATH = /^\/v1\/admin\/feeds\/([^/]+)\/(pause|resume|revoke|reenable|purge)$/;

export interface AdminRequest {
  method: string;
  path: string;
  /** Who called, for the ledger ("http 127.0.0.1"). */
  origin: string;
  /** Reads the request body (at most `limit` bytes). */
  readBody(limit: number): Promise<string>;
}

export interface AdminResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Handles a request under /v1/admin/feeds/; undefined for any other path. */
export type AdminRequestHandler = (request: AdminRequest) => Promise<AdminResponse | undefined>;

export function createFeedAdminRoutes(control: FeedControl): AdminRequestHandler {
  return async (request) => {
    const match = PATH.exec(request.path);
    if (!match) return request.path.startsWith('/v1/admin/feeds/') ? error(404, 'not_found', `no such endpoint: ${request.path} (use /v1/admin/feeds/{feed}/pause, resume, revoke or reenable)`) : undefined;
    if (request.method !== 'POST') return { ...error(405, 'method_not_allowed', `use POST to ${match[2]} a feed`), headers: { allow: 'POST' } };
    let feed: string;
    try {
      feed = decodeURIComponent(match[1]!);
    } catch {
      return error(400, 'bad_feed', `not a valid feed name: ${match[1]}`);
    }
    let reason: string | undefined;
    let requestedBy: string | undefined;
    try {
      ({ reason, requestedBy } = parseBody(await request.readBody(MAX_BODY_BYTES), match[2] === 'purge'));
    } catch (problem) {
      return error(400, 'bad_request', (problem as Error).message);
    }
    const context = { reason, origin: request.origin };
    try {
      switch (match[2]) {
        case 'pause':
          return ok(await control.pause(feed, context));
        case 'resume':
          return ok(await control.resume(feed, context));
        case 'revoke':
          return ok(await control.revoke(feed, context));
        case 'purge':
          return ok(await control.purge(feed, { ...context, requestedBy: requestedBy ?? request.origin }));
        default:
          return ok(await control.reenable(feed, context));
      }
    } catch (problem) {
      if (!(problem instanceof FeedControlError)) throw problem;
      return error(problem.reason === 'unknown-feed' ? 404 : 409, problem.reason === 'unknown-feed' ? 'unknown_feed' : 'conflict', problem.message);
    }
  };
}

/** 202 for a revoke or re-enable the relay has not answered yet. */
function ok(result: FeedControlResult): AdminResponse {
  const pending = result.state === 'revoking' || result.state === 'reinstating';
  return { status: pending ? 202 : 200, body: result };
}

function error(status: number, code: string, message: string): AdminResponse {
  return { status, body: { error: { code, message } } };
}

function parseBody(text: string, takesRequestedBy: boolean): { reason?: string; requestedBy?: string } {
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new FeedControlRequestError('the body must be JSON: {"reason": "…"} (or empty)', 'not-json');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new FeedControlRequestError('the body must be a JSON object: {"reason": "…"}', 'not-object');
  const unknown = Object.keys(body).find((k) => k !== 'reason' && !(takesRequestedBy && k === 'requestedBy'));
  if (unknown) throw new FeedControlRequestError(`unknown member ${JSON.stringify(unknown)}: the body takes only "reason"${takesRequestedBy ? ' and "requestedBy"' : ''}`, 'unknown-member');
  const { reason, requestedBy } = body as { reason?: unknown; requestedBy?: unknown };
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH)) throw new FeedControlRequestError(`reason: expected a string of at most ${MAX_REASON_LENGTH} characters`, 'bad-reason');
  if (requestedBy !== undefined && (typeof requestedBy !== 'string' || requestedBy.length > MAX_REASON_LENGTH)) throw new FeedControlRequestError(`requestedBy: expected a string of at most ${MAX_REASON_LENGTH} characters`, 'bad-reason');
  return { ...(reason === undefined ? {} : { reason: reason as string }), ...(requestedBy === undefined ? {} : { requestedBy: requestedBy as string }) };
}
