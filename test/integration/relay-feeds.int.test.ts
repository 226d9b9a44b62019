import { status as Status } from '@grpc/grpc-js';
import iconv from 'iconv-lite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, type VendorEventJson } from '../../protocol/index.js';
import { HIGH_WATER_HEADER, NEXT_AFTER_HEADER, RelayErrorCode } from '../../cloud-relay/index.js';
import { OPERATOR_HEADERS, TestRelay, VENDOR_KEYS, connectAgent, makeBatch, makeEvent, makeEvents, type AgentStream } from './relay-harness.js';

interface FeedResponse {
  status: number;
  highWater: number;
  nextAfter: number;
  events: VendorEventJson[];
}

describe('relay feeds (HTTP NDJSON and gRPC Subscribe)', () => {
  let relay: TestRelay;
  let agent: AgentStream;

  beforeEach(async () => {
    relay = new TestRelay();
    await relay.start();
    ({ stream: agent } = await connectAgent(relay, 'h1', ['adt', 'results']));
  });

  afterEach(async () => {
    await relay.close();
  });

  async function store(feed: string, firstSeq: number, lastSeq: number, events = makeEvents(firstSeq, lastSeq)): Promise<void> {
    const answer = await agent.exchange(makeBatch(feed, firstSeq, lastSeq, events));
    expect(answer.body).toBe('ack');
  }

  /** GET with the vendor key `key` (null: no Authorization header). */
  function get(path: string, key: string | null = VENDOR_KEYS.platform): Promise<Response> {
    return fetch(`${relay.httpBase}${path}`, { headers: key === null ? {} : { authorization: `Bearer ${key}` } });
  }

  async function readFeed(path: string, key?: string): Promise<FeedResponse> {
    const response = await get(path, key);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const text = await response.text();
    return {
      status: response.status,
      highWater: Number(response.headers.get(HIGH_WATER_HEADER)),
      nextAfter: Number(response.headers.get(NEXT_AFTER_HEADER)),
      events: text === '' ? [] : text.trimEnd().split('\n').map((line) => JSON.parse(line) as VendorEventJson),
    };
  }

  async function errorOf(response: Response): Promise<{ code: string; message: string }> {
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    return ((await response.json()) as { error: { code: string; message: string } }).error;
  }

  it('serves NDJSON pages that a cursor walks exactly once, in order', async () => {
    await store('adt', 1, 10);
    // Seqs 11..20 carry events; 21..30 are a range whose events the policy dropped.
    await store('adt', 11, 30, makeEvents(11, 20));

    const seen: number[] = [];
    let after = 0;
    for (let pages = 0; pages < 20; pages++) {
      const page = await readFeed(`/v1/feeds/adt/events?after=${after}&limit=4`);
      expect(page.highWater).toBe(30);
      seen.push(...page.events.map((e) => e.seq));
      if (page.nextAfter === after) break;
      after = page.nextAfter;
    }
    expect(seen).toEqual(makeEvents(1, 20).map((e) => e.seq));
    expect(after).toBe(30);

    const first = (await readFeed('/v1/feeds/adt/events?limit=1')).events[0]!;
    expect(Object.keys(first).sort()).toEqual(['body', 'contentType', 'feed', 'headers', 'hospital', 'key', 'op', 'prevSeq', 'seq', 'source', 'stream', 'ts']);
    expect(first).toEqual({
      hospital: 'h1',
      feed: 'adt',
      seq: 1,
      prevSeq: 0,
      stream: 'adt',
      key: 'P1001',
      op: 'upsert',
      ts: '2024-01-01T08:00:01.000Z',
      source: 'lis-mllp',
      contentType: 'hl7v2',
      body: makeEvent(1).body.toString('utf8'),
      headers: { controlId: 'MSG1' },
    });

    // Default limit, and a cursor at the end.
    expect((await readFeed('/v1/feeds/adt/events')).events).toHaveLength(20);
    const end = await readFeed('/v1/feeds/adt/events?after=30');
    expect(end.events).toEqual([]);
    expect(end.nextAfter).toBe(30);
  });

  it('serves json bodies parsed, other content types as base64, and GB18030-origin text as the right characters', async () => {
    // The agent decodes GB18030 HL7 (MSH-18) and journals UTF-8; the relay must hand back the same characters.
    const gbBytes = iconv.encode('MSH|^~\\&|HIS|H1|||20240101||ADT^A01|X1|P|2.5|||||CHN|GB18030\rPID|1||P1||张三^先生', 'gb18030');
    const hl7Text = iconv.decode(gbBytes, 'gb18030');
    const events = [
      makeEvent(1, { body: Buffer.from(hl7Text, 'utf8') }),
      makeEvent(2, { contentType: 'json', body: Buffer.from(JSON.stringify({ name: '李四', beds: [1, 2] }), 'utf8') }),
      makeEvent(3, { contentType: 'application/octet-stream', body: Buffer.from([0, 1, 2, 0xfe, 0xff]) }),
      makeEvent(4, { op: 'delete', contentType: 'application/dicom', body: Buffer.from([0xc3, 0x28]) }),
    ];
    await store('adt', 1, 4, events);

    const page = await readFeed('/v1/feeds/adt/events');
    expect(page.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(page.events[0]!.body).toBe(hl7Text);
    expect(page.events[0]!.body as string).toContain('张三^先生');
    expect(page.events[1]!.body).toEqual({ name: '李四', beds: [1, 2] });
    expect(page.events[2]).not.toHaveProperty('body');
    expect(Buffer.from(page.events[2]!.bodyBase64!, 'base64')).toEqual(Buffer.from([0, 1, 2, 0xfe, 0xff]));
    expect(page.events[3]).toMatchObject({ op: 'delete', bodyBase64: Buffer.from([0xc3, 0x28]).toString('base64') });
    expect(page.events[3]).not.toHaveProperty('body');
  });

  it('answers a wrong or missing vendor key with 401 and a JSON error', async () => {
    const wrong = await get('/v1/feeds/adt/events', 'not-a-key-anyone-was-given');
    expect(wrong.status).toBe(401);
    expect(await errorOf(wrong)).toEqual({ code: ErrorCode.BAD_VENDOR_KEY, message: expect.stringContaining('unknown vendor key') });

    const missing = await get('/v1/feeds/adt/events', null);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await errorOf(missing)).message).toContain('Authorization: Bearer');
  });

  it('answers a feed the vendor was not granted with 403', async () => {
    await store('adt', 1, 3);
    const notGranted = await get('/v1/feeds/adt/events', VENDOR_KEYS.app);
    expect(notGranted.status).toBe(403);
    expect(await errorOf(notGranted)).toEqual({ code: RelayErrorCode.FEED_NOT_GRANTED, message: 'vendor "app" is not granted feed "adt"' });

    const wrongHospital = await get('/v1/feeds/adt/events?hospital=h2');
    expect(wrongHospital.status).toBe(403);
    expect((await errorOf(wrongHospital)).message).toContain('at hospital "h2"');
  });

  it('asks for hospital when the feed is granted at several, and names bad parameters', async () => {
    await store('results', 1, 2);
    const ambiguous = await get('/v1/feeds/results/events');
    expect(ambiguous.status).toBe(400);
    const error = await errorOf(ambiguous);
    expect(error.code).toBe(RelayErrorCode.HOSPITAL_REQUIRED);
    expect(error.message).toContain('hospital');
    expect((await readFeed('/v1/feeds/results/events?hospital=h1')).events.map((e) => e.seq)).toEqual([1, 2]);
    expect((await readFeed('/v1/feeds/results/events?hospital=h2')).events).toEqual([]);

    for (const [query, parameter] of [
      ['after=abc', 'after'],
      ['after=-1', 'after'],
      ['limit=0', 'limit'],
      ['limit=10001', 'limit'],
      ['limit=1.5', 'limit'],
    ] as const) {
      const response = await get(`/v1/feeds/adt/events?${query}`);
      expect(response.status, query).toBe(400);
      const bad = await errorOf(response);
      expect(bad.code).toBe(RelayErrorCode.BAD_REQUEST);
      expect(bad.message.startsWith(`${parameter}:`), bad.message).toBe(true);
    }
    expect((await get('/v1/feeds/adt/events?limit=10000')).status).toBe(200);
  });

  it('serves healthz, status and metrics, and JSON 404s', async () => {
    await store('adt', 1, 5);
    const health = await fetch(`${relay.httpBase}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok\n');

    const status = (await (await fetch(`${relay.httpBase}/v1/status`, { headers: OPERATOR_HEADERS })).json()) as Record<string, any>;
    expect(status.relayId).toBe('test-relay');
    expect(status.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(status.connectedAgents).toEqual([expect.objectContaining({ hospital: 'h1', batches: 1, events: 5 })]);
    expect(status.hospitals).toEqual([
      expect.objectContaining({
        id: 'h1',
        name: 'Hospital One',
        feeds: [expect.objectContaining({ feed: 'adt', highWaterSeq: 5, events: 5, lastBatchAt: expect.any(String) })],
      }),
      expect.objectContaining({ id: 'h2', feeds: [] }),
    ]);

    await readFeed('/v1/feeds/adt/events');
    const metrics = await (await fetch(`${relay.httpBase}/metrics`, { headers: OPERATOR_HEADERS })).text();
    expect(metrics).toContain('wardline_relay_batches_total{result="append"} 1');
    expect(metrics).toContain('wardline_relay_feed_events_served_total{api="http"} 5');
    expect(metrics).not.toContain('P100'); // no patient identifiers in labels

    const missing = await fetch(`${relay.httpBase}/v1/nothing`);
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).code).toBe(RelayErrorCode.NOT_FOUND);
    const post = await fetch(`${relay.httpBase}/v1/feeds/adt/events`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('streams a Subscribe backlog, then live events stored after it subscribed, in order and exactly once', async () => {
    await store('adt', 1, 3);
    const subscription = relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', after: 1, follow: true });
    const seqs: number[] = [];
    const take = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const message = await subscription.next();
        expect(message.hospitalId).toBe('h1');
        expect(message.feed).toBe('adt');
        seqs.push(Number(message.event!.seq));
      }
    };
    await take(2);
    expect(seqs).toEqual([2, 3]);

    await store('adt', 4, 6);
    await take(3);
    // A resend, an overlap and a gap-free range without events must add nothing twice.
    await agent.exchange(makeBatch('adt', 4, 6));
    await store('adt', 5, 8);
    await store('adt', 9, 12, [makeEvent(10), makeEvent(12)]);
    await take(4);
    expect(seqs).toEqual([2, 3, 4, 5, 6, 7, 8, 10, 12]);

    // Nothing further arrives.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(subscription.pending).toBe(0);

    subscription.call.cancel();
    expect((await subscription.status).code).toBe(Status.CANCELLED);
  });

  it('ends a Subscribe without follow at the end of the feed, and refuses a bad key', async () => {
    await store('adt', 1, 3);
    const subscription = relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt' });
    const seqs = [Number((await subscription.next()).event!.seq), Number((await subscription.next()).event!.seq), Number((await subscription.next()).event!.seq)];
    expect(seqs).toEqual([1, 2, 3]);
    expect((await subscription.status).code).toBe(Status.OK);

    const refused = relay.subscribe('not-a-key-anyone-was-given', { feed: 'adt' });
    const status = await refused.status;
    expect(status.code).toBe(Status.UNAUTHENTICATED);
    expect(status.details).toContain(ErrorCode.BAD_VENDOR_KEY);

    const notGranted = relay.subscribe(VENDOR_KEYS.app, { feed: 'adt', follow: true });
    expect((await notGranted.status).code).toBe(Status.PERMISSION_DENIED);
  });

  it('ends follow subscriptions with UNAVAILABLE when the relay stops', async () => {
    const subscription = relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', follow: true });
    await store('adt', 1, 1);
    expect(Number((await subscription.next()).event!.seq)).toBe(1);
    await relay.relay!.stop();
    expect((await subscription.status).code).toBe(Status.UNAVAILABLE);
  });
});
