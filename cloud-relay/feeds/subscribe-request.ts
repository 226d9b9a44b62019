// Parses a Feeds.Subscribe request into what the service does: which feed, where
// the read starts, which events pass, whether to follow and how often to send a
// heartbeat. Pure; a bad field is a BadRequestError (gRPC INVALID_ARGUMENT)
// naming the field as the .proto spells it.
import { NAME_PATTERN, NAME_RULE, STREAM_NAME_PATTERN, STREAM_NAME_RULE, type SubscribeRequest } from '../../protocol/index.js';
import { BadRequestError } from '../errors.js';
import type { FeedFilter } from '../store/index.js';
import { CONSUMER_NAME_PATTERN } from './consumer-positions.js';
import { MAX_HEARTBEAT_MS, MIN_HEARTBEAT_MS } from './feed-limits-config.js';

/** Entries a `streams` or `message_types` list may hold. */
export const MAX_FILTER_ENTRIES = 256;

/** An HL7 message type as headers.messageType holds it ("ADT^A01"), or a message code alone ("ADT"). */
const MESSAGE_TYPE_PATTERN = /^[A-Za-z0-9_]{1,16}(\^[A-Za-z0-9_]{1,16}){0,2}$/;

/** Where the read starts; resolved to a cursor by the service (the store or the consumer's committed position). */
export type SubscribeStart =
  /** `after` given: that cursor. */
  | { kind: 'cursor'; after: number }
  /** `after_time_ms` given: the first event committed at or after it (FeedStore.cursorAtTime). */
  | { kind: 'time'; afterTimeMs: number }
  /** Neither, with `consumer`: after the consumer's committed cursor (0 before any commit). */
  | { kind: 'consumer'; consumer: string }
  /** Neither, and no consumer: from the feed's first event. */
  | { kind: 'beginning' };

export interface SubscribePlan {
  feed: string;
  /** undefined: the one hospital where the key is granted the feed. */
  hospital: string | undefined;
  /** A named consumer of the vendor key; undefined for reads naming none. */
  consumer: string | undefined;
  start: SubscribeStart;
  /** undefined when the request filters nothing. */
  filter: FeedFilter | undefined;
  follow: boolean;
  /** With follow: the longest the stream stays silent, in milliseconds. */
  heartbeatMs: number;
}

export interface SubscribeDefaults {
  /** heartbeat_ms = 0 means this (feedLimits.heartbeatMs), in milliseconds. */
  heartbeatMs: number;
}

/** The plan for `request`; throws BadRequestError naming the first bad field. */
export function parseSubscribeRequest(request: SubscribeRequest, defaults: SubscribeDefaults): SubscribePlan {
  const feed = feedName(request.feed);
  const hospital = hospitalId(request.hospitalId);
  const consumer = consumerName(request.consumer);
  const hasAfter = request.after !== undefined && request.after !== null;
  const afterTimeMs = Number(request.afterTimeMs ?? 0);
  const after = hasAfter ? { given: String(Number(request.after)), value: () => cursor(request.after) } : undefined;
  const afterTime = afterTimeMs === 0 ? undefined : { field: 'after_time_ms', given: String(afterTimeMs), value: () => instant(afterTimeMs) };
  return {
    feed,
    hospital,
    consumer,
    start: readStart(after, afterTime, consumer),
    filter: feedFilterOf(request.streams ?? [], request.messageTypes ?? []),
    follow: request.follow === true,
    heartbeatMs: heartbeat(Number(request.heartbeatMs ?? 0), defaults.heartbeatMs),
  };
}

/** A feed name as Feeds requests carry it. */
export function feedName(text: string): string {
  if (!NAME_PATTERN.test(text)) throw new BadRequestError(`feed: ${NAME_RULE}, got ${JSON.stringify(text)}`, 'feed');
  return text;
}

/** A hospital id, or undefined for an empty one (the one hospital granted). */
export function hospitalId(text: string): string | undefined {
  if (text === '') return undefined;
  if (!NAME_PATTERN.test(text)) throw new BadRequestError(`hospital_id: ${NAME_RULE}, got ${JSON.stringify(text)}`, 'hospital_id');
  return text;
}

/** A consumer name, or undefined for an empty one. */
export function consumerName(text: string): string | undefined {
  if (text === '') return undefined;
  if (!CONSUMER_NAME_PATTERN.test(text)) throw new BadRequestError(`consumer: ${NAME_RULE}, got ${JSON.stringify(text)}`, 'consumer');
  return text;
}

/** A cursor (`after`, a commit's `cursor`): a seq the relay can compare exactly. */
export function cursor(value: unknown, field = 'after'): number {
  const seq = Number(value);
  if (!Number.isSafeInteger(seq) || seq < 0) throw new BadRequestError(`${field}: expected a seq from 0 to ${Number.MAX_SAFE_INTEGER}, got ${String(value)}`, field);
  return seq;
}

function instant(ms: number): number {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new BadRequestError(`after_time_ms: expected ms since the Unix epoch (0 = not given), got ${ms}`, 'after_time_ms');
  return ms;
}

function heartbeat(ms: number, defaultMs: number): number {
  if (ms === 0) return defaultMs;
  if (!Number.isSafeInteger(ms) || ms < MIN_HEARTBEAT_MS || ms > MAX_HEARTBEAT_MS) {
    throw new BadRequestError(`heartbeat_ms: expected 0 (the relay's default, ${defaultMs}) or ${MIN_HEARTBEAT_MS} to ${MAX_HEARTBEAT_MS} milliseconds, got ${ms}`, 'heartbeat_ms');
  }
  return ms;
}

/** A start parameter as a request gave it: `value` checks and converts it (BadRequestError naming the parameter). */
export interface GivenStart {
  /** As given, for the error that refuses a cursor and a time together. */
  given: string;
  value: () => number;
}

/**
 * Where a read starts: after a cursor, at a time (`afterTime.field` names the
 * parameter), or after a consumer's committed cursor, in that order; a cursor
 * and a time together are refused before either is checked.
 */
export function readStart(after: GivenStart | undefined, afterTime: (GivenStart & { field: string }) | undefined, consumer: string | undefined): SubscribeStart {
  if (after !== undefined && afterTime !== undefined) {
    throw new BadRequestError(`after, ${afterTime.field}: give one of them, not both (after ${after.given}, ${afterTime.field} ${afterTime.given})`, afterTime.field);
  }
  if (after !== undefined) return { kind: 'cursor', after: after.value() };
  if (afterTime !== undefined) return { kind: 'time', afterTimeMs: afterTime.value() };
  if (consumer !== undefined) return { kind: 'consumer', consumer };
  return { kind: 'beginning' };
}

/** The names a request gives its filter lists (the .proto's, or the HTTP query's). */
export interface FilterFields {
  streams: string;
  messageTypes: string;
}

/** The read's FeedFilter, undefined when both lists are empty; BadRequestError naming the list and entry otherwise. */
export function feedFilterOf(streams: readonly string[], messageTypes: readonly string[], fields: FilterFields = { streams: 'streams', messageTypes: 'message_types' }): FeedFilter | undefined {
  const filter: FeedFilter = {};
  const streamList = list(fields.streams, streams, (s) => STREAM_NAME_PATTERN.test(s), STREAM_NAME_RULE);
  const typeList = list(fields.messageTypes, messageTypes, (t) => MESSAGE_TYPE_PATTERN.test(t), 'expected an HL7 message type such as "ADT^A01", or a message code such as "ORU"');
  if (streamList) filter.streams = streamList;
  if (typeList) filter.messageTypes = typeList;
  return streamList || typeList ? filter : undefined;
}

function list(field: string, values: readonly string[], valid: (value: string) => boolean, rule: string): string[] | undefined {
  if (values.length === 0) return undefined;
  if (values.length > MAX_FILTER_ENTRIES) throw new BadRequestError(`${field}: at most ${MAX_FILTER_ENTRIES} entries, got ${values.length}`, field);
  values.forEach((value, index) => {
    if (!valid(value)) throw new BadRequestError(`${field}[${index}]: ${rule}, got ${JSON.stringify(value)}`, field);
  });
  return [...new Set(values)];
}
