// The NATS JetStream sink in a running relay: events stored through real
// ingest reach the feed's subject once each, in order; a plain JetStream
// consumer reads exactly the JSON the HTTP feed serves; the status page and
// /metrics show the sink caught up; a second stream shows the dot mapping.
import { afterEach, describe, expect, it } from 'vitest';
import type { JournalEvent } from '../../protocol/index.js';
import { connectAgent, makeBatch, makeEvent, OPERATOR_HEADERS, TestRelay, VENDOR_KEYS } from './relay-harness.js';
import { createNatsTestStream, TEST_NATS_URL, type NatsTestStream } from '../support/nats-test-stream.js';

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('NATS JetStream sink', () => {
  let relay: TestRelay | undefined;
  let stream: NatsTestStream | undefined;
  afterEach(async () => {
    await relay?.close();
    await stream?.delete();
    relay = stream = undefined;
  });

  it('publishes every stored event once, in order, as the HTTP feed serves it', async () => {
    stream = await createNatsTestStream('sink', 2_000);
    const s = stream;
    relay = new TestRelay((config) => ({
      ...config,
      sinks: [{ kind: 'nats-jetstream', name: 'bus', servers: [TEST_NATS_URL], stream: s.name, subjectPrefix: s.prefix, pollMs: 100, leaseTtlMs: 2_000 }],
    }));
    await relay.start();
    const { stream: agent } = await connectAgent(relay, 'h1', ['adt', 'results']);
    // hl7, json (with a nested body and a big number kept as written) and bytes, in two feeds.
    const results: JournalEvent[] = [
      makeEvent(1, { stream: 'results', contentType: 'json', body: Buffer.from('{"id": 1, "big": 12345678901234567890, "nested": {"a": [1, 2]}}') }),
      makeEvent(2, { stream: 'results', contentType: 'application/octet-stream', body: Buffer.from([0, 1, 2, 255]) }),
      makeEvent(3, { stream: 'results' }),
    ];
    expect((await agent.exchange(makeBatch('adt', 1, 300))).body).toBe('ack');
    expect((await agent.exchange(makeBatch('results', 1, 3, results))).body).toBe('ack');
    expect((await agent.exchange(makeBatch('adt', 301, 500))).body).toBe('ack');

    await until('every event on the stream', async () => ((await s.messages()) === 503 ? true : undefined));
    const read = await s.readAll();
    for (const [feed, count] of [['adt', 500], ['results', 3]] as const) {
      const onSubject = read.filter((m) => m.subject === `${s.prefix}.h1.${feed}`);
      expect(onSubject.map((m) => m.messageId)).toEqual(Array.from({ length: count }, (_, i) => `h1/${feed}/${i + 1}`));
      expect(onSubject[0]!.headers).toMatchObject({ 'Wardline-Hospital': 'h1', 'Wardline-Feed': feed, 'Wardline-Seq': '1', 'Content-Type': 'application/json' });
      const http = await fetch(`${relay.httpBase}/v1/feeds/${feed}/events?hospital=h1&limit=1000`, { headers: { authorization: `Bearer ${VENDOR_KEYS.platform}` } });
      expect(http.status).toBe(200);
      const lines = (await http.text()).split('\n').filter(Boolean);
      // Byte-equal: the message payload is the HTTP feed's NDJSON line without its newline.
      expect(onSubject.map((m) => m.payload)).toEqual(lines);
    }

    // Status and metrics: caught up, lag 0, no errors.
    const status = await until('the sink caught up', async () => {
      const st = await relay!.relay!.status();
      return st.sinks.length === 2 && st.sinks.every((f) => f.state === 'caught-up' && f.lagEvents === 0) ? st : undefined;
    });
    const byFeed = [...status.sinks].sort((a, b) => a.feed.localeCompare(b.feed));
    expect(byFeed.map((f) => [f.feed, f.subject, f.publishedSeq, f.published, f.publishErrors])).toEqual([
      ['adt', `${s.prefix}.h1.adt`, 500, 500, 0],
      ['results', `${s.prefix}.h1.results`, 3, 3, 0],
    ]);
    const metrics = await (await fetch(`${relay.httpBase}/metrics`, { headers: OPERATOR_HEADERS })).text();
    expect(metrics).toContain('wardline_relay_sink_published_seq{sink="bus",hospital="h1",feed="adt"} 500');
    expect(metrics).toContain('wardline_relay_sink_lag_events{sink="bus",hospital="h1",feed="adt"} 0');
    expect(metrics).toContain('wardline_relay_sink_state{sink="bus",hospital="h1",feed="adt",state="caught-up"} 1');
    const page = await (await fetch(`${relay.httpBase}/`, { headers: OPERATOR_HEADERS })).text();
    expect(page).toContain('<h2>Sinks</h2>');
    expect(page).toContain(`${s.prefix}.h1.adt`);
  });

  it('publishes nothing twice after a restart, and names a dotted feed with ~ in its subject', async () => {
    stream = await createNatsTestStream('restart', 500);
    const s = stream;
    relay = new TestRelay((config) => ({
      ...config,
      vendors: [],
      sinks: [{ kind: 'nats-jetstream', name: 'bus', servers: [TEST_NATS_URL], stream: s.name, subjectPrefix: s.prefix, pollMs: 100, leaseTtlMs: 1_000 }],
    }));
    await relay.start();
    let { stream: agent } = await connectAgent(relay, 'h2', ['lab.results']);
    expect((await agent.exchange(makeBatch('lab.results', 1, 100))).body).toBe('ack');
    await until('100 on the stream', async () => ((await s.messages()) === 100 ? true : undefined));
    // A clean stop lets the lease go; the duplicate window passes while the relay is down.
    await relay.restart();
    await new Promise((r) => setTimeout(r, 700));
    ({ stream: agent } = await connectAgent(relay, 'h2', ['lab.results']));
    expect((await agent.exchange(makeBatch('lab.results', 101, 150))).body).toBe('ack');
    await until('150 on the stream', async () => ((await s.messages()) >= 150 ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    const read = await s.readAll();
    expect(read).toHaveLength(150);
    expect(new Set(read.map((m) => m.subject))).toEqual(new Set([`${s.prefix}.h2.lab~results`]));
    expect(read.map((m) => m.messageId)).toEqual(Array.from({ length: 150 }, (_, i) => `h2/lab.results/${i + 1}`));
  });

  it('starts and stops the relay while NATS is unreachable, showing the sink in backoff', async () => {
    relay = new TestRelay((config) => ({
      ...config,
      sinks: [{ kind: 'nats-jetstream', name: 'bus', servers: ['nats://127.0.0.1:1'], stream: 'NONE', pollMs: 100, publishTimeoutMs: 300, maxBackoffMs: 200 }],
    }));
    await relay.start();
    const { stream: agent } = await connectAgent(relay, 'h1', ['adt']);
    expect((await agent.exchange(makeBatch('adt', 1, 10))).body).toBe('ack');
    const status = await until('the sink in backoff', async () => {
      const st = await relay!.relay!.status();
      return st.sinks[0]?.state === 'backoff' ? st : undefined;
    });
    expect(status.sinks[0]).toMatchObject({ connected: false, publishedSeq: null, lagEvents: 10, lastError: { code: 'WL_SINK_UNAVAILABLE' } });
    expect(status.sinks[0]!.publishErrors).toBeGreaterThan(0);
    expect((await fetch(`${relay.httpBase}/readyz`)).status).toBe(200);
    const stopping = Date.now();
    await relay.relay!.stop();
    expect(Date.now() - stopping).toBeLessThan(3_000);
  });
});
