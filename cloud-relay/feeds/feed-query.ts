// Parses the query of GET /v1/feeds/{feed}/events. Pure; a bad parameter is a
// BadRequestError naming it. Where a read starts, which events pass and the
// consumer's name follow the gRPC Subscribe's rules (subscribe-request.ts), so
// the two APIs accept and refuse the same values.
import { NAME_PATTERN } from '../../protocol/index.js';
import { BadRequestError } from '../errors.js';
import type { FeedFilter } from '../store/index.js';
import { MAX_LONG_POLL_MS } from './feed-limits-config.js';
import { consumerName, feedFilterOf, readStart, type SubscribeStart } from './subscribe-request.js';

/** Events per response when `limit` is not given. */
export const DEFAULT_FEED_LIMIT = 1_000;
/** The largest `limit` accepted. */
export const MAX_FEED_LIMIT = 10_000;

export interface FeedQuery {
  /**
   * Where the page starts: `after` (the seq of the last event the vendor
   * processed), `after_time`, the consumer's committed cursor, or the beginning.
   */
  start: SubscribeStart;
  /** Events per response, 1..MAX_FEED_LIMIT. */
  limit: number;
  /** Needed only when the key is granted the feed at several hospitals. */
  hospital: string | undefined;
  /** `consumer=`: the read is recorded under this name (and starts after its committed cursor when `after` is absent). */
  consumer: string | undefined;
  /** `streams=` and `types=`; undefined when neither is given. */
  filter: FeedFilter | undefined;
  /** `wait=` in milliseconds, as on the inbound receipts route (0 = answer at once); the relay holds a request for at most feedLimits.maxWaitMs. */
  waitMs: number;
}

export function parseFeedQuery(params: URLSearchParams): FeedQuery {
  const after = single(params, 'after');
  const afterTime = present(single(params, 'after_time'));
  const limit = single(params, 'limit');
  const consumer = present(single(params, 'consumer'));
  const wait = present(single(params, 'wait'));
  const checkedConsumer = consumer === undefined ? undefined : consumerName(consumer);
  return {
    start: readStart(
      after === undefined ? undefined : { given: after, value: () => integer('after', after, 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer (the seq of the last event you processed)') },
      afterTime === undefined ? undefined : { field: 'after_time', given: JSON.stringify(afterTime), value: () => instant(afterTime) },
      checkedConsumer,
    ),
    limit: limit === undefined ? DEFAULT_FEED_LIMIT : integer('limit', limit, 1, MAX_FEED_LIMIT, `an integer from 1 to ${MAX_FEED_LIMIT}`),
    hospital: parseHospitalParameter(params),
    consumer: checkedConsumer,
    filter: feedFilterOf(commaList(params, 'streams'), commaList(params, 'types'), { streams: 'streams', messageTypes: 'types' }),
    waitMs: wait === undefined ? 0 : integer('wait', wait, 0, MAX_LONG_POLL_MS, `milliseconds from 0 to ${MAX_LONG_POLL_MS} (such as 20000)`),
  };
}

/** `hospital=` (every vendor route of a feed takes it); undefined when absent or empty. */
export function parseHospitalParameter(params: URLSearchParams): string | undefined {
  const hospital = present(single(params, 'hospital'));
  return hospital === undefined ? undefined : name('hospital', hospital);
}

function single(params: URLSearchParams, parameter: string): string | undefined {
  const values = params.getAll(parameter);
  if (values.length > 1) throw new BadRequestError(`${parameter}: given ${values.length} times; give it once`, parameter);
  return values[0];
}

/** An empty value (`consumer=`) is the same as none, as `hospital=` always was. */
function present(text: string | undefined): string | undefined {
  return text === '' ? undefined : text;
}

/** "a,b" -> ["a", "b"]; an absent or empty parameter is no list. Entries are checked by feedFilterOf. */
function commaList(params: URLSearchParams, parameter: string): string[] {
  const text = present(single(params, parameter));
  return text === undefined ? [] : text.split(',');
}

function integer(parameter: string, text: string, min: number, max: number, expected: string): number {
  const value = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new BadRequestError(`${parameter}: expected ${expected}, got ${JSON.stringify(text)}`, parameter);
  }
  return value;
}

/**
 * `after_time`: ms since the Unix epoch ("1704096000000"), or an ISO 8601 date
 * ("2024-01-01", midnight UTC) or date-time with its offset ("2024-01-01T08:00:00Z",
 * "…+02:00"). A date-time without an offset is refused: the relay's zone is not the
 * vendor's, and guessing would start the read hours off.
 */
function instant(text: string): number {
  const expected = 'expected ms since the Unix epoch, or an ISO 8601 date-time with its offset such as "2024-01-01T08:00:00Z"';
  if (/^\d{1,16}$/.test(text)) {
    const ms = Number(text);
    if (Number.isSafeInteger(ms)) return ms;
  }
  const match = ISO_INSTANT.exec(text);
  if (!match) {
    // URL query decoding turns an unencoded "+" into a space.
    const hint = /T\d\d:\d\d(:\d\d(\.\d+)?)? \d\d:?\d\d$/.test(text) ? ' (send "+" as %2B: unencoded in a URL it reads as a space)' : '';
    const missing = /T\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(text) ? ' (add the offset: "Z" for UTC, or such as "+02:00")' : '';
    throw new BadRequestError(`after_time: ${expected}, got ${JSON.stringify(text)}${hint}${missing}`, 'after_time');
  }
  const [, year, month, day] = match.map(Number) as [number, number, number, number];
  const ms = Date.parse(match[4] === undefined ? `${match[0]}T00:00:00Z` : text);
  // Date.parse rolls 2024-02-30 over to March 1st; a day the month does not have is refused.
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (Number.isNaN(ms) || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day || ms < 0) {
    throw new BadRequestError(`after_time: ${expected} (a real date, not before 1970), got ${JSON.stringify(text)}`, 'after_time');
  }
  return ms;
}

/** YYYY-MM-DD, optionally THH:MM[:SS[.fraction]] with Z or ±HH:MM (group 4). */
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?(Z|z|[+-]([01]\d|2[0-3]):?[0-5]\d))?$/;

function name(parameter: string, text: string): string {
  if (!NAME_PATTERN.test(text)) throw new BadRequestError(`${parameter}: expected an id like "h1", got ${JSON.stringify(text)}`, parameter);
  return text;
}
