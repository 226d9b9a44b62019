// Parses the query of GET /v1/feeds/{feed}/events. Pure; a bad parameter is a
// BadRequestError naming it.
import { NAME_PATTERN } from '../../protocol/index.js';
import { BadRequestError } from '../errors.js';

/** Events per response when `limit` is not given. */
export const DEFAULT_FEED_LIMIT = 1_000;
/** The largest `limit` accepted. */
export const MAX_FEED_LIMIT = 10_000;

export interface FeedQuery {
  /** Cursor: the seq of the last event the vendor processed (0 = from the start). */
  after: number;
  /** Events per response, 1..MAX_FEED_LIMIT. */
  limit: number;
  /** Needed only when the key is granted the feed at several hospitals. */
  hospital: string | undefined;
}

export function parseFeedQuery(params: URLSearchParams): FeedQuery {
  const after = single(params, 'after');
  const limit = single(params, 'limit');
  const hospital = single(params, 'hospital');
  return {
    after: after === undefined ? 0 : integer('after', after, 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer (the seq of the last event you processed)'),
    limit: limit === undefined ? DEFAULT_FEED_LIMIT : integer('limit', limit, 1, MAX_FEED_LIMIT, `an integer from 1 to ${MAX_FEED_LIMIT}`),
    hospital: hospital === undefined || hospital === '' ? undefined : name('hospital', hospital),
  };
}

function single(params: URLSearchParams, parameter: string): string | undefined {
  const values = params.getAll(parameter);
  if (values.length > 1) throw new BadRequestError(`${parameter}: given ${values.length} times; give it once`, parameter);
  return values[0];
}

function integer(parameter: string, text: string, min: number, max: number, expected: string): number {
  const value = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new BadRequestError(`${parameter}: expected ${expected}, got ${JSON.stringify(text)}`, parameter);
  }
  return value;
}

function name(parameter: string, text: string): string {
  if (!NAME_PATTERN.test(text)) throw new BadRequestError(`${parameter}: expected an id like "h1", got ${JSON.stringify(text)}`, parameter);
  return text;
}
