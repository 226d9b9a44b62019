// The operator's endpoints for inbound channels, and the one place their errors
// become HTTP statuses (behind the same login as /v1/admin/*, operator-routes.ts):
//   GET  /v1/inbound                           200 the downlink's status (channels, quarantined events)
//   POST /v1/inbound/{channel}/pause           200 nothing more is delivered into the hospital system; events still journaled
//   POST /v1/inbound/{channel}/resume          200
//   POST /v1/inbound/events/{id}/replay        200 a quarantined event is delivered again (after a fix)
//   POST /v1/inbound/events/{id}/refuse        200 a quarantined event ends with a final refused receipt; "reason" required
// Body: optional JSON {"reason": "…", "operator": "…"}. Every action is recorded in
// the egress ledger (inbound-pause, inbound-resume, inbound-replay, inbound-refuse)
// with the operator (the name sent, else the caller's address) before it answers.
import { InboundControlError, type Downlink } from '../downlink/index.js';
import { FeedControlRequestError } from './errors.js';
import type { AdminRequest, AdminRequestHandler, AdminResponse } from './feed-control-routes.js';
import { MAX_REASON_LENGTH } from './feed-control-routes.js';

const MAX_BODY_BYTES = 16 * 1024;
const CHANNEL_PATH = /^\/v1\/inbound\/([^/]+)\/(pause|resume)$/;
const EVENT_PATH = /^\/v1\/inbound\/events\/([^/]+)\/(replay|refuse)$/;

/** What the routes need of the downlink. */
export type InboundControlTarget = Pick<Downlink, 'engine' | 'engineOfEvent'>;

export interface InboundRoutesOptions {
  downlink: InboundControlTarget;
  /** GET /v1/inbound: the status's downlink section. */
  list: () => unknown;
  /** The egress ledger's admin record. */
  record: (action: 'inbound-pause' | 'inbound-resume' | 'inbound-replay' | 'inbound-refuse', details: Record<string, string>) => Promise<unknown>;
}

/** Handles /v1/inbound and below; undefined for any other path. */
export function createInboundRoutes(options: InboundRoutesOptions): AdminRequestHandler {
  return async (request) => {
    if (request.path === '/v1/inbound') {
      if (request.method !== 'GET' && request.method !== 'HEAD') return { ...error(405, 'method_not_allowed', 'use GET for the inbound channels'), headers: { allow: 'GET' } };
      return { status: 200, body: options.list() };
    }
    if (!request.path.startsWith('/v1/inbound/')) return undefined;
    const channelMatch = CHANNEL_PATH.exec(request.path);
    const eventMatch = EVENT_PATH.exec(request.path);
    const match = eventMatch ?? channelMatch;
    if (!match) return error(404, 'not_found', `no such endpoint: ${request.path} (use /v1/inbound/{channel}/pause or resume, /v1/inbound/events/{id}/replay or refuse)`);
    if (request.method !== 'POST') return { ...error(405, 'method_not_allowed', `use POST to ${match[2]}`), headers: { allow: 'POST' } };
    let subject: string;
    try {
      subject = decodeURIComponent(match[1]!);
    } catch {
      return error(400, 'bad_request', `not a valid name: ${match[1]}`);
    }
    let body: { reason?: string; operator?: string };
    try {
      body = parseBody(await request.readBody(MAX_BODY_BYTES));
    } catch (problem) {
      return error(400, 'bad_request', (problem as Error).message);
    }
    const operator = body.operator ?? request.origin;
    const reason = body.reason ?? '';
    const details = { operator, origin: request.origin, reason };
    try {
      switch (match[2]) {
        case 'pause': {
          const engine = options.downlink.engine(subject);
          await options.record('inbound-pause', { channel: subject, ...details });
          engine.pause(operator, reason);
          return ok({ channel: subject, paused: true });
        }
        case 'resume': {
          const engine = options.downlink.engine(subject);
          await options.record('inbound-resume', { channel: subject, ...details });
          engine.resume();
          return ok({ channel: subject, paused: false });
        }
        case 'replay': {
          const engine = options.downlink.engineOfEvent(subject);
          engine.replay(subject);
          await options.record('inbound-replay', { id: subject, channel: engine.channel, ...details });
          return ok({ id: subject, channel: engine.channel, state: 'pending' });
        }
        default: {
          if (reason === '') return error(400, 'bad_request', 'refusing an event needs a "reason": the vendor receives it with the final receipt');
          const engine = options.downlink.engineOfEvent(subject);
          await engine.refuse(subject, reason);
          await options.record('inbound-refuse', { id: subject, channel: engine.channel, ...details });
          return ok({ id: subject, channel: engine.channel, state: 'refused' });
        }
      }
    } catch (problem) {
      if (!(problem instanceof InboundControlError)) throw problem;
      const status = problem.problem === 'conflict' ? 409 : 404;
      return error(status, problem.problem.replace('-', '_'), problem.message);
    }
  };
}

function ok(body: unknown): AdminResponse {
  return { status: 200, body };
}

function error(status: number, code: string, message: string): AdminResponse {
  return { status, body: { error: { code, message } } };
}

function parseBody(text: string): { reason?: string; operator?: string } {
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new FeedControlRequestError('the body must be JSON: {"reason": "…", "operator": "…"} (or empty)', 'not-json');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new FeedControlRequestError('the body must be a JSON object: {"reason": "…"}', 'not-object');
  const unknown = Object.keys(body).find((k) => k !== 'reason' && k !== 'operator');
  if (unknown) throw new FeedControlRequestError(`unknown member ${JSON.stringify(unknown)}: the body takes only "reason" and "operator"`, 'unknown-member');
  const out: { reason?: string; operator?: string } = {};
  for (const key of ['reason', 'operator'] as const) {
    const value = (body as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length > MAX_REASON_LENGTH) throw new FeedControlRequestError(`${key}: expected a string of at most ${MAX_REASON_LENGTH} characters`, 'bad-reason');
    out[key] = value;
  }
  return out;
}

export type { AdminRequest };
