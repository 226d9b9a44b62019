// The HTTP side of the vendor contract against a real relay over real sockets:
// GET /v1/feeds/{feed}/events with consumer=, after_time=, streams=, types= and
// wait=, the range check on every read (409 with the feed's range), and the
// consumer routes PUT/GET/DELETE /v1/feeds/{feed}/consumers/{name}.
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeedEvent, JournalEvent } from '../../protocol/index.js';
import { relayDatabaseFile, SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { TestRelay, VENDOR_KEYS, connectAgent, makeBatch, makeEvent, type AgentStream } from './relay-harness.js';

interface Line {
  seq: number;
  prevSeq: number;
  stream: string;
  headers: Record<string, string>;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The NDJSON lines of a 200, parsed. */
  lines: Line[];
  /** The JSON body of anything else. */
  json: Record<string, unknown> & { error?: { code: string; message: string } & Record<string, unknown> };
  elapsedMs: number;
}

/** Sends a request as vendor `key` (none: no Authorization header). */
async function call(base: string, path: string, init: { method?: string; body?: string; key?: string | null; signal?: AbortSignal } = {}): Promise<Answer> {
  const started = Date.now();
  const key = init.key === undefined ? VENDOR_KEYS.platform : init.key;
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(init.body === undefined ? {} : { body: init.body }),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  const text = await response.text();
  const ndjson = response.status === 200 && (response.headers.get('content-type') ?? '').startsWith('application/x-ndjson');
  return {
    status: response.status,
    headers: response.headers,
    text,
    lines: ndjson ? text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Line) : [],
    json: !ndjson && text.length > 0 ? (JSON.parse(text) as Answer['json']) : {},
    elapsedMs: Date.now() - started,
  };
}

const seqsOf = (answer: Answer) => answer.lines.map((line) => [line.seq, line.prevSeq]);

/** ts of makeEvent(seq). */
const tsOf = (seq: number) => Date.UTC(2024, 0, 1, 8, 0, 0) + seq * 1000;

function adt(seq: number, type: string): JournalEvent {
  return makeEvent(seq, { stream: 'adt', headers: { controlId: `MSG${seq}`, messageType: type } });
}

function lab(seq: number): JournalEvent {
  return makeEvent(seq, { stream: 'lab', headers: { controlId: `MSG${seq}`, messageType: 'ORU^R01' } });
}

describe('GET /v1/feeds/{feed}/events: parameters, range and consumers', () => {
  // A short long-poll bound, so waiting for it is quick; two reads per key.
  const relay = new TestRelay((config) => ({ ...config, feedLimits: { concurrentReadsPerKey: 2, maxWaitMs: 1_500 } }));
  let agent: AgentStream;
  const get = (path: string, init?: Parameters<typeof call>[2]) => call(relay.httpBase, path, init);

  /** Sends events [first, last] of feed adt at h1 and waits for the ack. */
  async function send(first: number, last: number, events: JournalEvent[]): Promise<void> {
    const answer = await agent.exchange(makeBatch('adt', first, last, events));
    expect(answer.body, JSON.stringify(answer)).toBe('ack');
  }

  beforeAll(async () => {
    await relay.start();
    agent = (await connectAgent(relay, 'h1', ['adt'])).stream;
    // Seq 3 belongs to another feed: adt skips it.
    await send(1, 6, [adt(1, 'ADT^A01'), lab(2), adt(4, 'ADT^A08'), lab(5), adt(6, 'ADT^A01')]);
  });

  afterAll(async () => {
    await relay.close();
  });

  it('states the head and the retention floor on every page', async () => {
    const page = await get('/v1/feeds/adt/events?after=0');
    expect(page.status).toBe(200);
    expect(seqsOf(page)).toEqual([[1, 0], [2, 1], [4, 2], [5, 4], [6, 5]]);
    expect(page.headers.get('x-wardline-high-water')).toBe('6');
    expect(page.headers.get('x-wardline-retention-floor')).toBe('0');
    expect(page.headers.get('x-wardline-next-after')).toBe('6');
    expect(page.headers.get('x-wardline-hospital')).toBe('h1');
    const atHead = await get('/v1/feeds/adt/events?after=6');
    expect([atHead.status, atHead.text, atHead.headers.get('x-wardline-next-after'), atHead.headers.get('x-wardline-retention-floor')]).toEqual([200, '', '6', '0']);
  });

  it('refuses a cursor past the head with 409 WL_CURSOR_AHEAD and the feed range, a long-poll too', async () => {
    const ahead = await get('/v1/feeds/adt/events?after=7');
    expect(ahead.status).toBe(409);
    expect(ahead.json).toEqual({
      error: {
        code: 'WL_CURSOR_AHEAD',
        message: "after: 7 is past the feed's high-water mark 6; resume from a cursor this feed gave you (at most 6)",
        highWater: 6,
        retentionFloorSeq: 0,
        oldestSeq: 1,
      },
    });
    expect(ahead.headers.get('x-wardline-high-water')).toBe('6');
    expect(ahead.headers.get('x-wardline-retention-floor')).toBe('0');
    // A long-poll is refused at once too, not held until an event past the cursor arrives.
    const waiting = await get('/v1/feeds/adt/events?after=1000000000000&wait=30000');
    expect(waiting.status).toBe(409);
    expect(waiting.json.error?.code).toBe('WL_CURSOR_AHEAD');
    expect(waiting.elapsedMs).toBeLessThan(1_000);
  });

  it('refuses bad values with 400 naming the parameter and what it expects', async () => {
    const cases: [string, string][] = [
      ['after=5&after_time=2024-01-01', 'after, after_time: give one of them, not both (after 5, after_time "2024-01-01")'],
      ['after_time=2024-01-01T08:00:00', 'after_time: expected ms since the Unix epoch, or an ISO 8601 date-time with its offset such as "2024-01-01T08:00:00Z", got "2024-01-01T08:00:00" (add the offset: "Z" for UTC, or such as "+02:00")'],
      ['after_time=2024-01-01T10:00:00+02:00', 'after_time: expected ms since the Unix epoch, or an ISO 8601 date-time with its offset such as "2024-01-01T08:00:00Z", got "2024-01-01T10:00:00 02:00" (send "+" as %2B: unencoded in a URL it reads as a space)'],
      ['streams=adt,not%20ok', 'streams[1]: expected a stream name of 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit, got "not ok"'],
      ['types=ADT%5EA01,ADT%20A01', 'types[1]: expected an HL7 message type such as "ADT^A01", or a message code such as "ORU", got "ADT A01"'],
      ['wait=300001', 'wait: expected milliseconds from 0 to 300000 (such as 20000), got "300001"'],
      ['wait=soon', 'wait: expected milliseconds from 0 to 300000 (such as 20000), got "soon"'],
      ['consumer=-etl', 'consumer: expected 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit, got "-etl"'],
      ['consumer=a&consumer=b', 'consumer: given 2 times; give it once'],
    ];
    for (const [query, message] of cases) {
      const answer = await get(`/v1/feeds/adt/events?${query}`);
      expect([query, answer.status, answer.json]).toEqual([query, 400, { error: { code: 'WL_BAD_REQUEST', message } }]);
    }
  });

  it('filters by stream and message type in the store, with prevSeq chaining through the filtered feed and its pages', async () => {
    expect(seqsOf(await get('/v1/feeds/adt/events?streams=lab'))).toEqual([[2, 0], [5, 2]]);
    expect(seqsOf(await get('/v1/feeds/adt/events?types=ADT%5EA01'))).toEqual([[1, 0], [6, 1]]);
    // A message code alone passes every trigger of it.
    expect(seqsOf(await get('/v1/feeds/adt/events?types=ADT'))).toEqual([[1, 0], [4, 1], [6, 4]]);
    expect(seqsOf(await get('/v1/feeds/adt/events?streams=adt,lab&types=ADT%5EA08,ORU'))).toEqual([[2, 0], [4, 2], [5, 4]]);
    // Paged one event at a time, each page's first prevSeq is the previous page's last seq.
    const pages: number[][] = [];
    let after = 0;
    for (let i = 0; i < 5; i++) {
      const page = await get(`/v1/feeds/adt/events?after=${after}&limit=1&types=ADT`);
      pages.push(...seqsOf(page));
      after = Number(page.headers.get('x-wardline-next-after'));
      if (page.lines.length === 0) break;
    }
    expect(pages).toEqual([[1, 0], [4, 1], [6, 4]]);
    expect(after).toBe(6);
    // Starting mid-feed, prevSeq is the last passing event at or before the cursor.
    expect(seqsOf(await get('/v1/feeds/adt/events?after=4&streams=lab'))).toEqual([[5, 2]]);
    // A complete page moves the cursor to the head even when the filter passed nothing after the last event.
    const tail = await get('/v1/feeds/adt/events?after=5&streams=lab');
    expect([tail.lines.length, tail.headers.get('x-wardline-next-after')]).toEqual([0, '6']);
  });

  it('starts at the first event at or after after_time, given as ISO 8601 or as epoch milliseconds', async () => {
    const iso = new Date(tsOf(4)).toISOString();
    expect(seqsOf(await get(`/v1/feeds/adt/events?after_time=${iso}`))).toEqual([[4, 2], [5, 4], [6, 5]]);
    expect(seqsOf(await get(`/v1/feeds/adt/events?after_time=${tsOf(4) - 1}`))).toEqual([[4, 2], [5, 4], [6, 5]]);
    expect(seqsOf(await get(`/v1/feeds/adt/events?after_time=${encodeURIComponent('2024-01-01T10:00:05+02:00')}`))).toEqual([[5, 4], [6, 5]]);
    expect(seqsOf(await get('/v1/feeds/adt/events?after_time=2024-01-01&streams=lab'))).toEqual([[2, 0], [5, 2]]);
    const later = await get(`/v1/feeds/adt/events?after_time=${tsOf(7)}`);
    expect([later.status, later.lines.length, later.headers.get('x-wardline-next-after')]).toEqual([200, 0, '6']);
  });

  it('commits, reads, resumes from and deletes a named consumer', async () => {
    const path = '/v1/feeds/adt/consumers/billing-etl';
    const never = await get(path);
    expect([never.status, never.json.error?.code]).toEqual([404, 'WL_CONSUMER_NOT_FOUND']);
    expect(never.json.error?.message).toBe('consumer "billing-etl": never committed for this key and feed; commit a cursor first');
    // Before any commit a read naming the consumer starts at the beginning.
    expect(seqsOf(await get('/v1/feeds/adt/events?consumer=billing-etl&limit=2'))).toEqual([[1, 0], [2, 1]]);
    const before = Date.now();
    const committed = await get(path, { method: 'PUT', body: JSON.stringify({ cursor: 2 }) });
    expect(committed.status).toBe(200);
    expect(committed.json).toEqual({ hospitalId: 'h1', feed: 'adt', consumer: 'billing-etl', cursor: 2, committedAtMs: expect.any(Number), highWater: 6, retentionFloorSeq: 0 });
    expect(committed.json.committedAtMs as number).toBeGreaterThanOrEqual(before - 1_000);
    expect((await get(path)).json).toEqual(committed.json);
    // No after: the read resumes after the committed cursor; after given: it wins.
    expect(seqsOf(await get('/v1/feeds/adt/events?consumer=billing-etl'))).toEqual([[4, 2], [5, 4], [6, 5]]);
    expect(seqsOf(await get('/v1/feeds/adt/events?consumer=billing-etl&after=4'))).toEqual([[5, 4], [6, 5]]);
    // The same committed cursor over gRPC.
    const subscription = relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', consumer: 'billing-etl' });
    const messages: FeedEvent[] = [];
    subscription.call.on('data', (message: FeedEvent) => messages.push(message));
    expect((await subscription.status).code).toBe(Status.OK);
    expect(messages.map((m) => Number(m.event!.seq))).toEqual([4, 5, 6]);
    // The read is the consumer's on the key's own status.
    const own = await get('/v1/status');
    const row = (own.json.vendor as { feeds: { feed: string; consumer: string; cursor: number | null; committedCursor: number | null }[] }).feeds.find((f) => f.feed === 'adt' && f.consumer === 'billing-etl');
    expect(row).toMatchObject({ cursor: 6, committedCursor: 2 });

    const deleted = await get(path, { method: 'DELETE' });
    expect([deleted.status, deleted.text]).toEqual([204, '']);
    expect((await get(path)).status).toBe(404);
    const again = await get(path, { method: 'DELETE' });
    expect([again.status, again.json.error?.code]).toEqual([404, 'WL_CONSUMER_NOT_FOUND']);
    // Forgotten: a read naming it starts from the beginning again.
    expect(seqsOf(await get('/v1/feeds/adt/events?consumer=billing-etl&limit=1'))).toEqual([[1, 0]]);
  });

  it('refuses a commit past the head with 409 and the range, and bad bodies with 400 naming the field, storing nothing', async () => {
    const path = '/v1/feeds/adt/consumers/archive';
    const ahead = await get(path, { method: 'PUT', body: '{"cursor": 7}' });
    expect(ahead.status).toBe(409);
    expect(ahead.json).toEqual({
      error: { code: 'WL_CURSOR_AHEAD', message: "cursor: 7 is past the feed's high-water mark 6; resume from a cursor this feed gave you (at most 6)", highWater: 6, retentionFloorSeq: 0, oldestSeq: 1 },
    });
    const bodies: [string, string][] = [
      ['not json', 'body: expected JSON'],
      ['[]', 'body: expected a JSON object such as {"cursor": 42}, got []'],
      ['{}', 'cursor: required: the seq of the last event this consumer processed, such as {"cursor": 42}'],
      ['{"cursor": "2"}', 'cursor: expected a whole number from 0 to 9007199254740991, got "2"'],
      ['{"cursor": 1.5}', 'cursor: expected a whole number from 0 to 9007199254740991, got 1.5'],
      ['{"cursor": -1}', 'cursor: expected a whole number from 0 to 9007199254740991, got -1'],
      ['{"cursor": 2, "note": "x"}', 'body: unknown field "note"; a commit is {"cursor": N}'],
    ];
    for (const [body, message] of bodies) {
      const answer = await get(path, { method: 'PUT', body });
      expect([body, answer.status, answer.json]).toEqual([body, 400, { error: { code: 'WL_BAD_REQUEST', message } }]);
    }
    expect((await get(path)).status).toBe(404);
    const badName = await get('/v1/feeds/adt/consumers/-x', { method: 'PUT', body: '{"cursor": 1}' });
    expect([badName.status, badName.json.error?.message]).toEqual([400, 'consumer: expected a consumer name (1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit), got "-x"']);
    const post = await get(path, { method: 'POST', body: '{"cursor": 1}' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, PUT, DELETE']);
  });

  it('checks the key, the grant and hospital= on the consumer routes as on the events', async () => {
    expect((await get('/v1/feeds/adt/consumers/etl', { key: null })).status).toBe(401);
    expect((await get('/v1/feeds/adt/consumers/etl', { key: VENDOR_KEYS.app, method: 'PUT', body: '{"cursor": 1}' })).status).toBe(403);
    // platform reads `results` at h1 and h2: it must say which.
    const which = await get('/v1/feeds/results/consumers/etl', { method: 'PUT', body: '{"cursor": 0}' });
    expect([which.status, which.json.error?.code]).toEqual([400, 'WL_HOSPITAL_REQUIRED']);
    const atH2 = await get('/v1/feeds/results/consumers/etl?hospital=h2', { method: 'PUT', body: '{"cursor": 0}' });
    expect([atH2.status, atH2.json.hospitalId, atH2.json.cursor]).toEqual([200, 'h2', 0]);
    expect((await get('/v1/feeds/results/consumers/etl?hospital=h1')).status).toBe(404);
  });

  it('holds a page at the head until an event arrives (wait=), and answers the empty page after the wait when none does', async () => {
    const early = get('/v1/feeds/adt/events?after=6&wait=60000');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await send(7, 7, [adt(7, 'ADT^A03')]);
    const woken = await early;
    expect(seqsOf(woken)).toEqual([[7, 6]]);
    expect(woken.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(woken.elapsedMs).toBeLessThan(1_400);
    expect(woken.headers.get('x-wardline-high-water')).toBe('7');

    const quiet = await get('/v1/feeds/adt/events?after=7&wait=500');
    expect([quiet.status, quiet.text, quiet.headers.get('x-wardline-next-after'), quiet.headers.get('x-wardline-high-water'), quiet.headers.get('x-wardline-retention-floor')]).toEqual([200, '', '7', '7', '0']);
    expect(quiet.elapsedMs).toBeGreaterThanOrEqual(450);
    expect(quiet.elapsedMs).toBeLessThan(1_400);
    // feedLimits.maxWaitMs (1.5 s here) bounds what a request asks for.
    const bounded = await get('/v1/feeds/adt/events?after=7&wait=60000');
    expect([bounded.status, bounded.text]).toEqual([200, '']);
    expect(bounded.elapsedMs).toBeGreaterThanOrEqual(1_400);
    expect(bounded.elapsedMs).toBeLessThan(3_000);
    // No wait: the empty page at once; events to send: no wait either.
    expect((await get('/v1/feeds/adt/events?after=7')).elapsedMs).toBeLessThan(1_000);
    const ready = await get('/v1/feeds/adt/events?after=5&wait=60000');
    expect(seqsOf(ready)).toEqual([[6, 5], [7, 6]]);
    expect(ready.elapsedMs).toBeLessThan(1_000);
  });

  it('keeps waiting past events its filter leaves out, and answers with the first that passes', async () => {
    const waiting = get('/v1/feeds/adt/events?after=7&streams=lab&wait=60000');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await send(8, 8, [adt(8, 'ADT^A01')]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await send(9, 9, [lab(9)]);
    const page = await waiting;
    // prevSeq 5: the last lab event, so the vendor sees it missed nothing of its filtered feed.
    expect(seqsOf(page)).toEqual([[9, 5]]);
    expect(page.elapsedMs).toBeGreaterThanOrEqual(450);
    expect(page.elapsedMs).toBeLessThan(1_400);
    expect(page.headers.get('x-wardline-next-after')).toBe('9');
  });
});

describe('GET /v1/feeds/{feed}/events?wait=: a waiting read is a read', () => {
  const relay = new TestRelay((config) => ({ ...config, feedLimits: { concurrentReadsPerKey: 1, maxWaitMs: 120_000 } }));
  const get = (path: string, init?: Parameters<typeof call>[2]) => call(relay.httpBase, path, init);

  beforeAll(async () => {
    await relay.start();
    const { stream } = await connectAgent(relay, 'h1', ['adt']);
    expect((await stream.exchange(makeBatch('adt', 1, 3))).body).toBe('ack');
  });

  afterAll(async () => {
    await relay.close();
  });

  it('holds the key\'s read slot while it waits and frees it when the vendor disconnects', async () => {
    const vendor = new AbortController();
    const waiting = get('/v1/feeds/adt/events?after=3&wait=120000', { signal: vendor.signal }).catch((error: unknown) => error);
    // The one read slot is taken by the wait: another read of the key is refused meanwhile.
    let refused: Answer | undefined;
    for (let i = 0; i < 50 && refused?.status !== 429; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      refused = await get('/v1/feeds/adt/events?after=0');
    }
    expect([refused?.status, refused?.json.error?.code, refused?.headers.get('retry-after')]).toEqual([429, 'WL_TOO_MANY_REQUESTS', '1']);
    vendor.abort();
    expect(((await waiting) as Error).name).toBe('AbortError');
    // The disconnect frees it at once, long before the 120 s wait would have ended.
    const freedAt = Date.now();
    let after: Answer | undefined;
    for (let i = 0; i < 50 && after?.status !== 200; i++) {
      after = await get('/v1/feeds/adt/events?after=0');
      if (after.status !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(after?.status).toBe(200);
    expect(after?.lines.map((l) => l.seq)).toEqual([1, 2, 3]);
    expect(Date.now() - freedAt).toBeLessThan(1_000);
  });

  it('answers a waiting read at once with the empty page when the relay stops, so the stop is not held', async () => {
    const waiting = get('/v1/feeds/adt/events?after=3&wait=120000');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stopping = Date.now();
    await relay.relay!.stop();
    const stopMs = Date.now() - stopping;
    const page = await waiting;
    expect([page.status, page.text, page.headers.get('x-wardline-next-after')]).toEqual([200, '', '3']);
    // Well under the harness's 2 s shutdown grace, which a held request would have used up.
    expect(stopMs).toBeLessThan(1_500);
    await relay.start();
  });
});

describe('GET /v1/feeds/{feed}/events below the retention floor', () => {
  const relay = new TestRelay();
  const get = (path: string, init?: Parameters<typeof call>[2]) => call(relay.httpBase, path, init);

  beforeAll(async () => {
    await relay.start();
    const { stream } = await connectAgent(relay, 'h1', ['adt']);
    expect((await stream.exchange(makeBatch('adt', 1, 6))).body).toBe('ack');
    stream.call.end();
    const consumer = await get('/v1/feeds/adt/consumers/slow', { method: 'PUT', body: '{"cursor": 1}' });
    expect(consumer.status).toBe(200);
    // Retention removes seqs 1-3 while the relay is down (the sweeper does the same while it runs).
    await relay.relay!.stop();
    const store = SqliteFeedStore.open({ file: relayDatabaseFile(relay.dataDir) });
    // Seqs 4-6 have bodies of one length: the size rule keeps exactly them.
    const kept = makeEvent(4).body.length * 3;
    expect((await store.applyRetention('h1', 'adt', { maxBytes: kept })).retentionFloorSeq).toBe(3);
    await store.close();
    await relay.start();
  });

  afterAll(async () => {
    await relay.close();
  });

  it('refuses a cursor below the floor with 409 WL_CURSOR_BELOW_RETENTION, also from a consumer or after_time, and serves from the floor', async () => {
    const below = await get('/v1/feeds/adt/events?after=2');
    expect(below.status).toBe(409);
    expect(below.json).toEqual({
      error: {
        code: 'WL_CURSOR_BELOW_RETENTION',
        message: "after: 2 is below the relay's retention floor 3: events after it were removed; resume after 3 to accept that, or ask the hospital for an export",
        highWater: 6,
        retentionFloorSeq: 3,
        oldestSeq: 4,
      },
    });
    expect(below.headers.get('x-wardline-retention-floor')).toBe('3');
    // A read with no cursor starts at 0, below the floor, too: the vendor learns of the gap.
    expect((await get('/v1/feeds/adt/events')).json.error?.code).toBe('WL_CURSOR_BELOW_RETENTION');
    const consumer = await get('/v1/feeds/adt/events?consumer=slow');
    expect([consumer.status, consumer.json.error?.code]).toEqual([409, 'WL_CURSOR_BELOW_RETENTION']);
    expect(consumer.json.error?.message).toMatch(/^consumer: 1 is below/);
    const byTime = await get('/v1/feeds/adt/events?after_time=2024-01-01');
    expect([byTime.status, byTime.json.error?.message]).toEqual([409, expect.stringMatching(/^after_time: 2 is below the relay's retention floor 3/)]);
    // From the floor: the page and its headers.
    const page = await get('/v1/feeds/adt/events?after=3');
    expect(page.lines.map((l) => [l.seq, l.prevSeq])).toEqual([[4, 3], [5, 4], [6, 5]]);
    expect(page.headers.get('x-wardline-retention-floor')).toBe('3');
    // The consumer's committed cursor is still reported with the floor, and a commit below it is refused.
    expect((await get('/v1/feeds/adt/consumers/slow')).json).toMatchObject({ cursor: 1, highWater: 6, retentionFloorSeq: 3 });
    const commit = await get('/v1/feeds/adt/consumers/slow', { method: 'PUT', body: '{"cursor": 2}' });
    expect([commit.status, commit.json.error?.code]).toEqual([409, 'WL_CURSOR_BELOW_RETENTION']);
  });
});
