// PostgresFeedStore where the contract suite cannot reach: two stores on one
// database stand for two relay processes (each its own pool, its own cache of
// marks), and a TCP proxy in front of the server stands for the network to it.
import { createServer, connect as tcpConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { status as Status } from '@grpc/grpc-js';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../cloud-relay/errors.js';
import { grpcCodeFor } from '../../cloud-relay/grpc/grpc-status.js';
import { FEED_DOORBELL_CHANNEL, migratePostgres, parseFeedDoorbell, PG_MIGRATIONS, PostgresFeedStore, RelayDatabase, type FeedMark } from '../../cloud-relay/store/postgres/index.js';
import type { BatchToStore } from '../../cloud-relay/store/index.js';
import { makeEvents } from './relay-harness.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';

function batch(feed: string, firstSeq: number, lastSeq: number, withEvents = true): BatchToStore {
  return { hospital: 'h1', feed, firstSeq, lastSeq, ...(withEvents ? { events: makeEvents(firstSeq, lastSeq) } : {}) };
}

describe('PostgresFeedStore across relay processes', () => {
  let db: RelayTestDatabase;
  const databases: RelayDatabase[] = [];
  const connect = async (url = db.url) => {
    const database = await RelayDatabase.connect({ url, poolMax: 4, connectTimeoutMs: 2_000, applicationName: 'wardline-test', probeIntervalMs: 50 });
    databases.push(database);
    return database;
  };

  beforeAll(async () => {
    db = await createRelayTestDatabase('feed_processes');
    const database = await connect();
    await migratePostgres(database, PG_MIGRATIONS);
  });
  afterAll(async () => {
    await Promise.all(databases.splice(0).map((d) => d.close()));
    await db.drop();
  });

  it('two processes storing the same feed at once keep it contiguous, each event once, counted once', async () => {
    const a = await PostgresFeedStore.open({ database: await connect() });
    const b = await PostgresFeedStore.open({ database: await connect() });
    // Both receive every batch (an agent that hopped while its old stream still delivers), in order, interleaved at random.
    const batches = Array.from({ length: 200 }, (_, i) => batch('race', i * 10 + 1, i * 10 + 10));
    const run = async (store: PostgresFeedStore) => {
      let stored = 0;
      for (const one of batches) {
        let result = await store.storeBatch(one);
        if (result.decision.kind === 'needs-events') result = await store.storeBatch(one);
        expect(['append', 'overlap', 'duplicate']).toContain(result.decision.kind);
        expect(result.highWater).toBeGreaterThanOrEqual(one.lastSeq);
        stored += result.storedEvents;
        if (Math.random() < 0.3) await new Promise((resolve) => setImmediate(resolve));
      }
      return stored;
    };
    const [storedA, storedB] = await Promise.all([run(a), run(b)]);
    expect(storedA + storedB).toBe(2_000);
    const seqs = (await databases[0]!.query<{ seq: number }>("SELECT seq FROM feed_events WHERE hospital = 'h1' AND feed = 'race' ORDER BY seq")).rows.map((r) => r.seq);
    expect(seqs).toEqual(Array.from({ length: 2_000 }, (_, i) => i + 1));
    expect((await a.feedSizes()).find((f) => f.feed === 'race')).toMatchObject({ highWaterSeq: 2_000, events: 2_000 });
    const page = await b.readEvents('h1', 'race', 0, 5_000);
    expect(page).toMatchObject({ highWater: 2_000, complete: true });
    expect(page.events).toHaveLength(2_000);
  });

  it('a cache made stale by the other process costs a decode or a resend, never a wrong ack', async () => {
    const a = await PostgresFeedStore.open({ database: await connect() });
    const b = await PostgresFeedStore.open({ database: await connect() });
    await a.storeBatch(batch('stale', 1, 10));
    await b.loadPositions('h1');
    expect(b.position('h1', 'stale').highWaterSeq).toBe(10);
    // A moves on; B hears nothing (no doorbell in this test).
    await a.storeBatch(batch('stale', 11, 20));
    expect(b.position('h1', 'stale').highWaterSeq).toBe(10);
    // B's cache says append: the row no longer holds 10, so B decides under the lock.
    expect(await b.storeBatch(batch('stale', 11, 20))).toEqual({ decision: { kind: 'duplicate' }, highWater: 20, storedEvents: 0 });
    expect(await b.storeBatch(batch('stale', 15, 25))).toEqual({ decision: { kind: 'overlap' }, highWater: 25, storedEvents: 5 });
    // A's cache (20) says 21..30 appends; it is an overlap of B's 21..25.
    expect(await a.storeBatch(batch('stale', 21, 30))).toEqual({ decision: { kind: 'overlap' }, highWater: 30, storedEvents: 5 });
    // B's cache (25) says 31..35 is a gap, so a session would not decode it: the store asks for the events.
    expect(await b.storeBatch(batch('stale', 31, 35, false))).toEqual({ decision: { kind: 'needs-events' }, highWater: 30, storedEvents: 0 });
    expect(await b.storeBatch(batch('stale', 31, 35))).toMatchObject({ decision: { kind: 'append' }, highWater: 35 });
    // A gap is refused with the true mark, whatever the cache said.
    expect(await a.storeBatch(batch('stale', 40, 41))).toEqual({ decision: { kind: 'gap', expectedSeq: 36 }, highWater: 35, storedEvents: 0 });

    // A revoke in one process is met by the other's batch, though its cache says the feed is open.
    await a.revokeFeed({ hospital: 'h1', feed: 'stale', reason: 'test' });
    expect(b.position('h1', 'stale').revoked).toBe(false);
    expect(await b.storeBatch(batch('stale', 36, 40))).toMatchObject({ decision: { kind: 'revoked' }, highWater: 35, storedEvents: 0 });
    expect(b.position('h1', 'stale')).toEqual({ highWaterSeq: 35, revoked: true });
    // Reinstated by A; B's cache says revoked, so its session sends no events: asked for them, it stores them.
    await a.reinstateFeed({ hospital: 'h1', feed: 'stale' });
    expect(await b.storeBatch(batch('stale', 36, 40, false))).toMatchObject({ decision: { kind: 'needs-events' } });
    expect(await b.storeBatch(batch('stale', 36, 40))).toEqual({ decision: { kind: 'append' }, highWater: 40, storedEvents: 5 });
    const page = await a.readEvents('h1', 'stale', 0, 100);
    expect(page.events.map((e) => e.seq)).toEqual(Array.from({ length: 5 }, (_, i) => i + 36));
  });

  it('a revoke in one process racing batches in another: every acked batch lies within the revocation, nothing stays stored', async () => {
    const a = await PostgresFeedStore.open({ database: await connect() });
    const b = await PostgresFeedStore.open({ database: await connect() });
    const acked: number[] = [];
    let refused = 0;
    const writer = (async () => {
      for (let i = 0; refused < 5; i++) {
        const result = await a.storeBatch({ ...batch('racing', i * 20 + 1, i * 20 + 20), ledgerHead: { index: i + 1, hash: new Uint8Array(32).fill(1) } });
        if (result.decision.kind === 'append') acked.push(result.highWater);
        else if (result.decision.kind === 'revoked') refused += 1;
        else throw new Error(`unexpected ${result.decision.kind}`);
      }
    })();
    await expect.poll(() => acked.length, { timeout: 10_000 }).toBeGreaterThan(10);
    const outcome = await b.revokeFeed({ hospital: 'h1', feed: 'racing', reason: 'test', ledgerHead: { index: 1, hash: new Uint8Array(32).fill(2) } });
    await writer;
    expect(Math.max(...acked)).toBe(outcome.revocation.highWaterSeq);
    expect((await databases[0]!.query("SELECT count(*)::bigint AS n FROM feed_events WHERE hospital = 'h1' AND feed = 'racing'")).rows[0]).toEqual({ n: 0 });
    expect((await a.feedSizes()).map((f) => f.feed)).not.toContain('racing');
  });

  it('rings the doorbell when a commit moves a feed, and only then', async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const heard: FeedMark[] = [];
    listener.on('notification', (n) => {
      const mark = parseFeedDoorbell(n.payload);
      if (mark?.feed === 'bell') heard.push(mark);
    });
    await listener.query(`LISTEN ${FEED_DOORBELL_CHANNEL}`);
    try {
      const store = await PostgresFeedStore.open({ database: await connect() });
      const other = await PostgresFeedStore.open({ database: await connect() });
      const settle = () => new Promise((resolve) => setTimeout(resolve, 100));
      await store.storeBatch(batch('bell', 1, 5)); // the locked path (first batch)
      await store.storeBatch({ ...batch('bell', 6, 9), completeThroughSeq: 7 }); // the fast path
      await store.storeBatch(batch('bell', 1, 9)); // a resend: nothing moved
      await store.storeBatch(batch('bell', 20, 21)); // a gap
      await expect(store.storeBatch({ ...batch('bell', 10, 11), events: makeEvents(10, 12) })).rejects.toThrow(RangeError); // rolled back
      await settle();
      expect(heard).toEqual([
        { hospital: 'h1', feed: 'bell', highWaterSeq: 5, visibleSeq: 5, revoked: false },
        { hospital: 'h1', feed: 'bell', highWaterSeq: 9, visibleSeq: 7, revoked: false },
      ]);
      // The other process, told by the doorbell (what feed-doorbell-listener does), wakes its tails and answers Hello from it.
      const advances: number[] = [];
      const revokes: string[] = [];
      const told = await PostgresFeedStore.open({ database: await connect(), onAdvance: (_h, _f, seq) => advances.push(seq), onRevoke: (_h, f) => revokes.push(f) });
      await store.storeBatch(batch('bell', 10, 12));
      await settle();
      for (const mark of heard) told.observe(mark);
      told.observe(heard[0]!); // an old mark arriving late moves nothing back
      expect(told.position('h1', 'bell').highWaterSeq).toBe(12);
      expect(advances).toEqual([12]);

      heard.length = 0;
      await other.revokeFeed({ hospital: 'h1', feed: 'bell', reason: 'test' });
      await other.revokeFeed({ hospital: 'h1', feed: 'bell', reason: 'again' }); // already revoked: no mark moved
      await other.reinstateFeed({ hospital: 'h1', feed: 'bell' });
      await other.reinstateFeed({ hospital: 'h1', feed: 'bell' });
      await settle();
      expect(heard).toEqual([
        { hospital: 'h1', feed: 'bell', highWaterSeq: 12, visibleSeq: 12, revoked: true },
        { hospital: 'h1', feed: 'bell', highWaterSeq: 12, visibleSeq: 12, revoked: false },
      ]);
      told.observe(heard[0]!);
      expect(revokes).toEqual(['bell']);
      expect(told.position('h1', 'bell').revoked).toBe(true);
      // The polling fallback reads the same marks.
      expect((await told.readMarks()).find((m) => m.feed === 'bell')).toEqual({ hospital: 'h1', feed: 'bell', highWaterSeq: 12, visibleSeq: 12, revoked: false });
    } finally {
      await listener.end();
    }
  });
});

/** A TCP proxy to the server that can be cut (every connection reset, new ones refused) and restored on the same port. */
class CuttableProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = tcpConnect(5432, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async cut(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
    this.server = null;
  }
}

describe('PostgresFeedStore when the database goes away', () => {
  let db: RelayTestDatabase;
  const proxy = new CuttableProxy();
  let database: RelayDatabase;

  beforeEach(async () => {
    db = await createRelayTestDatabase('feed_outage');
    await proxy.start();
    const url = new URL(db.url);
    url.port = String(proxy.port);
    database = await RelayDatabase.connect({ url: url.toString(), poolMax: 2, connectTimeoutMs: 1_000, applicationName: 'wardline-test', probeIntervalMs: 50 });
    await migratePostgres(database, PG_MIGRATIONS);
  });
  afterEach(async () => {
    await proxy.cut();
    await database.close().catch(() => undefined);
    await db.drop();
  });

  it('rejects a batch with StoreUnavailableError (UNAVAILABLE to the agent, never an ack), and decides the resend against what committed', async () => {
    const store = await PostgresFeedStore.open({ database });
    await store.storeBatch(batch('adt', 1, 5));
    await proxy.cut();
    for (const attempt of [batch('adt', 6, 10), batch('lab', 1, 3)]) {
      const error = await store.storeBatch(attempt).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(grpcCodeFor(error)).toBe(Status.UNAVAILABLE);
    }
    expect(database.reachable).toBe(false);
    expect(store.position('h1', 'adt').highWaterSeq).toBe(5);

    await proxy.start();
    await expect.poll(() => database.reachable, { timeout: 5_000 }).toBe(true);
    expect(await store.storeBatch(batch('adt', 6, 10))).toEqual({ decision: { kind: 'append' }, highWater: 10, storedEvents: 5 });
    expect((await store.readEvents('h1', 'adt', 0, 100)).events.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
  });
});
