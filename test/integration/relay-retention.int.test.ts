// Per-feed retention on a real relay process (the built CLI), on relay.db and
// on PostgreSQL: the store is filled before the relay starts (events received
// two hours ago and now), the relay's sweeper (sweepIntervalMs 1s) removes what
// the rules no longer keep — by age from `clinical`, by size from `bulk` — and
// then:
//  - GET /v1/status and /metrics show each feed's rule, floor, oldest event,
//    last sweep and removed events;
//  - a gRPC Subscribe after a cursor below the floor is refused with
//    OUT_OF_RANGE WL_CURSOR_BELOW_RETENTION, one at the floor reads on with
//    prevSeq = the floor, as does an HTTP read after the floor;
//  - two relay processes on one PostgreSQL database both sweep, and every event
//    is removed once;
//  - the agent's completeness proofs (FeedProver on a real agent.db, asking this
//    relay over a Replicate stream) retire the windows retention removed
//    without an incident or a resend, and still find a body that differs above
//    the floor.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProofLeafValue } from '../../agent/replication/fault-locator.js';
import { FeedProofStore } from '../../agent/replication/feed-proof-store.js';
import { FeedProver } from '../../agent/replication/feed-prover.js';
import { ProofConfigSchema } from '../../agent/replication/proof-config.js';
import { proofReplyOf, proofRequestMessage } from '../../agent/replication/proof-wire.js';
import type { ProofChannel, RelaySession } from '../../agent/replication/relay-transport.js';
import { openAgentDatabase } from '../../agent/store/index.js';
import { RELAY_SIGNING_KEY_NAME } from '../../cloud-relay/index.js';
import type { RelayStatus } from '../../cloud-relay/status/index.js';
import { SqliteFeedStore, type FeedStore } from '../../cloud-relay/store/index.js';
import { migratePostgres, PG_MIGRATIONS, PostgresFeedStore, RelayDatabase } from '../../cloud-relay/store/postgres/index.js';
import type { JournalEvent } from '../../protocol/index.js';
import { loadOrCreateSigningKey, signingKeyPaths } from '../../runtime/index.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';
import { jsonEvent, RH_FEED, RH_HOSPITAL, RH_READER_KEY, SeededRelay } from '../support/seeded-relay.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import type { AgentStream } from './relay-harness.js';

const OPERATOR_TOKEN = 'operator-token-0123456789abcdef';
const HOUR_MS = 60 * 60 * 1000;
/** `clinical`: 1..OLD received two hours ago, OLD+1..CLINICAL_EVENTS now; kept one hour. */
const OLD = 60;
const CLINICAL_EVENTS = 100;
/** `bulk`: BULK_EVENTS events of about BULK_EVENT_BYTES, kept to BULK_MAX_BYTES. */
const BULK = 'bulk';
const BULK_EVENTS = 20_000;
const BULK_EVENT_BYTES = 200;
const BULK_MAX_BYTES = 400_000;

const clinicalEvents = Array.from({ length: CLINICAL_EVENTS }, (_, i) => jsonEvent(i + 1, 300));
const bulkEvents = Array.from({ length: BULK_EVENTS }, (_, i) => jsonEvent(i + 1, BULK_EVENT_BYTES));

/** The floor a maxBytes rule leaves: the oldest events go while the bodies take more than `maxBytes`. */
function floorBySize(events: readonly JournalEvent[], maxBytes: number): number {
  let bytes = events.reduce((sum, e) => sum + e.body.length, 0);
  let floor = 0;
  for (const e of events) {
    if (bytes <= maxBytes) break;
    bytes -= e.body.length;
    floor = e.seq;
  }
  return floor;
}

async function seed(store: FeedStore, clock: { ms: number }): Promise<void> {
  clock.ms = Date.now() - 2 * HOUR_MS;
  await store.storeBatch({ hospital: RH_HOSPITAL, feed: RH_FEED, firstSeq: 1, lastSeq: OLD, events: clinicalEvents.slice(0, OLD) });
  await store.storeBatch({ hospital: RH_HOSPITAL, feed: BULK, firstSeq: 1, lastSeq: BULK_EVENTS, events: bulkEvents });
  clock.ms = Date.now();
  await store.storeBatch({ hospital: RH_HOSPITAL, feed: RH_FEED, firstSeq: OLD + 1, lastSeq: CLINICAL_EVENTS, events: clinicalEvents.slice(OLD) });
}

const backends = [
  {
    name: 'relay.db (SQLite)',
    async prepare(dir: string): Promise<{ store: Record<string, unknown> | undefined; cleanup(): Promise<void> }> {
      const clock = { ms: 0 };
      const store = SqliteFeedStore.open({ file: join(dir, 'relay-data', 'relay.db'), now: () => clock.ms });
      await seed(store, clock);
      await store.close();
      return { store: undefined, cleanup: async () => undefined };
    },
  },
  {
    name: 'PostgreSQL',
    async prepare(): Promise<{ store: Record<string, unknown> | undefined; cleanup(): Promise<void> }> {
      const db: RelayTestDatabase = await createRelayTestDatabase('retention');
      const database = await RelayDatabase.connect({ url: db.url, poolMax: 2, connectTimeoutMs: 2_000, applicationName: 'wardline-test-seed', probeIntervalMs: 1_000 });
      await migratePostgres(database, PG_MIGRATIONS);
      const clock = { ms: 0 };
      const store = await PostgresFeedStore.open({ database, now: () => clock.ms });
      await seed(store, clock);
      await store.close();
      await database.close();
      return { store: { kind: 'postgres', url: db.url }, cleanup: () => db.drop() };
    },
  },
];

describe.each(backends)('relay retention on $name', (backend) => {
  const dir = makeTempDir('wardline-retention-');
  let relay: SeededRelay;
  let cleanup: () => Promise<void> = async () => undefined;
  let startedAt: number;

  beforeAll(async () => {
    mkdirSync(join(dir.path, 'relay-data'), { recursive: true });
    const prepared = await backend.prepare(dir.path);
    cleanup = prepared.cleanup;
    startedAt = performance.now();
    relay = await SeededRelay.start(dir.path, {
      config: {
        http: { operatorTokenSha256: createHash('sha256').update(OPERATOR_TOKEN).digest('hex') },
        retention: {
          sweepIntervalMs: '1s',
          feeds: [
            { feed: RH_FEED, maxAge: '1h' },
            { hospital: RH_HOSPITAL, feed: BULK, maxBytes: BULK_MAX_BYTES },
          ],
        },
        ...(prepared.store ? { store: prepared.store } : {}),
      },
    });
  }, 120_000);
  afterAll(async () => {
    await relay?.stop();
    await cleanup();
    dir.remove();
  });

  const operator = { authorization: `Bearer ${OPERATOR_TOKEN}` };
  const status = async (): Promise<RelayStatus> => (await (await fetch(`${relay.httpBase}/v1/status`, { headers: operator })).json()) as RelayStatus;
  const feedStatus = (s: RelayStatus, feed: string) => s.hospitals.find((h) => h.id === RH_HOSPITAL)!.feeds.find((f) => f.feed === feed)!;
  const bulkFloor = floorBySize(bulkEvents, BULK_MAX_BYTES);

  const swept = () =>
    until('both feeds swept', status, (v) => feedStatus(v, RH_FEED)?.retention.floorSeq === OLD && feedStatus(v, BULK)?.retention.floorSeq === bulkFloor, { timeoutMs: 30_000, pollMs: 50 });

  it('the sweeper removes by age and by size; status and metrics show the rule, floor, oldest event and removed events', async () => {
    const s = await swept();
    const sinceStart = performance.now() - startedAt;
    console.log(
      `relay retention (${backend.name}): first sweep removed ${OLD} + ${bulkFloor} events (${BULK_EVENTS} in bulk, ~${BULK_EVENT_BYTES} B each) in ${s.retention!.lastSweepDurationMs} ms; floors seen ${Math.round(sinceStart)} ms after the relay was started`,
    );
    expect(feedStatus(s, RH_FEED).retention).toMatchObject({ maxAgeMs: HOUR_MS, maxBytes: null, floorSeq: OLD, oldestSeq: OLD + 1, removedEvents: OLD, lastError: null, lastSweepAt: expect.any(String) });
    expect(feedStatus(s, RH_FEED)).toMatchObject({ highWaterSeq: CLINICAL_EVENTS, events: CLINICAL_EVENTS - OLD });
    expect(feedStatus(s, BULK).retention).toMatchObject({ maxAgeMs: null, maxBytes: BULK_MAX_BYTES, floorSeq: bulkFloor, oldestSeq: bulkFloor + 1, removedEvents: bulkFloor });
    expect(bulkFloor).toBeGreaterThan(BULK_EVENTS / 2);
    expect(s.retention).toMatchObject({ sweepIntervalMs: 1_000, lastError: null });

    const metrics = await (await fetch(`${relay.httpBase}/metrics`, { headers: operator })).text();
    expect(metrics).toContain(`wardline_relay_feed_retention_floor_seq{hospital="${RH_HOSPITAL}",feed="${RH_FEED}"} ${OLD}`);
    expect(metrics).toContain(`wardline_relay_feed_retention_floor_seq{hospital="${RH_HOSPITAL}",feed="${BULK}"} ${bulkFloor}`);
    expect(metrics).toContain(`wardline_relay_retention_removed_events_total{hospital="${RH_HOSPITAL}",feed="${RH_FEED}"} ${OLD}`);
    expect(metrics).toContain(`wardline_relay_retention_removed_events_total{hospital="${RH_HOSPITAL}",feed="${BULK}"} ${bulkFloor}`);

    const page = await (await fetch(`${relay.httpBase}/`, { headers: operator })).text();
    expect(page).toContain(`<span data-figure="retention-floor">${OLD}</span>`);

    // Later sweeps find nothing more to remove: the totals stay.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(feedStatus(await status(), RH_FEED).retention).toMatchObject({ floorSeq: OLD, removedEvents: OLD });
  }, 60_000);

  it('below the floor: gRPC OUT_OF_RANGE and HTTP 409, both WL_CURSOR_BELOW_RETENTION with the range; at the floor both read on with prevSeq = the floor', async () => {
    await swept();
    const client = relay.feedsClient();
    const below = relay.subscribe(client, RH_READER_KEY, { feed: RH_FEED, after: 10 });
    const refused = await below.status;
    expect(refused.code).toBe(grpc.status.OUT_OF_RANGE);
    expect(refused.details).toContain('WL_CURSOR_BELOW_RETENTION');
    expect(refused.details).toContain(`retention floor ${OLD}`);

    const at = relay.subscribe(client, RH_READER_KEY, { feed: RH_FEED, after: OLD });
    const first = await at.next(5_000);
    expect([Number(first.event!.seq), Number(first.prevSeq)]).toEqual([OLD + 1, OLD]);
    const second = await at.next(5_000);
    expect([Number(second.event!.seq), Number(second.prevSeq)]).toEqual([OLD + 2, OLD + 1]);
    expect((await at.status).code).toBe(grpc.status.OK);

    const belowHttp = await fetch(`${relay.httpBase}/v1/feeds/${RH_FEED}/events?after=10`, { headers: { authorization: `Bearer ${RH_READER_KEY}` } });
    expect(belowHttp.status).toBe(409);
    expect(belowHttp.headers.get('x-wardline-retention-floor')).toBe(String(OLD));
    const body = (await belowHttp.json()) as { error: { code: string; retentionFloorSeq: number; oldestSeq: number } };
    expect(body.error).toMatchObject({ code: 'WL_CURSOR_BELOW_RETENTION', retentionFloorSeq: OLD, oldestSeq: OLD + 1 });

    const response = await fetch(`${relay.httpBase}/v1/feeds/${RH_FEED}/events?after=${OLD}&limit=2`, { headers: { authorization: `Bearer ${RH_READER_KEY}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-wardline-retention-floor')).toBe(String(OLD));
    const lines = (await response.text()).trim().split('\n').map((l) => JSON.parse(l) as { seq: number; prevSeq: number });
    expect(lines.map((l) => [l.seq, l.prevSeq])).toEqual([
      [OLD + 1, OLD],
      [OLD + 2, OLD + 1],
    ]);
  });

  it('the agent\'s proofs retire the windows retention removed (no incident, no resend) and still find a body that differs above the floor', async () => {
    await swept();
    const agentDir = makeTempDir('wardline-retention-agent-');
    const db = openAgentDatabase(join(agentDir.path, 'agent.db'));
    const stream = await relay.agent([RH_FEED]);
    try {
      const proofStore = new FeedProofStore(db);
      const sha = (body: Buffer) => createHash('sha256').update(body).digest();
      const sent: ProofLeafValue[] = clinicalEvents.map((e) => ({ seq: e.seq, bodySha256: sha(e.body) }));
      proofStore.recordLeaves(RH_FEED, sent);
      let now = Date.now();
      const incidents: string[] = [];
      let repairs = 0;
      const prover = new FeedProver({
        feed: RH_FEED,
        relay: 'cloud',
        config: ProofConfigSchema.parse({ windowSeqs: 50 }),
        store: proofStore,
        ackedSeq: () => CLINICAL_EVENTS,
        buildRepair: async () => {
          repairs += 1;
          throw new Error('the relay holds every event above its floor: nothing is resent');
        },
        onIncident: (_feed, fault) => incidents.push(`${fault.seq} ${fault.kind}`),
        clock: () => now,
        log: { info: () => undefined, warn: () => undefined },
      });
      const session = { welcome: { relayId: 'r', protocolVersion: 2, highWater: new Map(), maxBatchBytes: 1 << 20 }, proofs: proofChannel(stream) } as unknown as RelaySession;
      await prover.tick(session); // [1, 50]: removed entirely, retired
      await prover.tick(session); // [51, 100]: cut by the floor, compared over [61, 100]
      expect(incidents).toEqual([]);
      expect(repairs).toBe(0);
      expect(proofStore.windows(RH_FEED).map((w) => [w.fromSeq, w.toSeq, w.state, w.signedText !== null])).toEqual([[OLD + 1, CLINICAL_EVENTS, 'verified', true]]);
      expect(prover.status()).toMatchObject({ verifiedThroughSeq: CLINICAL_EVENTS, incidents: 0, relayRetentionFloorSeq: OLD, problem: null });

      // Above the floor the proofs work as before: a leaf the relay holds otherwise is an incident.
      proofStore.recordLeaves(RH_FEED, [{ seq: 80, bodySha256: sha(Buffer.from('another body')) }]);
      now += 60_000;
      await prover.tick(session);
      expect(incidents).toEqual(['80 altered']);
      expect(prover.status()).toMatchObject({ incidents: 1 });
    } finally {
      stream.end();
      db.close();
      agentDir.remove();
    }
  }, 30_000);
});

/** The proof channel over a raw Replicate stream: one question at a time, the answer (with its retention floor) as the agent's transport reads it. */
function proofChannel(stream: AgentStream): ProofChannel {
  let requestId = 0;
  return {
    async ask(question) {
      requestId += 1;
      stream.call.write(proofRequestMessage(requestId, question));
      const message = await stream.next();
      const answer = message.proofAnswer;
      if (!answer) throw new Error(`expected a ProofAnswer, got ${message.body}`);
      if (answer.error) throw new Error(answer.error);
      return proofReplyOf(answer, question);
    },
    async repair() {
      throw new Error('no repair expected');
    },
  };
}

describe('relay retention: two relay processes sweeping one PostgreSQL database', () => {
  const root = makeTempDir('wardline-retention-pair-');
  let db: RelayTestDatabase;
  const relays: SeededRelay[] = [];

  beforeAll(async () => {
    db = await createRelayTestDatabase('retention_pair');
    const database = await RelayDatabase.connect({ url: db.url, poolMax: 2, connectTimeoutMs: 2_000, applicationName: 'wardline-test-seed', probeIntervalMs: 1_000 });
    await migratePostgres(database, PG_MIGRATIONS);
    const store = await PostgresFeedStore.open({ database });
    await store.storeBatch({ hospital: RH_HOSPITAL, feed: BULK, firstSeq: 1, lastSeq: BULK_EVENTS, events: bulkEvents });
    await store.close();
    await database.close();
    // Processes on one database sign with one key: the first's, copied to the second as an operator would.
    const dirs = ['a', 'b'].map((name) => join(root.path, name));
    for (const d of dirs) mkdirSync(join(d, 'relay-data'), { recursive: true });
    const key = loadOrCreateSigningKey(join(dirs[0]!, 'relay-data'), RELAY_SIGNING_KEY_NAME);
    const copy = signingKeyPaths(join(dirs[1]!, 'relay-data'), RELAY_SIGNING_KEY_NAME);
    copyFileSync(key.privateKeyFile, copy.privateKeyFile);
    chmodSync(copy.privateKeyFile, 0o600);
    copyFileSync(key.publicKeyFile, copy.publicKeyFile);
    const config = {
      http: { operatorTokenSha256: createHash('sha256').update(OPERATOR_TOKEN).digest('hex') },
      store: { kind: 'postgres', url: db.url },
      retention: { sweepIntervalMs: '1s', feeds: [{ feed: BULK, maxBytes: BULK_MAX_BYTES }] },
    };
    relays.push(...(await Promise.all(dirs.map((d) => SeededRelay.start(d, { config })))));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    await db?.drop();
    root.remove();
  });

  it('both sweep; every event is removed once (the processes\' removed counts sum to the floor) and the counts stay right', async () => {
    const bulkFloor = floorBySize(bulkEvents, BULK_MAX_BYTES);
    const bulkOf = async (relay: SeededRelay) => {
      const s = (await (await fetch(`${relay.httpBase}/v1/status`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).json()) as RelayStatus;
      return s.hospitals.find((h) => h.id === RH_HOSPITAL)!.feeds.find((f) => f.feed === BULK)!;
    };
    // Each process has swept the feed at least once after the floor was reached.
    await until('both processes swept', () => Promise.all(relays.map(bulkOf)), (feeds) => feeds.every((f) => f.retention.floorSeq === bulkFloor && f.retention.lastSweepAt !== null), { timeoutMs: 30_000, pollMs: 50 });
    await new Promise((r) => setTimeout(r, 2_500));
    const feeds = await Promise.all(relays.map(bulkOf));
    console.log(`relay retention (2 processes, PostgreSQL): removed ${feeds.map((f) => f.retention.removedEvents).join(' + ')} of ${bulkFloor} events`);
    expect(feeds.reduce((sum, f) => sum + f.retention.removedEvents, 0)).toBe(bulkFloor);
    for (const f of feeds) expect(f).toMatchObject({ events: BULK_EVENTS - bulkFloor, highWaterSeq: BULK_EVENTS, retention: { floorSeq: bulkFloor, oldestSeq: bulkFloor + 1, lastError: null } });
  }, 60_000);

  it('two stores applying one rule at the same instant, chunk against chunk, remove each event once', async () => {
    const connect = () => RelayDatabase.connect({ url: db.url, poolMax: 2, connectTimeoutMs: 2_000, applicationName: 'wardline-test-race', probeIntervalMs: 1_000 });
    const [da, dbb] = await Promise.all([connect(), connect()]);
    try {
      const [a, b] = await Promise.all([PostgresFeedStore.open({ database: da, retentionChunkRows: 100 }), PostgresFeedStore.open({ database: dbb, retentionChunkRows: 100 })]);
      const events = Array.from({ length: 5_000 }, (_, i) => jsonEvent(i + 1, 100));
      await a.storeBatch({ hospital: RH_HOSPITAL, feed: 'race', firstSeq: 1, lastSeq: events.length, events });
      for (const keep of [400_000, 200_000, 50_000]) {
        const before = (await a.feedRange(RH_HOSPITAL, 'race')).retentionFloorSeq;
        const [ra, rb] = await Promise.all([a.applyRetention(RH_HOSPITAL, 'race', { maxBytes: keep }), b.applyRetention(RH_HOSPITAL, 'race', { maxBytes: keep })]);
        const floor = floorBySize(events, keep);
        console.log(`relay retention (2 stores at once, PostgreSQL, 100-row chunks): to ${keep} bytes, removed ${ra.removedEvents} + ${rb.removedEvents} of ${floor - before}`);
        expect(ra.removedEvents + rb.removedEvents).toBe(floor - before);
        expect(ra.removedBytes + rb.removedBytes).toBe(events.slice(before, floor).reduce((sum, e) => sum + e.body.length, 0));
        expect([ra.retentionFloorSeq, rb.retentionFloorSeq]).toEqual([floor, floor]);
        const size = (await b.feedSizes()).find((f) => f.feed === 'race')!;
        expect(size).toMatchObject({ events: events.length - floor, retentionFloorSeq: floor, oldestSeq: floor + 1 });
      }
      await Promise.all([a.close(), b.close()]);
    } finally {
      await Promise.all([da.close(), dbb.close()]);
    }
  });
});
