import { describe, expect, it } from 'vitest';
import { pb, type SubscribeRequest } from '../../protocol/index.js';
import { BadRequestError } from '../../cloud-relay/errors.js';
import { HeartbeatSchedule } from '../../cloud-relay/feeds/feed-heartbeat.js';
import { MAX_FILTER_ENTRIES, parseSubscribeRequest } from '../../cloud-relay/feeds/subscribe-request.js';

const DEFAULTS = { heartbeatMs: 5_000 };
const parse = (fields: Parameters<typeof pb.SubscribeRequest.create>[0]) => parseSubscribeRequest(pb.SubscribeRequest.create(fields), DEFAULTS);
/** As grpc-js hands it over: decoded from the wire, so absent fields are absent. */
const decoded = (fields: Parameters<typeof pb.SubscribeRequest.create>[0]): SubscribeRequest =>
  pb.SubscribeRequest.decode(pb.SubscribeRequest.encode(pb.SubscribeRequest.create(fields)).finish());

function refusal(fields: Parameters<typeof pb.SubscribeRequest.create>[0]): BadRequestError {
  try {
    parseSubscribeRequest(decoded(fields), DEFAULTS);
  } catch (error) {
    if (error instanceof BadRequestError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(fields)}`);
}

describe('parseSubscribeRequest', () => {
  it('starts from the beginning when neither after, after_time_ms nor a consumer is given, with the default heartbeat and no filter', () => {
    expect(parse({ feed: 'adt' })).toEqual({
      feed: 'adt',
      hospital: undefined,
      consumer: undefined,
      start: { kind: 'beginning' },
      filter: undefined,
      follow: false,
      heartbeatMs: 5_000,
    });
  });

  it('tells an absent after from after = 0 on the wire', () => {
    expect(parseSubscribeRequest(decoded({ feed: 'adt', consumer: 'etl' }), DEFAULTS).start).toEqual({ kind: 'consumer', consumer: 'etl' });
    expect(parseSubscribeRequest(decoded({ feed: 'adt', consumer: 'etl', after: 0 }), DEFAULTS).start).toEqual({ kind: 'cursor', after: 0 });
    expect(parseSubscribeRequest(decoded({ feed: 'adt', after: 42 }), DEFAULTS).start).toEqual({ kind: 'cursor', after: 42 });
  });

  it('starts at a time, from a consumer, and keeps the consumer named beside an explicit cursor', () => {
    expect(parse({ feed: 'adt', afterTimeMs: 1_700_000_000_000 }).start).toEqual({ kind: 'time', afterTimeMs: 1_700_000_000_000 });
    expect(parse({ feed: 'adt', consumer: 'billing-etl', afterTimeMs: 5 })).toMatchObject({ consumer: 'billing-etl', start: { kind: 'time', afterTimeMs: 5 } });
    expect(parse({ feed: 'adt', consumer: 'billing-etl', after: 7, hospitalId: 'h1', follow: true })).toMatchObject({
      consumer: 'billing-etl',
      hospital: 'h1',
      follow: true,
      start: { kind: 'cursor', after: 7 },
    });
  });

  it('passes streams and message types to the store, without repeats', () => {
    expect(parse({ feed: 'adt', streams: ['adt', 'his.patient', 'adt'] }).filter).toEqual({ streams: ['adt', 'his.patient'] });
    expect(parse({ feed: 'adt', messageTypes: ['ADT^A01', 'ORU'] }).filter).toEqual({ messageTypes: ['ADT^A01', 'ORU'] });
    expect(parse({ feed: 'adt', streams: ['results'], messageTypes: ['ORU^R01'] }).filter).toEqual({ streams: ['results'], messageTypes: ['ORU^R01'] });
  });

  it('takes heartbeat_ms 0 as the default and 100..60000 as asked', () => {
    expect(parse({ feed: 'adt', heartbeatMs: 0 }).heartbeatMs).toBe(5_000);
    expect(parse({ feed: 'adt', heartbeatMs: 100 }).heartbeatMs).toBe(100);
    expect(parse({ feed: 'adt', heartbeatMs: 60_000 }).heartbeatMs).toBe(60_000);
    expect(parseSubscribeRequest(pb.SubscribeRequest.create({ feed: 'adt' }), { heartbeatMs: 250 }).heartbeatMs).toBe(250);
  });

  it.each([
    [{ feed: '' }, 'feed'],
    [{ feed: 'a/b' }, 'feed'],
    [{ feed: 'adt', hospitalId: 'h 1' }, 'hospital_id'],
    [{ feed: 'adt', consumer: '-etl' }, 'consumer'],
    [{ feed: 'adt', consumer: 'x'.repeat(65) }, 'consumer'],
    [{ feed: 'adt', after: 3, afterTimeMs: 1_000 }, 'after_time_ms'],
    [{ feed: 'adt', after: 0, afterTimeMs: 1_000 }, 'after_time_ms'],
    [{ feed: 'adt', afterTimeMs: -1 }, 'after_time_ms'],
    [{ feed: 'adt', after: 2 ** 60 }, 'after'],
    [{ feed: 'adt', heartbeatMs: 99 }, 'heartbeat_ms'],
    [{ feed: 'adt', heartbeatMs: 60_001 }, 'heartbeat_ms'],
    [{ feed: 'adt', streams: ['ok', 'not ok'] }, 'streams'],
    [{ feed: 'adt', streams: [''] }, 'streams'],
    [{ feed: 'adt', messageTypes: ['ADT^'] }, 'message_types'],
    [{ feed: 'adt', messageTypes: ['ADT A01'] }, 'message_types'],
    [{ feed: 'adt', streams: Array.from({ length: MAX_FILTER_ENTRIES + 1 }, (_, i) => `s${i}`) }, 'streams'],
  ])('refuses %j naming %s', (fields, parameter) => {
    const error = refusal(fields);
    expect(error.parameter).toBe(parameter);
    expect(error.message.startsWith(parameter === 'after_time_ms' && 'after' in fields ? 'after, after_time_ms:' : parameter)).toBe(true);
  });

  it('names the entry of a list that is wrong', () => {
    expect(refusal({ feed: 'adt', streams: ['ok', 'not ok'] }).message).toBe(
      'streams[1]: expected a stream name of 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit, got "not ok"',
    );
  });
});

describe('HeartbeatSchedule', () => {
  function schedule(intervalMs = 1_000) {
    let now = 10_000;
    const beats = new HeartbeatSchedule(intervalMs, () => now);
    return { beats, advance: (ms: number) => (now += ms), now: () => now };
  }
  const head = (highWater: number) => ({ highWater, retentionFloorSeq: 0 });

  it('sends a caught-up heartbeat right after the initial replay, even an empty one, then waits the interval', () => {
    const { beats } = schedule();
    expect(beats.afterRead(0, head(0))).toEqual({ highWater: 0, cursor: 0, caughtUp: true, sentAtMs: 10_000, retentionFloorSeq: 0 });
    expect(beats.afterRead(0, head(0))).toBeUndefined();
    expect(beats.waitMs()).toBe(1_000);
  });

  it('sends one caught-up heartbeat each time the stream reaches the head after events, not one per empty wake-up', () => {
    const { beats, advance } = schedule();
    beats.afterRead(0, head(0));
    advance(10);
    beats.eventSent();
    beats.eventSent();
    expect(beats.afterRead(5, { highWater: 5, retentionFloorSeq: 2 })).toMatchObject({ cursor: 5, highWater: 5, caughtUp: true, retentionFloorSeq: 2 });
    advance(10);
    expect(beats.afterRead(5, head(5))).toBeUndefined();
  });

  it('sends an idle heartbeat once nothing went out for the interval, counting from the last message of any kind', () => {
    const { beats, advance } = schedule(1_000);
    beats.afterRead(0, head(0));
    advance(600);
    beats.eventSent();
    beats.afterRead(1, head(1));
    expect(beats.waitMs()).toBe(1_000);
    advance(999);
    expect(beats.afterRead(1, head(1))).toBeUndefined();
    expect(beats.waitMs()).toBe(1);
    advance(1);
    expect(beats.afterRead(1, head(1))).toMatchObject({ cursor: 1, caughtUp: true, sentAtMs: 11_600 });
    expect(beats.waitMs()).toBe(1_000);
  });
});
