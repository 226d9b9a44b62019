import { join } from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, PROTOCOL_VERSION, pb } from '../../protocol/index.js';
import { ERROR_CODE_TRAILER, RELAY_DB_FILE } from '../../cloud-relay/index.js';
import { TestRelay, connectAgent, makeBatch, makeEvent, makeEvents } from './relay-harness.js';

/**
 * feed -> high-water mark. Number(): protobufjs decodes a uint64 that is 0 (absent
 * on the wire) as a Long from the generated prototype default, whatever
 * protocol/messages.ts configures (reported; see the relay's hand-off notes).
 */
function positionsOf(welcome: { positions?: { feed?: string | null; highWaterSeq?: unknown }[] | null }): Record<string, number> {
  return Object.fromEntries((welcome.positions ?? []).map((p) => [p.feed, Number(p.highWaterSeq)]));
}

describe('relay ingest (Replicate)', () => {
  let relay: TestRelay;

  beforeEach(async () => {
    relay = new TestRelay();
    await relay.start();
  });

  afterEach(async () => {
    await relay.close();
  });

  /** seq -> how many rows the relay holds for it, read from the SQLite file itself. */
  function storedSeqCounts(hospital: string, feed: string): Map<number, number> {
    const db = new Database(join(relay.dataDir, RELAY_DB_FILE), { readonly: true });
    try {
      const rows = db
        .prepare<[string, string], { seq: number; n: number }>(
          'SELECT seq, count(*) AS n FROM feed_events WHERE hospital = ? AND feed = ? GROUP BY seq ORDER BY seq',
        )
        .all(hospital, feed);
      return new Map(rows.map((r) => [r.seq, r.n]));
    } finally {
      db.close();
    }
  }

  it('refuses a wrong secret with UNAUTHENTICATED and a message a person can act on', async () => {
    const stream = relay.agentStream();
    stream.hello('h1', ['adt'], { secret: 'not-the-right-secret-at-all' });
    const status = await stream.status;
    expect(status.code).toBe(Status.UNAUTHENTICATED);
    expect(status.details).toContain(ErrorCode.BAD_AGENT_CREDENTIALS);
    expect(status.details).toContain('hospital "h1" could not be authenticated');
    expect(status.details).toContain('secret');
    expect(status.metadata.get(ERROR_CODE_TRAILER)).toEqual([ErrorCode.BAD_AGENT_CREDENTIALS]);
    // The relay's own log says which of the two it was.
    expect(relay.logs).toContainEqual(expect.objectContaining({ hospital: 'h1', code: ErrorCode.BAD_AGENT_CREDENTIALS, authFailure: 'wrong-secret' }));
  });

  it('refuses an unknown hospital the same way as a wrong secret', async () => {
    const stream = relay.agentStream();
    stream.call.write(pb.AgentMessage.create({ hello: { protocolVersion: 1, hospitalId: 'h9', secret: 'whatever-secret-123', feeds: ['adt'] } }));
    const status = await stream.status;
    expect(status.code).toBe(Status.UNAUTHENTICATED);
    expect(status.details).toContain('hospital "h9" could not be authenticated');
  });

  it('refuses another protocol version with FAILED_PRECONDITION', async () => {
    const stream = relay.agentStream();
    stream.hello('h1', ['adt'], { protocolVersion: 99 });
    const status = await stream.status;
    expect(status.code).toBe(Status.FAILED_PRECONDITION);
    expect(status.details).toContain(ErrorCode.PROTOCOL_VERSION);
    expect(status.details).toContain('99');
  });

  it('ends a stream whose first message is a batch with a protocol violation', async () => {
    const stream = relay.agentStream();
    stream.sendBatch(makeBatch('adt', 1, 3));
    const status = await stream.status;
    expect(status.code).toBe(Status.INVALID_ARGUMENT);
    expect(status.details).toContain(ErrorCode.PROTOCOL_VIOLATION);
    expect(status.details).toContain('before Hello');
    expect(storedSeqCounts('h1', 'adt').size).toBe(0);
  });

  it('welcomes, acks, dedupes a resent batch, nacks a gap and keeps the stream usable', async () => {
    const { stream, welcome } = await connectAgent(relay, 'h1', ['adt', 'results']);
    expect(welcome.relayId).toBe('test-relay');
    expect(welcome.protocolVersion).toBe(PROTOCOL_VERSION);
    expect(welcome.maxBatchBytes).toBe(4 * 1024 * 1024);
    expect(positionsOf(welcome)).toEqual({ adt: 0, results: 0 });

    const first = await stream.exchange(makeBatch('adt', 1, 10));
    expect(first.body).toBe('ack');
    expect(first.ack).toMatchObject({ feed: 'adt', highWaterSeq: 10, duplicate: false });

    const again = await stream.exchange(makeBatch('adt', 1, 10));
    expect(again.ack).toMatchObject({ feed: 'adt', highWaterSeq: 10, duplicate: true });
    const counts = storedSeqCounts('h1', 'adt');
    expect([...counts.keys()]).toEqual(makeEvents(1, 10).map((e) => e.seq));
    expect([...counts.values()].every((n) => n === 1)).toBe(true);

    const gap = await stream.exchange(makeBatch('adt', 15, 20));
    expect(gap.body).toBe('nack');
    expect(gap.nack).toMatchObject({ feed: 'adt', expectedSeq: 11, reason: pb.NackReason.NACK_REASON_GAP });
    expect(gap.nack!.detail).toContain('resend from 11');

    const resumed = await stream.exchange(makeBatch('adt', 11, 20));
    expect(resumed.ack).toMatchObject({ feed: 'adt', highWaterSeq: 20, duplicate: false });

    // A resend that reaches past the mark stores only what is new.
    const overlap = await stream.exchange(makeBatch('adt', 16, 25));
    expect(overlap.ack).toMatchObject({ highWaterSeq: 25, duplicate: false });
    const after = storedSeqCounts('h1', 'adt');
    expect(after.size).toBe(25);
    expect([...after.values()].every((n) => n === 1)).toBe(true);

    // A range without events advances the mark (the policy dropped everything in it).
    const empty = await stream.exchange(makeBatch('adt', 26, 30, []));
    expect(empty.ack).toMatchObject({ highWaterSeq: 30 });
    expect(storedSeqCounts('h1', 'adt').size).toBe(25);

    stream.end();
    expect((await stream.status).code).toBe(Status.OK);
  });

  it('answers a burst of pipelined batches strictly in arrival order', async () => {
    const { stream } = await connectAgent(relay, 'h1', ['adt', 'results']);
    // More than the session queues before pausing the stream, interleaving feeds,
    // with a resend and a gap in the middle.
    const sent: string[] = [];
    for (let i = 0; i < 40; i++) {
      const feed = i % 2 === 0 ? 'adt' : 'results';
      const first = Math.floor(i / 2) * 3 + 1;
      stream.sendBatch(makeBatch(feed, first, first + 2));
      sent.push(`${feed} ack ${first + 2}`);
    }
    stream.sendBatch(makeBatch('adt', 1, 3));
    sent.push('adt dup 60');
    stream.sendBatch(makeBatch('results', 70, 71));
    sent.push('results nack 61');
    const answers: string[] = [];
    for (let i = 0; i < sent.length; i++) {
      const m = await stream.next();
      answers.push(m.ack ? `${m.ack.feed} ${m.ack.duplicate ? 'dup' : 'ack'} ${m.ack.highWaterSeq}` : `${m.nack!.feed} nack ${m.nack!.expectedSeq}`);
    }
    expect(answers).toEqual(sent);
    expect(storedSeqCounts('h1', 'results').size).toBe(60);
  });

  it('ends only the stream that sent a corrupt batch; another agent is unaffected', async () => {
    const a = await connectAgent(relay, 'h1', ['adt']);
    const b = await connectAgent(relay, 'h2', ['adt']);

    const corrupt = makeBatch('adt', 1, 5);
    corrupt.payload = Buffer.from(corrupt.payload);
    corrupt.payload[corrupt.payload.length >> 1]! ^= 0xff;
    a.stream.sendBatch(corrupt);
    // b sends while a's batch is being refused.
    const bAck = b.stream.exchange(makeBatch('adt', 1, 5));

    const status = await a.stream.status;
    expect(status.code).toBe(Status.INVALID_ARGUMENT);
    expect(status.details).toContain(ErrorCode.BAD_BATCH);
    expect(status.details).toContain('SHA-256');
    const ended = relay.logs.filter((line) => line.msg === 'replication stream ended with an error');
    expect(ended).toEqual([
      expect.objectContaining({ level: 40, hospital: 'h1', peer: expect.stringContaining('127.0.0.1'), code: ErrorCode.BAD_BATCH, reason: expect.stringContaining('SHA-256') }),
    ]);
    expect((await bAck).ack).toMatchObject({ highWaterSeq: 5 });
    expect((await b.stream.exchange(makeBatch('adt', 6, 8))).ack).toMatchObject({ highWaterSeq: 8 });
    expect(storedSeqCounts('h1', 'adt').size).toBe(0);

    // The agent whose batch was refused reconnects and resends: accepted as new.
    const again = await connectAgent(relay, 'h1', ['adt']);
    expect(positionsOf(again.welcome)).toEqual({ adt: 0 });
    expect((await again.stream.exchange(makeBatch('adt', 1, 5))).ack).toMatchObject({ highWaterSeq: 5, duplicate: false });
  });

  it('refuses a batch for a feed not declared in Hello', async () => {
    const { stream } = await connectAgent(relay, 'h1', ['adt']);
    stream.sendBatch(makeBatch('orders', 1, 2));
    const status = await stream.status;
    expect(status.code).toBe(Status.INVALID_ARGUMENT);
    expect(status.details).toContain(ErrorCode.UNKNOWN_FEED);
    expect(status.details).toContain('"orders"');
  });

  it('refuses a batch over maxBatchBytes with RESOURCE_EXHAUSTED', async () => {
    const { stream } = await connectAgent(relay, 'h1', ['adt']);
    const big = makeEvent(1, { contentType: 'blob-ref', body: Buffer.alloc(4 * 1024 * 1024 + 10, 7) });
    stream.sendBatch(makeBatch('adt', 1, 1, [big], 'none'));
    const status = await stream.status;
    expect(status.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(status.details).toContain(ErrorCode.BATCH_TOO_LARGE);
  });

  it('refuses a batch whose events lie outside its range', async () => {
    const { stream } = await connectAgent(relay, 'h1', ['adt']);
    stream.sendBatch(makeBatch('adt', 1, 3, makeEvents(1, 4)));
    const status = await stream.status;
    expect(status.code).toBe(Status.INVALID_ARGUMENT);
    expect(status.details).toContain('outside the batch range');
  });

  it('refuses a batch with a malformed range', async () => {
    const { stream } = await connectAgent(relay, 'h1', ['adt']);
    stream.sendBatch(makeBatch('adt', 5, 3, []));
    const status = await stream.status;
    expect(status.code).toBe(Status.INVALID_ARGUMENT);
    expect(status.details).toBe(`${ErrorCode.BAD_BATCH}: batch of feed "adt" rejected: batch last_seq 3 is before first_seq 5`);
  });

  it('keeps the high-water mark across a relay restart', async () => {
    const { stream } = await connectAgent(relay, 'h1', ['adt']);
    expect((await stream.exchange(makeBatch('adt', 1, 42))).ack).toMatchObject({ highWaterSeq: 42 });

    await relay.restart();
    const { stream: resumed, welcome } = await connectAgent(relay, 'h1', ['adt']);
    expect(positionsOf(welcome)).toEqual({ adt: 42 });
    expect((await resumed.exchange(makeBatch('adt', 40, 42))).ack).toMatchObject({ highWaterSeq: 42, duplicate: true });
    expect((await resumed.exchange(makeBatch('adt', 43, 44))).ack).toMatchObject({ highWaterSeq: 44, duplicate: false });
    expect(storedSeqCounts('h1', 'adt').size).toBe(44);
  });

  it('ends open agent streams with UNAVAILABLE when the relay stops', async () => {
    const { stream } = await connectAgent(relay, 'h1', ['adt']);
    expect((await stream.exchange(makeBatch('adt', 1, 2))).ack).toMatchObject({ highWaterSeq: 2 });
    await relay.relay!.stop();
    const status = await stream.status;
    expect(status.code).toBe(Status.UNAVAILABLE);
    expect(status.details).toContain('shutting down');
  });

  it('lists connected agents in status and counts batches in metrics', async () => {
    const { stream } = await connectAgent(relay, 'h1', ['adt']);
    await stream.exchange(makeBatch('adt', 1, 3));
    await stream.exchange(makeBatch('adt', 1, 3));
    const status = await relay.relay!.status();
    expect(status.connectedAgents).toEqual([
      expect.objectContaining({ hospital: 'h1', agentId: 'h1-agent', agentVersion: '0.0.0-test', batches: 2, events: 3, feeds: ['adt'] }),
    ]);
    expect(status.hospitals.find((h) => h.id === 'h1')!.feeds).toEqual([
      expect.objectContaining({ feed: 'adt', highWaterSeq: 3, events: 3 }),
    ]);
    const metrics = await relay.relay!.metrics();
    expect(metrics).toContain('wardline_relay_batches_total{result="append"} 1');
    expect(metrics).toContain('wardline_relay_batches_total{result="duplicate"} 1');
    expect(metrics).toContain('wardline_relay_events_stored_total{hospital="h1"} 3');
    expect(metrics).toContain('wardline_relay_connected_agents 1');

    stream.end();
    await stream.status;
    expect((await relay.relay!.status()).connectedAgents).toEqual([]);
  });
});
