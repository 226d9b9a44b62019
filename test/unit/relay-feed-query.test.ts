import { describe, expect, it } from 'vitest';
import type { JournalEvent } from '../../protocol/index.js';
import { BadRequestError } from '../../cloud-relay/errors.js';
import { nextCursor } from '../../cloud-relay/feeds/feed-cursor.js';
import { DEFAULT_FEED_LIMIT, MAX_FEED_LIMIT, parseFeedQuery } from '../../cloud-relay/feeds/feed-query.js';
import { MAX_FILTER_ENTRIES } from '../../cloud-relay/feeds/subscribe-request.js';

function event(seq: number): JournalEvent {
  return { seq, stream: 'results', key: 'K1', op: 'upsert', tsMs: 0, source: 'http', contentType: 'json', body: Buffer.from('1'), headers: {} };
}

describe('parseFeedQuery', () => {
  const parse = (query: string) => parseFeedQuery(new URLSearchParams(query));
  const refusal = (query: string): BadRequestError => {
    try {
      parse(query);
    } catch (error) {
      expect(error).toBeInstanceOf(BadRequestError);
      return error as BadRequestError;
    }
    throw new Error(`${query}: accepted`);
  };

  it('starts from the beginning with 1000 events, no consumer, no filter and no wait when nothing is given', () => {
    expect(parse('')).toEqual({ start: { kind: 'beginning' }, limit: DEFAULT_FEED_LIMIT, hospital: undefined, consumer: undefined, filter: undefined, waitMs: 0 });
    expect(parse(`after=42&limit=${MAX_FEED_LIMIT}&hospital=h-1`)).toMatchObject({ start: { kind: 'cursor', after: 42 }, limit: MAX_FEED_LIMIT, hospital: 'h-1' });
    expect(parse('after=0')).toMatchObject({ start: { kind: 'cursor', after: 0 } });
    expect(parse('hospital=&consumer=&streams=&types=&wait=')).toEqual(parse(''));
  });

  it('starts after a consumer\'s committed cursor when after is absent, and at after when given, recording the read under the consumer either way', () => {
    expect(parse('consumer=billing-etl')).toMatchObject({ start: { kind: 'consumer', consumer: 'billing-etl' }, consumer: 'billing-etl' });
    expect(parse('consumer=billing-etl&after=7')).toMatchObject({ start: { kind: 'cursor', after: 7 }, consumer: 'billing-etl' });
  });

  it('reads after_time as ms since the epoch or as ISO 8601 with an offset (a date alone is midnight UTC)', () => {
    const at = (text: string) => (parse(`after_time=${encodeURIComponent(text)}`).start as { afterTimeMs: number }).afterTimeMs;
    expect(parse('after_time=1704096000000').start).toEqual({ kind: 'time', afterTimeMs: 1_704_096_000_000 });
    expect(at('2024-01-01T08:00:00Z')).toBe(1_704_096_000_000);
    expect(at('2024-01-01T08:00:00.250Z')).toBe(1_704_096_000_250);
    expect(at('2024-01-01T10:00:00+02:00')).toBe(1_704_096_000_000);
    expect(at('2024-01-01T03:00-05:00')).toBe(1_704_096_000_000);
    expect(at('2024-01-01')).toBe(Date.UTC(2024, 0, 1));
    expect(at('0')).toBe(0);
    expect(parse('after_time=1704096000000&consumer=etl').start).toEqual({ kind: 'time', afterTimeMs: 1_704_096_000_000 });
  });

  it('splits streams and types on commas, dropping repeats', () => {
    expect(parse('streams=adt.in,lab.results,adt.in&types=ADT%5EA01,ORU').filter).toEqual({ streams: ['adt.in', 'lab.results'], messageTypes: ['ADT^A01', 'ORU'] });
    expect(parse('types=ORU^R01').filter).toEqual({ messageTypes: ['ORU^R01'] });
    expect(parse('streams=adt').filter).toEqual({ streams: ['adt'] });
  });

  it('takes wait in seconds, whole or with up to 3 decimals, up to 300', () => {
    expect(parse('wait=20000').waitMs).toBe(20_000);
    expect(parse('wait=1').waitMs).toBe(1);
    expect(parse('wait=0').waitMs).toBe(0);
    expect(parse('wait=300000').waitMs).toBe(300_000);
  });

  it.each([
    ['after=x', 'after'],
    ['after=-1', 'after'],
    ['after=1e3', 'after'],
    ['after=99999999999999999', 'after'],
    ['after=', 'after'],
    ['after=1&after=2', 'after'],
    ['limit=0', 'limit'],
    ['limit=10001', 'limit'],
    ['limit=+5', 'limit'],
    ['hospital=a/b', 'hospital'],
    ['consumer=-etl', 'consumer'],
    [`consumer=${'c'.repeat(65)}`, 'consumer'],
    ['consumer=a&consumer=b', 'consumer'],
    ['after_time=yesterday', 'after_time'],
    ['after_time=-5', 'after_time'],
    ['after_time=2024-01-01T08:00:00', 'after_time'],
    ['after_time=2024-02-30', 'after_time'],
    ['after_time=2024-13-01T00:00:00Z', 'after_time'],
    ['after_time=1969-12-31T23:59:59Z', 'after_time'],
    ['after_time=99999999999999999', 'after_time'],
    ['after=5&after_time=2024-01-01', 'after_time'],
    ['streams=ok,not%20ok', 'streams'],
    ['streams=a,,b', 'streams'],
    [`streams=${Array.from({ length: MAX_FILTER_ENTRIES + 1 }, (_, i) => `s${i}`).join(',')}`, 'streams'],
    ['types=ADT%5E', 'types'],
    ['types=ADT%20A01', 'types'],
    ['wait=-1', 'wait'],
    ['wait=300001', 'wait'],
    ['wait=2.5', 'wait'],
    ['wait=soon', 'wait'],
    ['wait=1e2', 'wait'],
  ])('refuses %s naming %s', (query, parameter) => {
    const error = refusal(query);
    expect(error.parameter).toBe(parameter);
    expect(error.message.startsWith(parameter === 'after_time' && query.startsWith('after=') ? 'after, after_time: ' : `${parameter}`)).toBe(true);
  });

  it('says what was wrong and what is expected', () => {
    expect(refusal('after=5&after_time=2024-01-01').message).toBe('after, after_time: give one of them, not both (after 5, after_time "2024-01-01")');
    expect(refusal('types=ADT,ADT%20A01').message).toBe('types[1]: expected an HL7 message type such as "ADT^A01", or a message code such as "ORU", got "ADT A01"');
    expect(refusal('streams=a,,b').message).toBe('streams[1]: expected a stream name of 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit, got ""');
    expect(refusal('wait=300001').message).toBe('wait: expected milliseconds from 0 to 300000 (such as 20000), got "300001"');
    expect(refusal('after_time=2024-01-01T08:00:00').message).toBe(
      'after_time: expected ms since the Unix epoch, or an ISO 8601 date-time with its offset such as "2024-01-01T08:00:00Z", got "2024-01-01T08:00:00" (add the offset: "Z" for UTC, or such as "+02:00")',
    );
    // An unencoded "+" arrives as a space.
    expect(refusal('after_time=2024-01-01T08:00:00+02:00').message).toContain('send "+" as %2B');
    expect(refusal('consumer=-etl').message).toBe('consumer: expected 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit, got "-etl"');
  });
});

describe('nextCursor', () => {
  const events = (...seqs: number[]) => seqs.map(event);

  it('moves to the last event of a page cut short', () => {
    expect(nextCursor(0, { events: events(1, 2, 3), highWater: 50, complete: false, prevSeq: 0, retentionFloorSeq: 0 })).toBe(3);
  });

  it('moves to the high-water mark once the page reaches the end, past seqs without events', () => {
    expect(nextCursor(0, { events: events(1, 3), highWater: 9, complete: true, prevSeq: 0, retentionFloorSeq: 0 })).toBe(9);
    expect(nextCursor(4, { events: [], highWater: 9, complete: true, prevSeq: 0, retentionFloorSeq: 0 })).toBe(9);
  });

  it('never moves backwards', () => {
    expect(nextCursor(20, { events: [], highWater: 9, complete: true, prevSeq: 0, retentionFloorSeq: 0 })).toBe(20);
    expect(nextCursor(20, { events: [], highWater: 9, complete: false, prevSeq: 0, retentionFloorSeq: 0 })).toBe(20);
  });
});
