import { describe, expect, it } from 'vitest';
import type { JournalEvent } from '../../protocol/index.js';
import { BadRequestError } from '../../cloud-relay/errors.js';
import { nextCursor } from '../../cloud-relay/feeds/feed-cursor.js';
import { DEFAULT_FEED_LIMIT, MAX_FEED_LIMIT, parseFeedQuery } from '../../cloud-relay/feeds/feed-query.js';

function event(seq: number): JournalEvent {
  return { seq, stream: 'results', key: 'K1', op: 'upsert', tsMs: 0, source: 'http', contentType: 'json', body: Buffer.from('1'), headers: {} };
}

describe('parseFeedQuery', () => {
  const parse = (query: string) => parseFeedQuery(new URLSearchParams(query));

  it('defaults after to 0 and limit to 1000', () => {
    expect(parse('')).toEqual({ after: 0, limit: DEFAULT_FEED_LIMIT, hospital: undefined });
    expect(parse(`after=42&limit=${MAX_FEED_LIMIT}&hospital=h-1`)).toEqual({ after: 42, limit: MAX_FEED_LIMIT, hospital: 'h-1' });
    expect(parse('hospital=')).toMatchObject({ hospital: undefined });
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
  ])('refuses %s naming %s', (query, parameter) => {
    let error: unknown;
    try {
      parse(query);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).parameter).toBe(parameter);
    expect((error as Error).message.startsWith(`${parameter}: `)).toBe(true);
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
