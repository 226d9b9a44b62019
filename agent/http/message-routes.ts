// The message browser's HTTP API, behind the same login as /v1/status
// (operator-routes.ts):
//   GET /v1/messages?controlId=&key=&stream=&from=&to=&limit=   newest first, no bodies
//   GET /v1/messages/{seq}                                       one message; its raw HL7 only with http.admin.showMessages
//   GET /v1/rejections?limit=                                    messages answered AE or AR, newest first
// from and to are ISO 8601 times or ms since the epoch. Bad parameters get a 400
// naming the parameter and what was expected.
import type { MessageQuery } from '../store/index.js';
import type { MessageBrowser } from '../operations/index.js';
import { MessageQueryError } from './errors.js';

/** Rows returned when limit is not given. */
export const DEFAULT_MESSAGE_LIMIT = 50;
/** Rows returned at most, whatever limit says: a page, not an export. */
export const MAX_MESSAGE_LIMIT = 500;

/** An answer to send, or undefined when the path is not the browser's. */
export interface MessageRouteAnswer {
  status: number;
  body: unknown;
}

/** The query string as a MessageQuery. @throws MessageQueryError naming the bad parameter. */
export function parseMessageQuery(params: URLSearchParams): MessageQuery {
  const text = (name: string): string | undefined => {
    const value = params.get(name);
    return value === null || value.trim() === '' ? undefined : value.trim();
  };
  const query: MessageQuery = { limit: parseLimit(text('limit')) };
  const controlId = text('controlId');
  const key = text('key');
  const stream = text('stream');
  const fromMs = parseTime('from', text('from'));
  const toMs = parseTime('to', text('to'));
  if (controlId !== undefined) query.controlId = controlId;
  if (key !== undefined) query.key = key;
  if (stream !== undefined) query.stream = stream;
  if (fromMs !== undefined) query.fromMs = fromMs;
  if (toMs !== undefined) query.toMs = toMs;
  if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) throw new MessageQueryError('from', `from (${text('from')}) is after to (${text('to')})`);
  return query;
}

function parseLimit(value: string | undefined): number {
  if (value === undefined) return DEFAULT_MESSAGE_LIMIT;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new MessageQueryError('limit', `limit: expected a whole number from 1 to ${MAX_MESSAGE_LIMIT}, got "${value}"`);
  return Math.min(n, MAX_MESSAGE_LIMIT);
}

function parseTime(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new MessageQueryError(name, `${name}: expected an ISO 8601 time (2026-12-02T02:10:00+08:00) or ms since the epoch, got "${value}"`);
  return ms;
}

/** Serves the browser's paths; undefined for any other path. */
export function answerMessageRoute(browser: MessageBrowser, method: string, url: URL): MessageRouteAnswer | undefined {
  const path = url.pathname;
  if (path !== '/v1/messages' && !path.startsWith('/v1/messages/') && path !== '/v1/rejections') return undefined;
  if (method !== 'GET' && method !== 'HEAD') return error(405, 'method_not_allowed', `use GET for ${path}`);
  try {
    if (path === '/v1/rejections') {
      const limit = parseLimit(url.searchParams.get('limit') ?? undefined);
      return { status: 200, body: { rejections: browser.rejected(limit) } };
    }
    if (path === '/v1/messages') {
      const query = parseMessageQuery(url.searchParams);
      return { status: 200, body: { query, showMessages: browser.showsMessages, messages: browser.find(query) } };
    }
    const seqText = path.slice('/v1/messages/'.length);
    const seq = Number(seqText);
    if (!/^\d+$/.test(seqText) || !Number.isSafeInteger(seq)) return error(400, 'bad_request', `expected /v1/messages/{seq} with a journal seq, got "${seqText}"`);
    const message = browser.get(seq);
    if (!message) return error(404, 'not_found', `journal seq ${seq} is not held (never written, or trimmed)`);
    return { status: 200, body: { showMessages: browser.showsMessages, message } };
  } catch (err) {
    if (err instanceof MessageQueryError) return error(400, 'bad_request', err.message);
    throw err;
  }
}

function error(status: number, code: string, message: string): MessageRouteAnswer {
  return { status, body: { error: { code, message } } };
}
