// The relay's side of the egress ledger and of revoke, over the wire protocol
// itself (raw gRPC, no agent code): ledger heads kept per (hospital, feed), a
// revoke that deletes the feed and says how much, vendors told it is gone, its
// batches refused, and a reinstate.
import { join } from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pb, type RelayMessage } from '../../protocol/index.js';
import { ERROR_CODE_TRAILER, RELAY_DB_FILE, RelayErrorCode } from '../../cloud-relay/index.js';
import { OPERATOR_HEADERS, TestRelay, VENDOR_KEYS, connectAgent, makeBatch, makeEvents } from './relay-harness.js';

const head = (n: number) => Buffer.alloc(32, n);

describe('relay: ledger heads and revoke', () => {
  let relay: TestRelay;

  beforeEach(async () => {
    relay = new TestRelay();
    await relay.start();
  });
  afterEach(async () => {
    await relay.close();
  });

  function rows(sql: string, ...params: unknown[]): unknown[] {
    const db = new Database(join(relay.dataDir, RELAY_DB_FILE), { readonly: true });
    try {
      return db.prepare(sql).all(...params);
    } finally {
      db.close();
    }
  }

  const status = async () => (await (await fetch(`${relay.httpBase}/v1/status`, { headers: OPERATOR_HEADERS })).json()) as { hospitals: { id: string; ledgerHeads: any[]; revokedFeeds: any[]; feeds: any[] }[] };
  const read = (feed: string, key: string = VENDOR_KEYS.platform, hospital = 'h1') =>
    fetch(`${relay.httpBase}/v1/feeds/${feed}/events?after=0&hospital=${hospital}`, { headers: { authorization: `Bearer ${key}` } });

  async function send(stream: Awaited<ReturnType<typeof connectAgent>>['stream'], feed: string, first: number, last: number, ledgerIndex?: number): Promise<RelayMessage> {
    return stream.exchange({ ...makeBatch(feed, first, last, makeEvents(first, last)), ...(ledgerIndex ? { ledgerHead: head(ledgerIndex), ledgerIndex } : {}) });
  }

  it('keeps the newest ledger head per feed and counts the batches it received', async () => {
    const { stream } = await connectAgent(relay, 'h1', ['adt', 'results']);
    expect((await send(stream, 'adt', 1, 5, 3)).body).toBe('ack');
    expect((await send(stream, 'results', 1, 5, 4)).body).toBe('ack');
    expect((await send(stream, 'adt', 6, 10, 9)).body).toBe('ack');
    // A resend of what the relay holds still counts, but an older head never replaces a newer one.
    expect((await send(stream, 'adt', 1, 5, 2)).ack?.duplicate).toBe(true);
    const h1 = (await status()).hospitals.find((h) => h.id === 'h1')!;
    expect(h1.ledgerHeads).toEqual([
      { feed: 'adt', index: 9, head: head(9).toString('hex'), receivedAt: expect.any(String), batches: 3, lastBatchAt: expect.any(String) },
      { feed: 'results', index: 4, head: head(4).toString('hex'), receivedAt: expect.any(String), batches: 1, lastBatchAt: expect.any(String) },
    ]);
    stream.end();
  });

  it('revokes a feed: deletes it, answers with what it deleted, tells vendors, refuses its batches; reinstates it', async () => {
    const { stream } = await connectAgent(relay, 'h1', ['adt', 'results']);
    // 12 000 events: more than one deletion chunk.
    for (let first = 1; first <= 12_000; first += 2000) expect((await send(stream, 'adt', first, first + 1999, first)).body).toBe('ack');
    expect((await send(stream, 'results', 1, 10, 7000)).body).toBe('ack');
    const bodyBytes = (rows('SELECT SUM(length(body)) AS b FROM feed_events WHERE hospital = ? AND feed = ?', 'h1', 'adt')[0] as { b: number }).b;
    expect((await read('adt')).status).toBe(200);
    const tail = relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', after: 12_000, follow: true, hospitalId: 'h1' });
    await new Promise((r) => setTimeout(r, 200));

    const started = performance.now();
    stream.call.write(pb.AgentMessage.create({ revoke: { feed: 'adt', reason: 'contract ended', ledgerHead: head(99), ledgerIndex: 12_001 } }));
    const answer = await stream.next(10_000);
    console.log(`relay revoke: ${answer.revoked?.eventsDeleted} events (${answer.revoked?.bytesDeleted} bytes) deleted in ${(performance.now() - started).toFixed(0)} ms`);
    expect(answer.body).toBe('revoked');
    expect(answer.revoked).toMatchObject({ feed: 'adt', eventsDeleted: 12_000, bytesDeleted: bodyBytes, highWaterSeq: 12_000, alreadyRevoked: false });
    expect(Number(answer.revoked!.revokedAtMs)).toBeGreaterThan(Date.now() - 60_000);
    expect(rows('SELECT * FROM feed_events WHERE hospital = ? AND feed = ?', 'h1', 'adt')).toEqual([]);
    expect(rows('SELECT * FROM feed_positions WHERE hospital = ? AND feed = ?', 'h1', 'adt')).toEqual([]);

    // Vendors: a clear error over HTTP and gRPC, and a live tail ends with it.
    const gone = await read('adt');
    expect(gone.status).toBe(410);
    const error = ((await gone.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe(RelayErrorCode.FEED_REVOKED);
    expect(error.message).toMatch(/^feed "adt" of hospital "h1" was revoked by the hospital at \S+: it is no longer served, and its events are erased from this relay's database \(deleted and overwritten\); copies made before the revoke are outside the relay's reach$/);
    const tailStatus = await tail.status;
    expect(tailStatus.code).toBe(Status.NOT_FOUND);
    expect(tailStatus.metadata.get(ERROR_CODE_TRAILER)).toEqual([RelayErrorCode.FEED_REVOKED]);
    const subscribe = relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', hospitalId: 'h1' });
    expect((await subscribe.status).code).toBe(Status.NOT_FOUND);
    // A vendor with no grant learns nothing about it.
    expect((await read('adt', VENDOR_KEYS.app)).status).toBe(403);
    // Other feeds and hospitals go on.
    expect((await read('results')).status).toBe(200);

    // Its batches are refused, and the stream stays open for the others.
    const refused = await send(stream, 'adt', 12_001, 12_005, 12_002);
    expect(refused.nack).toMatchObject({ feed: 'adt', reason: pb.NackReason.NACK_REASON_REVOKED, detail: expect.stringContaining('revoked by the hospital') });
    expect(Number(refused.nack!.expectedSeq)).toBe(12_001);
    expect((await send(stream, 'results', 11, 20, 12_003)).body).toBe('ack');
    stream.end();

    // A new stream learns it from the Welcome; a repeated revoke finds nothing left.
    const again = await connectAgent(relay, 'h1', ['adt', 'results']);
    expect(again.welcome.positions!.map((p) => ({ feed: p.feed, hw: Number(p.highWaterSeq), revoked: Boolean(p.revoked) }))).toEqual([
      { feed: 'adt', hw: 12_000, revoked: true },
      { feed: 'results', hw: 20, revoked: false },
    ]);
    again.stream.call.write(pb.AgentMessage.create({ revoke: { feed: 'adt', reason: 'again' } }));
    expect((await again.stream.next()).revoked).toMatchObject({ eventsDeleted: 0, alreadyRevoked: true, highWaterSeq: 12_000 });

    const h1 = (await status()).hospitals.find((h) => h.id === 'h1')!;
    expect(h1.revokedFeeds).toEqual([{ feed: 'adt', revokedAt: expect.any(String), highWaterSeq: 12_000, eventsDeleted: 12_000, bytesDeleted: bodyBytes, reason: 'contract ended' }]);
    expect(h1.feeds.map((f) => f.feed)).toEqual(['results']);
    // The ledger evidence is not feed data: it stays, moved on by the revoke.
    expect(h1.ledgerHeads.find((h) => h.feed === 'adt')).toMatchObject({ index: 12_002, batches: 7 });

    // Reinstated, the feed continues after its mark; what was revoked stays deleted.
    again.stream.call.write(pb.AgentMessage.create({ reinstate: { feed: 'adt', reason: 'new contract' } }));
    expect((await again.stream.next()).reinstated).toMatchObject({ feed: 'adt', wasRevoked: true });
    expect((await send(again.stream, 'adt', 12_001, 12_003, 12_010)).body).toBe('ack');
    const lines = (await (await read('adt')).text()).trim().split('\n').map((l) => JSON.parse(l) as { seq: number });
    expect(lines.map((l) => l.seq)).toEqual([12_001, 12_002, 12_003]);
    again.stream.call.write(pb.AgentMessage.create({ reinstate: { feed: 'adt' } }));
    expect((await again.stream.next()).reinstated).toMatchObject({ wasRevoked: false });
    again.stream.end();
  });

  it('refuses a revoke before Hello or for a malformed feed name', async () => {
    const early = relay.agentStream();
    early.call.write(pb.AgentMessage.create({ revoke: { feed: 'adt' } }));
    const earlyStatus = await early.status;
    expect(earlyStatus.code).toBe(Status.INVALID_ARGUMENT);
    expect(earlyStatus.details).toContain('revoke before Hello');

    const { stream } = await connectAgent(relay, 'h1', ['adt']);
    stream.call.write(pb.AgentMessage.create({ revoke: { feed: '../etc' } }));
    const badStatus = await stream.status;
    expect(badStatus.code).toBe(Status.INVALID_ARGUMENT);
    expect(badStatus.details).toContain('not a valid feed name');
  });
});
