// One logical event, two transports: the same events read over HTTP
// (GET /v1/feeds/{feed}/events, NDJSON) and over gRPC (Feeds.Subscribe) map to
// the same logical event, field for field, for every content type — hl7v2 (with
// Chinese text), json, blob-ref, another content type (bytes) — and a delete.
// Each form has its own mapper written from the contract (docs/vendor-guide.md,
// protocol/vendor-event.ts's header), not from the relay's own decoders.
import { status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeedEvent, JournalEvent } from '../../protocol/index.js';
import { blobRefEvent, makeInstance } from '../support/blob-instance.js';
import { TestRelay, VENDOR_KEYS, connectAgent, makeBatch, makeEvent, putInstance } from './relay-harness.js';

/** The logical event every transport carries. */
interface LogicalEvent {
  hospital: string;
  feed: string;
  seq: number;
  prevSeq: number;
  stream: string;
  key: string;
  op: 'upsert' | 'delete';
  tsMs: number;
  source: string;
  contentType: string;
  headers: Record<string, string>;
  /** The body's bytes, base64 (hl7v2, json and blob-ref: their UTF-8 text). */
  bodyBytes: string;
}

/** HTTP/NATS JSON → logical: ts is ISO 8601 (ms, UTC); hl7v2 body is text, json/blob-ref a JSON value, anything else bodyBase64. */
function fromHttpLine(line: Record<string, unknown>): LogicalEvent {
  const contentType = line.contentType as string;
  const ts = line.ts as string;
  expect(ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  let body: Buffer;
  if ('bodyBase64' in line) {
    expect('body' in line).toBe(false);
    body = Buffer.from(line.bodyBase64 as string, 'base64');
  } else if (contentType === 'hl7v2') body = Buffer.from(line.body as string, 'utf8');
  else body = Buffer.from(JSON.stringify(line.body), 'utf8');
  return {
    hospital: line.hospital as string,
    feed: line.feed as string,
    seq: line.seq as number,
    prevSeq: line.prevSeq as number,
    stream: line.stream as string,
    key: line.key as string,
    op: line.op as 'upsert' | 'delete',
    tsMs: Date.parse(ts),
    source: line.source as string,
    contentType,
    headers: line.headers as Record<string, string>,
    bodyBytes: body.toString('base64'),
  };
}

/** gRPC FeedEvent → logical: op OP_UPSERT (1) | OP_DELETE (2), ts_ms, the body as bytes. */
function fromFeedEvent(message: FeedEvent): LogicalEvent {
  const event = message.event!;
  const op = Number(event.op);
  expect([1, 2]).toContain(op);
  return {
    hospital: message.hospitalId,
    feed: message.feed,
    seq: Number(event.seq),
    prevSeq: Number(message.prevSeq),
    stream: event.stream ?? '',
    key: event.key ?? '',
    op: op === 2 ? 'delete' : 'upsert',
    tsMs: Number(event.tsMs),
    source: event.source ?? '',
    contentType: event.contentType ?? '',
    headers: { ...(event.headers ?? {}) } as Record<string, string>,
    bodyBytes: Buffer.from(event.body ?? new Uint8Array()).toString('base64'),
  };
}

/** What the agent sent, as the logical event a vendor of h1's adt feed reading everything must see. */
function expected(event: JournalEvent, prevSeq: number): LogicalEvent {
  return {
    hospital: 'h1',
    feed: 'adt',
    seq: event.seq,
    prevSeq,
    stream: event.stream,
    key: event.key,
    op: event.op,
    tsMs: event.tsMs,
    source: event.source,
    contentType: event.contentType,
    headers: event.headers,
    bodyBytes: event.body.toString('base64'),
  };
}

const HL7_CHINESE =
  'MSH|^~\\&|HIS|H1|||20240101080000||ADT^A01^ADT_A01|MSG1|P|2.5|||||CHN|UNICODE UTF-8\rPID|1||P1001^^^H1^MR||张^三丰||19800101|M|||北京市朝阳区建国路1号';
/** A small imaging instance; its chunks go to the relay before the batch naming it. */
const INSTANCE = makeInstance(2_000, 'vendor-event-shape');

describe('one logical event over HTTP and gRPC', () => {
  const relay = new TestRelay();
  const events: JournalEvent[] = [
    makeEvent(1, {
      body: Buffer.from(HL7_CHINESE, 'utf8'),
      headers: { controlId: 'MSG1', messageType: 'ADT^A01', sendingApplication: 'HIS', sendingFacility: 'H1', charset: 'UNICODE UTF-8', originalCharset: 'GB 18030-2000' },
    }),
    makeEvent(2, { stream: 'his.patient', key: 'P1002', source: 'his-http', contentType: 'json', body: Buffer.from(JSON.stringify({ id: 'P1002', name: '李四', tags: [1, 2.5, null, true], nested: { a: {} } })), headers: {} }),
    { ...blobRefEvent(3, INSTANCE), headers: { modality: INSTANCE.body.modality } },
    makeEvent(4, { stream: 'docs', key: 'D4', source: 'his-http', contentType: 'application/pdf', body: Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0xff, 0xfe, 0x0a, 0x0d]), headers: { filename: 'report.pdf' } }),
    // A seq gap (5) the feed skips; then a delete with no body.
    makeEvent(6, { stream: 'his.patient', key: 'P1002', source: 'his-http', op: 'delete', contentType: 'json', body: Buffer.alloc(0), headers: {} }),
  ];

  beforeAll(async () => {
    await relay.start();
    const { stream } = await connectAgent(relay, 'h1', ['adt']);
    await putInstance(stream, 'adt', INSTANCE);
    const answer = await stream.exchange(makeBatch('adt', 1, 6, events));
    expect(answer.body, JSON.stringify(answer)).toBe('ack');
  });

  afterAll(async () => {
    await relay.close();
  });

  async function overHttp(): Promise<LogicalEvent[]> {
    const response = await fetch(`${relay.httpBase}/v1/feeds/adt/events?after=0`, { headers: { authorization: `Bearer ${VENDOR_KEYS.platform}` } });
    expect(response.status).toBe(200);
    const text = await response.text();
    return text
      .trimEnd()
      .split('\n')
      .map((line) => fromHttpLine(JSON.parse(line) as Record<string, unknown>));
  }

  async function overGrpc(): Promise<LogicalEvent[]> {
    const subscription = relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', after: 0 });
    const messages: FeedEvent[] = [];
    subscription.call.on('data', (message: FeedEvent) => messages.push(message));
    const status = await subscription.status;
    expect(status.code, status.details).toBe(Status.OK);
    return messages.map(fromFeedEvent);
  }

  it('maps every content type and a delete to the same logical event on both transports, and to what the agent sent', async () => {
    const [http, grpc] = await Promise.all([overHttp(), overGrpc()]);
    expect(grpc).toEqual(http);
    expect(http).toEqual(events.map((event, index) => expected(event, index === 0 ? 0 : events[index - 1]!.seq)));
  });

  it('carries the Chinese text of an hl7v2 body as the same characters on both', async () => {
    const [http, grpc] = await Promise.all([overHttp(), overGrpc()]);
    for (const form of [http, grpc]) {
      const text = Buffer.from(form[0]!.bodyBytes, 'base64').toString('utf8');
      expect(text).toContain('张^三丰');
      expect(text).toContain('北京市朝阳区建国路1号');
    }
  });

  it('keeps the same prevSeq on both with a filter', async () => {
    const response = await fetch(`${relay.httpBase}/v1/feeds/adt/events?after=0&streams=his.patient`, { headers: { authorization: `Bearer ${VENDOR_KEYS.platform}` } });
    const subscription = relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', after: 0, streams: ['his.patient'] });
    const messages: FeedEvent[] = [];
    subscription.call.on('data', (message: FeedEvent) => messages.push(message));
    expect((await subscription.status).code).toBe(Status.OK);
    const grpc = messages.map(fromFeedEvent);
    expect(grpc.map((e) => [e.seq, e.prevSeq])).toEqual([
      [2, 0],
      [6, 2],
    ]);
    expect(response.status).toBe(200);
    const http = (await response.text())
      .trimEnd()
      .split('\n')
      .map((line) => fromHttpLine(JSON.parse(line) as Record<string, unknown>));
    expect(http).toEqual(grpc);
  });
});
