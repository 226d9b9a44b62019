// The compression level: fixed, or chosen batch by batch from what is scarce. The
// governor on its own, then a feed pump against a real journal and a real uplink:
// under a rate cap it compresses harder, with nothing waiting for the line lighter.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Uplink } from '../../agent/bandwidth/index.js';
import { ADAPTIVE_STEP_AFTER_BATCHES, CompressionGovernor } from '../../agent/replication/compression-governor.js';
import { FeedPump } from '../../agent/replication/feed-pump.js';
import { Journal, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { decodeEvents, encodeEvents, pb, type JournalEvent } from '../../protocol/index.js';
import { Hl7Corpus } from '../../simulator/index.js';
import { FakeRelay } from '../support/fake-relay-transport.js';
import { makeTempDir } from '../support/temp-dir.js';

const observeMany = (governor: CompressionGovernor, lineBound: boolean, batches: number) => {
  for (let i = 0; i < batches; i++) governor.observe(lineBound);
};

describe('CompressionGovernor', () => {
  it('starts adaptive brotli at the default level and moves one step per run of batches on the same side', () => {
    const governor = new CompressionGovernor('brotli', 'adaptive');
    expect(governor.choice).toEqual({ codec: 'brotli', level: 5, setting: 'adaptive' });
    observeMany(governor, true, ADAPTIVE_STEP_AFTER_BATCHES - 1);
    expect(governor.level).toBe(5);
    governor.observe(true);
    expect(governor.level).toBe(7);
    observeMany(governor, true, 3 * ADAPTIVE_STEP_AFTER_BATCHES);
    expect(governor.level).toBe(7);
    observeMany(governor, false, ADAPTIVE_STEP_AFTER_BATCHES);
    expect(governor.level).toBe(5);
    observeMany(governor, false, 10 * ADAPTIVE_STEP_AFTER_BATCHES);
    expect(governor.level).toBe(1);
  });

  it('does not move while batches alternate between the two sides', () => {
    const governor = new CompressionGovernor('gzip', 'adaptive');
    for (let i = 0; i < 40; i++) governor.observe(i % 2 === 0);
    expect(governor.level).toBe(6);
  });

  it('keeps a fixed level whatever the line does, and refuses one outside the codec', () => {
    const governor = new CompressionGovernor('brotli', 9);
    observeMany(governor, false, 40);
    expect(governor.choice).toEqual({ codec: 'brotli', level: 9, setting: 'fixed' });
    expect(new CompressionGovernor('none', 'adaptive').level).toBe(0);
    expect(() => new CompressionGovernor('gzip', 11)).toThrow(/outside gzip's levels 1–9/);
  });
});

describe('batch codec levels', () => {
  const corpus = new Hl7Corpus({ seed: 'levels' });
  const events: JournalEvent[] = Array.from({ length: 200 }, (_, i) => ({
    seq: i + 1, stream: 'adt', key: `k${i}`, op: 'upsert', tsMs: 1_700_000_000_000, source: 'his', contentType: 'hl7v2',
    body: Buffer.from(corpus.next().text), headers: {},
  }));

  it('decodes a batch of any level without being told the level, and a higher level is smaller', () => {
    const light = encodeEvents(events, 'brotli', 1);
    const hard = encodeEvents(events, 'brotli', 7);
    expect(hard.payload.length).toBeLessThan(light.payload.length * 0.9);
    for (const encoded of [light, hard, encodeEvents(events, 'gzip', 1), encodeEvents(events, 'deflate', 9)]) {
      const decoded = decodeEvents({ ...encoded, firstSeq: 1, lastSeq: 200, eventCount: 200 });
      // Compared as text: a deep equality of 200 Buffers takes seconds.
      expect(decoded.map((e) => `${e.seq} ${e.key} ${e.body.toString()}`)).toEqual(events.map((e) => `${e.seq} ${e.key} ${e.body.toString()}`));
    }
  });
});

describe('a feed pump compressing adaptively', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let journal: Journal;
  const stops: (() => void)[] = [];

  beforeEach(async () => {
    dir = makeTempDir();
    db = openAgentDatabase(join(dir.path, 'agent.db'));
    journal = new Journal(db);
    const corpus = new Hl7Corpus({ seed: 'adaptive' });
    await journal.append({
      source: 'test',
      events: Array.from({ length: 3000 }, (_, i) => ({ stream: 'adt', key: `k${i}`, op: 'upsert' as const, contentType: 'hl7v2', body: Buffer.from(corpus.next().text), headers: {} })),
    });
  });
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
    db.close();
    dir.remove();
  });

  function adaptivePump(uplink: Uplink) {
    const session = new FakeRelay({ relayId: 'scripted', answers: 'manual' }).session();
    const controller = new AbortController();
    const pump = new FeedPump({
      spec: { name: 'clinical', streams: ['adt'], policyVersion: 0, class: 'clinical' },
      journal,
      uplink,
      codec: 'brotli',
      compressionLevel: 'adaptive',
      limits: { maxEvents: 20, maxBytes: 1 << 20, maxScan: 20_000 },
      maxInFlight: 4,
      emptyBatchIntervalMs: 60_000,
      savedAckedSeq: 0,
      clock: Date.now,
    });
    pump.reset(0);
    pump.start({ session, signal: controller.signal, maxBatchBytes: 1 << 20 });
    stops.push(() => {
      controller.abort();
      uplink.close();
    });
    return { pump, session };
  }

  /** Answers `batches` batches as they arrive; returns the compression level after each. */
  async function answer(pump: FeedPump, session: ReturnType<FakeRelay['session']>, batches: number): Promise<number[]> {
    const levels: number[] = [];
    for (let answered = 0; answered < batches; answered++) {
      await session.whenSent(answered + 1);
      pump.onAck(session.sent[answered]!.lastSeq, false);
      levels.push(pump.status().compression.level);
    }
    return levels;
  }

  it('compresses harder while the rate cap holds batches back', async () => {
    const uplink = new Uplink({ classes: ['clinical'], burstBytes: 4096, policy: { rateBytesPerSecond: 400_000, windowsInForce: [], blocked: [], nextChange: null } });
    const { pump, session } = adaptivePump(uplink);
    const levels = await answer(pump, session, 3 * ADAPTIVE_STEP_AFTER_BATCHES + 4);
    expect(levels.at(-1)).toBe(7);
    expect(pump.status().compression).toEqual({ codec: 'brotli', level: 7, setting: 'adaptive' });
  });

  it('compresses lighter when nothing waits for the line', async () => {
    const uplink = new Uplink({ classes: ['clinical'] });
    const { pump, session } = adaptivePump(uplink);
    const levels = await answer(pump, session, 3 * ADAPTIVE_STEP_AFTER_BATCHES + 4);
    expect(levels.at(-1)).toBe(1);
    // What the relay received decodes whatever level each batch had.
    for (const batch of session.sent) expect(decodeEvents({ ...batch, codec: pb.Codec.CODEC_BROTLI })).toHaveLength(batch.eventCount);
  });
});
