// A feed pump with the egress ledger and the operator's hold: every batch is
// recorded before it is handed over and carries the ledger head; once hold()
// returns nothing more is handed over, even a batch whose record is being
// written; release() continues without a gap; a ledger that cannot be written
// stops egress.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EgressLedger, type LedgerRecord } from '../../agent/audit/index.js';
import { Uplink } from '../../agent/bandwidth/index.js';
import { FeedPump, type PumpEgressRecorder } from '../../agent/replication/feed-pump.js';
import { Journal, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { FakeRelay, type FakeRelaySession } from '../support/fake-relay-transport.js';
import { ManualTimers } from '../support/manual-timers.js';
import { makeTempDir } from '../support/temp-dir.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FeedPump with the egress ledger and the operator hold', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let journal: Journal;
  let ledger: EgressLedger;
  const stops: (() => void)[] = [];

  beforeEach(() => {
    dir = makeTempDir();
    db = openAgentDatabase(join(dir.path, 'agent.db'));
    journal = new Journal(db);
    ledger = new EgressLedger(db);
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) stop();
    await sleep(20);
    db.close();
    dir.remove();
  });

  const append = (count: number) =>
    journal.append({
      source: 'test',
      events: Array.from({ length: count }, (_, i) => ({ stream: 'adt', key: `k${i}`, op: 'upsert' as const, contentType: 'json', body: Buffer.from(`{"n":${i}}`), headers: {} })),
    });

  function start(egress: PumpEgressRecorder, options: { maxEvents?: number; timers?: ManualTimers } = {}) {
    const uplink = new Uplink({ classes: ['standard'] });
    const session = new FakeRelay({ relayId: 'scripted', answers: 'manual' }).session();
    const controller = new AbortController();
    const pump = new FeedPump({
      spec: { name: 'clinical', streams: ['adt'], policyVersion: 7 },
      journal,
      uplink,
      codec: 'none',
      limits: { maxEvents: options.maxEvents ?? 2000, maxBytes: 1 << 20, maxScan: 20_000 },
      maxInFlight: 4,
      emptyBatchIntervalMs: 60_000,
      savedAckedSeq: 0,
      clock: Date.now,
      ...(options.timers ? { timers: options.timers } : {}),
      egress,
    });
    pump.reset(0);
    pump.start({ session, signal: controller.signal, maxBatchBytes: 1 << 20 });
    const unsubscribe = journal.onCommit(() => pump.wake());
    stops.push(() => {
      controller.abort();
      unsubscribe();
      uplink.close();
    });
    return { pump, session, uplink };
  }

  /** Answers every batch as the relay would, until `stop` says so. */
  function autoAck(pump: FeedPump, session: FakeRelaySession): () => void {
    let answered = 0;
    const timer = setInterval(() => {
      while (answered < session.sends.length) pump.onAck(session.sends[answered++]!.batch.lastSeq, false);
    }, 2);
    return () => clearInterval(timer);
  }

  const recordBatch = (batch: Parameters<PumpEgressRecorder['recordBatch']>[0]) => ledger.recordBatch({ ...batch, relay: 'cloud' });

  it('records every batch before it is handed over, and sends the ledger head with it', async () => {
    const { pump, session } = start({ recordBatch }, { maxEvents: 5 });
    const stopAcks = autoAck(pump, session);
    stops.push(stopAcks);
    await append(20);
    while (pump.window.ackedSeq < 20) await sleep(5);
    const records = [...ledger.records()] as LedgerRecord[];
    expect(session.sends).toHaveLength(4);
    expect(records).toHaveLength(4);
    session.sends.forEach(({ batch }, i) => {
      const record = records[i]!;
      expect(batch.ledgerIndex).toBe(record.index);
      expect(batch.ledgerHead!.toString('hex')).toBe(record.hash);
      expect(record).toMatchObject({
        type: 'batch',
        feed: 'clinical',
        details: { relay: 'cloud', firstSeq: batch.firstSeq, lastSeq: batch.lastSeq, events: batch.eventCount, bytes: batch.payload.length, payloadSha256: batch.payloadSha256.toString('hex'), policyVersion: 7, codec: 'none' },
      });
    });
  });

  it('hands nothing over once hold() returned, not even the batch whose record was being written, and resumes without a gap', async () => {
    let recording = 0;
    // A slow disk: the record takes 30 ms, so hold() lands while a batch waits for it.
    const slow: PumpEgressRecorder = {
      recordBatch: async (batch) => {
        recording++;
        const head = await recordBatch(batch);
        await sleep(30);
        recording--;
        return head;
      },
    };
    const { pump, session } = start(slow, { maxEvents: 3 });
    stops.push(autoAck(pump, session));
    await append(30);
    while (recording === 0) await sleep(1);
    pump.setHold('operator', 'paused by the operator');
    const heldAt = performance.now();
    const sentBefore = session.sends.length;
    await sleep(200);
    await append(10);
    await sleep(100);
    expect(session.sends.filter((s) => s.atMs > heldAt)).toEqual([]);
    expect(session.sends).toHaveLength(sentBefore);
    expect(pump.status()).toMatchObject({ paused: true, blocked: 'paused by the operator' });
    // The batch caught by the hold has a record but never left: the ledger over-reports, never under.
    expect(ledger.head()!.index).toBe(sentBefore + 1);
    expect(await pump.whenIdle(1000)).toBe(true);

    pump.setHold('operator', null);
    while (pump.window.ackedSeq < 40) await sleep(5);
    const ranges = session.sends.map((s) => [s.batch.firstSeq, s.batch.lastSeq]);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBe(ranges[i - 1]![1]! + 1);
    expect(pump.status().paused).toBe(false);
  });

  it('tells when what was handed over is acknowledged', async () => {
    // whenIdle's timeout runs on manual timers: the test lets it pass instead of waiting.
    const timers = new ManualTimers();
    const { pump, session } = start({ recordBatch }, { timers });
    await append(5);
    while (session.sends.length === 0) await sleep(2);
    pump.setHold('operator', 'paused');
    const timedOut = pump.whenIdle(50);
    timers.advance(50);
    expect(await timedOut).toBe(false);
    const idle = pump.whenIdle(1000);
    pump.onAck(session.sends[0]!.batch.lastSeq, false);
    expect(await idle).toBe(true);
  });

  it('sends nothing when the ledger cannot be written, and hands the permit back', async () => {
    const { pump, session, uplink } = start({
      recordBatch: async () => {
        throw new Error('disk I/O error');
      },
    });
    await append(5);
    while (session.closedWith === 'open') await sleep(2);
    expect((session.closedWith as Error).message).toBe('disk I/O error');
    expect(session.sends).toEqual([]);
    expect(uplink.status().inFlightBytes).toBe(0);
    expect(pump.status().sentSeq).toBe(0);
  });

  it('starts held when told to (a feed paused before the agent started)', async () => {
    const uplink = new Uplink({ classes: ['standard'] });
    stops.push(() => uplink.close());
    const pump = new FeedPump({
      spec: { name: 'clinical', streams: ['adt'], policyVersion: 0 },
      journal,
      uplink,
      codec: 'none',
      limits: { maxEvents: 10, maxBytes: 1 << 20, maxScan: 20_000 },
      maxInFlight: 4,
      emptyBatchIntervalMs: 10,
      savedAckedSeq: 0,
      clock: Date.now,
      egress: { recordBatch },
      hold: 'revoked by the operator',
    });
    const session = new FakeRelay({ relayId: 'scripted', answers: 'manual' }).session();
    const controller = new AbortController();
    stops.push(() => controller.abort());
    pump.reset(0);
    pump.start({ session, signal: controller.signal, maxBatchBytes: 1 << 20 });
    await append(5);
    pump.wake();
    await sleep(100);
    expect(session.sends).toEqual([]);
    expect(ledger.head()).toBeNull();
    expect(pump.status()).toMatchObject({ paused: true, blocked: 'revoked by the operator' });
  });
});
