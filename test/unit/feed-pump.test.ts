// One feed's pump against a real journal (SQLite in a temp dir) and a real
// uplink; the relay's side of the stream is the shared fake, kept silent, so
// the test decides when each batch is acknowledged or refused.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Uplink, type BandwidthPolicy } from '../../agent/bandwidth/index.js';
import { FeedPump } from '../../agent/replication/feed-pump.js';
import { Journal, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { FakeRelay } from '../support/fake-relay-transport.js';
import { ManualTimers } from '../support/manual-timers.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

const CLASSES = ['clinical', 'standard', 'bulk'];
const policy = (rate: number | null, blocked: string[] = []): BandwidthPolicy => ({
  rateBytesPerSecond: rate,
  windowsInForce: [],
  blocked: blocked.map((c) => ({ class: c, reason: 'may send only during night' })),
  nextChange: null,
});

describe('FeedPump', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let journal: Journal;
  const stops: (() => void)[] = [];

  beforeEach(() => {
    dir = makeTempDir();
    db = openAgentDatabase(join(dir.path, 'agent.db'));
    journal = new Journal(db);
  });
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
    db.close();
    dir.remove();
  });

  const append = (stream: string, count: number, bodyBytes: number) =>
    journal.append({
      source: 'test',
      events: Array.from({ length: count }, (_, i) => ({ stream, key: `k${i}`, op: 'upsert' as const, contentType: 'json', body: Buffer.alloc(bodyBytes, 97 + (i % 26)), headers: {} })),
    });

  /** With `timers`, the pump's clock and timers are manual: the test moves time. */
  function pumpWith(uplink: Uplink, className = 'bulk', timers?: ManualTimers, maxEvents = 2000) {
    // The relay's end of the stream records batches; the test answers them.
    const session = new FakeRelay({ relayId: 'scripted', answers: 'manual' }).session();
    const controller = new AbortController();
    const pump = new FeedPump({
      spec: { name: 'archive', streams: ['imaging'], policyVersion: 0, class: className },
      journal,
      uplink,
      codec: 'none',
      limits: { maxEvents, maxBytes: 1 << 20, maxScan: 20_000 },
      maxInFlight: 4,
      emptyBatchIntervalMs: 60_000,
      savedAckedSeq: 0,
      clock: timers?.clock ?? Date.now,
      ...(timers ? { timers } : {}),
    });
    pump.reset(0);
    pump.start({ session, signal: controller.signal, maxBatchBytes: 1 << 20 });
    const unsubscribe = journal.onCommit(() => pump.wake());
    const unsubscribePolicy = uplink.onPolicyChange(() => pump.wake());
    stops.push(() => {
      controller.abort();
      unsubscribe();
      unsubscribePolicy();
      uplink.close();
    });
    return { pump, session, controller };
  }

  it('sends contiguous batches in journal order, each ~250 ms of the rate in force', async () => {
    const uplink = new Uplink({ classes: CLASSES, policy: policy(100_000) });
    const { pump, session } = pumpWith(uplink);
    await append('imaging', 100, 1000);
    // The relay answers every batch, in order, as it arrives.
    let answered = 0;
    while (pump.window.ackedSeq < 100) {
      await session.whenSent(answered + 1);
      pump.onAck(session.sent[answered]!.lastSeq, false);
      answered++;
    }
    for (let i = 1; i < session.sent.length; i++) expect(session.sent[i]!.firstSeq).toBe(session.sent[i - 1]!.lastSeq + 1);
    // 250 ms at 100 kB/s is 25 kB: a batch stops at the event that reaches it.
    for (const batch of session.sent) expect(batch.payload.length).toBeLessThan(27_000);
    expect(session.sent.length).toBeGreaterThanOrEqual(4);
  });

  it('says how far each batch is complete: one cut inside a transaction only up to the seq before it', async () => {
    await append('imaging', 1, 100); // seq 1
    await append('imaging', 5, 100); // seqs 2..6: one source transaction
    await append('imaging', 1, 100); // seq 7
    const uplink = new Uplink({ classes: CLASSES, policy: policy(null) });
    const { pump, session } = pumpWith(uplink, 'bulk', undefined, 2);
    let answered = 0;
    while (pump.window.ackedSeq < 7) {
      await session.whenSent(answered + 1);
      pump.onAck(session.sent[answered]!.lastSeq, false);
      answered++;
    }
    expect(session.sent.map((b) => [b.firstSeq, b.lastSeq, b.completeThroughSeq])).toEqual([
      [1, 2, 1],
      [3, 4, 1],
      [5, 6, 6],
      [7, 7, 7],
    ]);
  });

  it('drops a batch that waits for permission when a nack moves the window, and resends from the relay’s seq', async () => {
    const uplink = new Uplink({ classes: CLASSES, burstBytes: 8000, policy: policy(10_000) });
    const { pump, session } = pumpWith(uplink);
    await append('imaging', 12, 1000);
    await session.whenSent(2);
    // Two batches went out of the burst; the third is encoded and waits for tokens.
    expect(session.sent.map((b) => [b.firstSeq, b.lastSeq])).toEqual([
      [1, 3],
      [4, 6],
    ]);
    await until('the third batch to wait for tokens', () => uplink.status().waitingBatches, (waiting) => waiting === 1, { timeoutMs: 5000, pollMs: 2 });
    expect(session.sent).toHaveLength(2);
    // The relay holds nothing (restored from an older backup): it refuses the first
    // batch and, in order, the second.
    expect(pump.onNack(1)).toEqual({ kind: 'resend-from', expectedSeq: 1 });
    expect(pump.onNack(1)).toEqual({ kind: 'ignored-stale' });
    expect(uplink.status().inFlightBytes).toBe(0);
    await session.whenSent(3);
    expect([session.sent[2]!.firstSeq, session.sent[2]!.lastSeq]).toEqual([1, 3]);
    expect(pump.status()).toMatchObject({ nacks: 1, ackedSeq: 0, sentSeq: 3 });
  });

  it('holds a few new events for the previous batch\'s ack, but at most 200 ms; every batch announces the journal head', async () => {
    const uplink = new Uplink({ classes: CLASSES, policy: policy(null) });
    const timers = new ManualTimers();
    const { session } = pumpWith(uplink, 'bulk', timers);
    await append('imaging', 1, 100);
    await session.whenSent(1);
    const firstSentAt = timers.clock();
    await append('imaging', 1, 100);
    // The pump arms its hold rather than sending.
    await timers.whenArmed();
    // Unacked batch in flight: the new event waits for it...
    expect(session.sent.length).toBe(1);
    // ...but not for an ack that is slow to come (a line queueing behind bulk).
    timers.advance(200);
    await session.whenSent(2, 2000);
    expect(timers.clock() - firstSentAt).toBeLessThan(600);
    for (const batch of session.sent) expect(batch.journalHeadSeq).toBeGreaterThanOrEqual(batch.lastSeq);
  });

  it('sends nothing and says why when the relay\'s mark is beyond the journal head', async () => {
    const uplink = new Uplink({ classes: CLASSES, policy: policy(null) });
    const { pump, session } = pumpWith(uplink);
    const incident = pump.reset(Number.MAX_SAFE_INTEGER);
    expect(incident).toMatchObject({ relayMarkSeq: Number.MAX_SAFE_INTEGER, journalHeadSeq: 0, ackedSeq: 0 });
    await append('imaging', 5, 100);
    pump.wake();
    await new Promise((r) => setTimeout(r, 100));
    expect(session.sent).toEqual([]);
    expect(pump.status()).toMatchObject({ ackedSeq: 0, integrity: incident, blocked: incident!.reason });
  });

  it('sends nothing while its class is blocked, and starts when the policy allows it', async () => {
    const uplink = new Uplink({ classes: CLASSES, policy: policy(null, ['bulk']) });
    const { pump, session } = pumpWith(uplink);
    await append('imaging', 5, 100);
    await new Promise((r) => setTimeout(r, 200));
    expect(session.sent).toEqual([]);
    expect(pump.status()).toMatchObject({ blocked: 'may send only during night', eventsSent: 0 });
    uplink.applyPolicy(policy(null));
    await session.whenSent(1);
    expect([session.sent[0]!.firstSeq, session.sent[0]!.lastSeq, session.sent[0]!.eventCount]).toEqual([1, 5, 5]);
    expect(pump.status().blocked).toBeNull();
  });

  it('hands its permits back and stops when the stream ends', async () => {
    const uplink = new Uplink({ classes: CLASSES, policy: policy(null) });
    const { session, controller } = pumpWith(uplink);
    await append('imaging', 3, 100);
    await session.whenSent(1);
    expect(uplink.status().inFlightBytes).toBeGreaterThan(0);
    controller.abort();
    expect(uplink.status().inFlightBytes).toBe(0);
    await append('imaging', 3, 100);
    await new Promise((r) => setTimeout(r, 100));
    expect(session.sent).toHaveLength(1);
    expect(session.closedWith).toBe('open');
  });
});
