// The sink survives kill -9: a relay child process publishing two feeds to
// JetStream is SIGKILLed 50 times while events keep arriving, some outages
// longer than the stream's (short) duplicate window, so the window cannot be
// what saves it. The stream must hold each (hospital, feed, seq) exactly once,
// in seq order, and catch up with everything stored.
//
// Events are written into the relay's relay.db by this process (a second
// SQLite writer, WAL), so the writing goes on while the relay is down; the sink
// finds them by its poll (pollMs), as it would find another process's commits.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { createNatsTestStream, TEST_NATS_URL, type NatsTestStream } from '../support/nats-test-stream.js';
import { makeTempDir } from '../support/temp-dir.js';
import { RelayChild } from '../support/relay-child-process.js';
import { makeEvent } from './relay-harness.js';

const KILLS = 50;
const DUPLICATE_WINDOW_MS = 1_000;
/** Every LONG_OUTAGE_EVERY-th outage lasts past the duplicate window. */
const LONG_OUTAGE_EVERY = 6;
const LONG_OUTAGE_MS = DUPLICATE_WINDOW_MS + 400;
const FEEDS = ['adt', 'lab.results'] as const;
const EVENTS_PER_TICK = 5;
const TICK_MS = 20;

let stream: NatsTestStream;
const dir = makeTempDir('wardline-sink-kill-');
beforeAll(async () => {
  stream = await createNatsTestStream('kill', DUPLICATE_WINDOW_MS);
});
afterAll(async () => {
  await stream?.delete();
  dir.remove();
});

it(`publishes each event exactly once, in order, across ${KILLS} SIGKILLs of the relay`, { timeout: 180_000 }, async () => {
  const dataDir = join(dir.path, 'data');
  const config = join(dir.path, 'relay.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      relayId: 'sink-kill',
      dataDir,
      grpc: { listen: '127.0.0.1:0' },
      http: { listen: '127.0.0.1:0' },
      allowPlaintext: true,
      hospitals: [{ id: 'h1', secret: 'h1-secret-0123456789abcdef' }],
      log: { level: 'warn' },
      sinks: [{ kind: 'nats-jetstream', name: 'bus', servers: [TEST_NATS_URL], stream: stream.name, subjectPrefix: stream.prefix, pollMs: 50, leaseTtlMs: 400, publishTimeoutMs: 1_000, maxBackoffMs: 500 }],
    }),
  );
  const store = SqliteFeedStore.open({ file: join(dataDir, 'relay.db') });
  const stored = new Map<string, number>(FEEDS.map((f) => [f, 0]));
  let producing = true;
  const producer = (async () => {
    while (producing) {
      for (const feed of FEEDS) {
        const first = stored.get(feed)! + 1;
        const last = first + EVENTS_PER_TICK - 1;
        const events = Array.from({ length: EVENTS_PER_TICK }, (_, i) => makeEvent(first + i, { stream: feed }));
        await store.storeBatch({ hospital: 'h1', feed, firstSeq: first, lastSeq: last, events });
        stored.set(feed, last);
      }
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
  })();
  const total = () => [...stored.values()].reduce((a, b) => a + b, 0);
  const log = join(dir.path, 'relay.log');
  let livesThatPublished = 0;
  let killedBehind = 0;
  let longOutages = 0;
  const startupMs: number[] = [];
  const startedAt = Date.now();
  try {
    for (let kill = 1; kill <= KILLS; kill += 1) {
      const before = await stream.messages();
      const relay = new RelayChild(config, log);
      // Killed while it publishes: once the stream has grown, after up to 400 ms more.
      const spawnedAt = Date.now();
      while ((await stream.messages()) === before && Date.now() - spawnedAt < 10_000) await new Promise((r) => setTimeout(r, 10));
      startupMs.push(Date.now() - spawnedAt);
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      await relay.kill('SIGKILL');
      const after = await stream.messages();
      if (after > before) livesThatPublished += 1;
      if (after < total()) killedBehind += 1;
      const long = kill % LONG_OUTAGE_EVERY === 0;
      if (long) longOutages += 1;
      await new Promise((r) => setTimeout(r, long ? LONG_OUTAGE_MS : Math.random() * 200));
    }
  } finally {
    producing = false;
    await producer;
  }
  const killPhaseMs = Date.now() - startedAt;
  // The last start: it must catch up with all that was stored.
  const finalRelay = new RelayChild(config, log);
  const catchUpFrom = await stream.messages();
  const catchUpStart = Date.now();
  try {
    const deadline = Date.now() + 60_000;
    while ((await stream.messages()) < total() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const catchUpMs = Date.now() - catchUpStart;
    await new Promise((r) => setTimeout(r, 300));
    const read = await stream.readAll();
    console.log(
      `sink kill run: ${KILLS} SIGKILLs (${longOutages} outages of ${LONG_OUTAGE_MS} ms > duplicate window ${DUPLICATE_WINDOW_MS} ms) in ${(killPhaseMs / 1000).toFixed(1)} s; ` +
        `${livesThatPublished} lives published, ${killedBehind} killed while behind; ${total()} events stored, ${read.length} on the stream; ` +
        `spawn to first publish median ${[...startupMs].sort((a, b) => a - b)[startupMs.length >> 1]} ms; final catch-up of ${total() - catchUpFrom} events in ${catchUpMs} ms (including start and lease wait)`,
    );
    expect(read).toHaveLength(total());
    for (const feed of FEEDS) {
      const subject = `${stream.prefix}.h1.${feed.replaceAll('.', '~')}`;
      const onSubject = read.filter((m) => m.subject === subject);
      // Exactly once and in order: the ids are 1..N with nothing repeated or skipped, in stream order.
      expect(onSubject.map((m) => m.messageId)).toEqual(Array.from({ length: stored.get(feed)! }, (_, i) => `h1/${feed}/${i + 1}`));
      expect(onSubject.every((m, i) => (JSON.parse(m.payload) as { seq: number }).seq === i + 1)).toBe(true);
    }
    expect(livesThatPublished).toBeGreaterThan(KILLS / 2);
    expect(killedBehind).toBeGreaterThan(KILLS / 2);
  } finally {
    await finalRelay.kill('SIGTERM');
    await store.close();
  }
});
