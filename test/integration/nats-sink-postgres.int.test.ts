// Two relay processes' sinks on one PostgreSQL database (cursors and leases in
// schema v6) publishing the same feeds: one holds each feed's lease and
// publishes, the other stands by; when the publisher stops, the other takes
// over from the durable cursor. The stream holds every event once, in order.
// (Both "processes" read one relay.db feed store here; the PostgreSQL feed
// store is another part's, and the sink only reads through the FeedStore port.)
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseRelayConfig } from '../../cloud-relay/config.js';
import { startSinks, type Sinks } from '../../cloud-relay/sinks/index.js';
import { migratePostgres, PG_MIGRATIONS, RelayDatabase } from '../../cloud-relay/store/postgres/index.js';
import { FeedNotifier, SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { createNatsTestStream, TEST_NATS_URL, type NatsTestStream } from '../support/nats-test-stream.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';
import { makeTempDir } from '../support/temp-dir.js';
import { makeEvent } from './relay-harness.js';

let testDatabase: RelayTestDatabase;
let stream: NatsTestStream;
const dir = makeTempDir('wardline-sink-pg-');
beforeAll(async () => {
  testDatabase = await createRelayTestDatabase('sinks');
  stream = await createNatsTestStream('pg', 1_000);
});
afterAll(async () => {
  await stream?.delete();
  await testDatabase?.drop();
  dir.remove();
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

it('gives each feed to one process at a time, and hands it over from the durable cursor', { timeout: 60_000 }, async () => {
  const notifier = new FeedNotifier();
  const store = SqliteFeedStore.open({ file: join(dir.path, 'relay.db'), onAdvance: notifier.advanced });
  const { sinks: config } = parseRelayConfig({
    dataDir: dir.path,
    allowPlaintext: true,
    sinks: [{ kind: 'nats-jetstream', name: 'bus', servers: [TEST_NATS_URL], stream: stream.name, subjectPrefix: stream.prefix, pollMs: 50, leaseTtlMs: 500 }],
  });
  const databases = await Promise.all([0, 1].map(() => RelayDatabase.connect({ url: testDatabase.url, poolMax: 4, connectTimeoutMs: 5_000, applicationName: 'wardline-test' })));
  await migratePostgres(databases[0]!, PG_MIGRATIONS);
  const start = (database: RelayDatabase, relayId: string): Promise<Sinks> =>
    startSinks({ sinks: config, relayId, store, notifier, state: { database }, registry: new Registry(), logger: pino({ level: 'silent' }) });
  const feeds = ['adt', 'orm'];
  const stored = new Map(feeds.map((f) => [f, 0]));
  const write = async (n: number) => {
    for (const feed of feeds) {
      const first = stored.get(feed)! + 1;
      await store.storeBatch({ hospital: 'h1', feed, firstSeq: first, lastSeq: first + n - 1, events: Array.from({ length: n }, (_, i) => makeEvent(first + i, { stream: feed })) });
      stored.set(feed, first + n - 1);
    }
  };
  const total = () => [...stored.values()].reduce((a, b) => a + b, 0);
  await write(200);
  const a = await start(databases[0]!, 'relay-a');
  const b = await start(databases[1]!, 'relay-b');
  try {
    for (let i = 0; i < 10; i += 1) await write(50);
    await until('everything on the stream', async () => (await stream.messages()) === total());
    await until('both feeds caught up', async () => [...(await a.status()), ...(await b.status())].filter((s) => s.state === 'caught-up').length === 2);
    // Per feed: one publishes (caught up), the other stands by.
    const states = [...(await a.status()), ...(await b.status())];
    for (const feed of feeds) expect(states.filter((s) => s.feed === feed).map((s) => s.state).sort()).toEqual(['caught-up', 'standby']);
    // The publisher of adt stops (its lease let go): the other takes it over from the cursor.
    const adtHolder = (await a.status()).find((s) => s.feed === 'adt')!.state === 'caught-up' ? a : b;
    const other = adtHolder === a ? b : a;
    await adtHolder.stop();
    await write(100);
    await until('the rest on the stream', async () => (await stream.messages()) === total());
    await until('the other caught up on both feeds', async () => (await other.status()).every((s) => s.state === 'caught-up' && s.lagEvents === 0));
    const read = await stream.readAll();
    for (const feed of feeds) {
      expect(read.filter((m) => m.subject === `${stream.prefix}.h1.${feed}`).map((m) => m.messageId)).toEqual(Array.from({ length: stored.get(feed)! }, (_, i) => `h1/${feed}/${i + 1}`));
    }
    const cursors = await databases[0]!.query<{ feed: string; published_seq: number }>('SELECT feed, published_seq FROM sink_cursors ORDER BY feed', []);
    expect(cursors.rows).toEqual([
      { feed: 'adt', published_seq: stored.get('adt') },
      { feed: 'orm', published_seq: stored.get('orm') },
    ]);
  } finally {
    await a.stop();
    await b.stop();
    for (const d of databases) await d.close();
    await store.close();
  }
});
