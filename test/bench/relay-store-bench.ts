// Section 13: the relay's feed store on PostgreSQL. Events/s stored by
// PostgresFeedStore.storeBatch against a bare INSERT … ON CONFLICT DO NOTHING of
// the same batches into a table like feed_events (one statement per batch, one
// round trip, autocommit: the least a durable store of a batch can cost), run
// before and after the store so drift shows; and against SqliteFeedStore with the
// same batches. Then `wardline relay migrate-store` of that relay.db into a fresh
// database: rows/s of the copy and the time of each digest.
// The database is a fresh one on the machine's PostgreSQL server (test/support/
// relay-test-database.ts; WARDLINE_TEST_PG_URL to use another), dropped at the end.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { relayBlobDir, relayDatabaseFile, SqliteFeedStore, type FeedStore } from '../../cloud-relay/store/index.js';
import { migratePostgres, migrateStoreToPostgres, PG_MIGRATIONS, PostgresFeedStore, RelayDatabase } from '../../cloud-relay/store/postgres/index.js';
import type { JournalEvent } from '../../protocol/index.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';
import { shown, type BenchReport } from './bench-report.js';

const HOSPITAL = 'h1';
const FEED = 'clinical';

export interface RelayStoreBenchOptions {
  dir: string;
  /** Events stored by each contender. */
  events: number;
  /** Events per batch (the agent's default batch is about this size for HL7 traffic). */
  batchEvents: number;
}

/** An ADT^A01 of a busy HIS, about 520 bytes, as an agent's journal hands it to a feed. */
function hl7Event(seq: number): JournalEvent {
  const id = 100_000 + seq;
  const body = `MSH|^~\\&|HIS|H1|LIS|H1|20240101080000||ADT^A01|MSG${seq}|P|2.5\rEVN|A01|20240101080000\rPID|1||${id}^^^H1^MR||张^三||19800101|M|||北京市海淀区^^^^100000\rPV1|1|I|3B^${seq % 40}^1^^^H1||||||||||||||||V${id}|||||||||||||||||||||||||20240101080000\rNK1|1|李^四|SPO^配偶|北京市海淀区^^^^100000|13800138000\rPV2|||^肺炎\rAL1|1|DA|^青霉素|SV|皮疹\rDG1|1||J18.9^肺炎，未特指^I10|||A\r`;
  return { seq, stream: 'adt', key: `P${id}`, op: 'upsert', tsMs: 1_700_000_000_000 + seq, source: 'mllp', contentType: 'hl7v2', body: Buffer.from(body), headers: { controlId: `MSG${seq}` } };
}

function batches(events: number, batchEvents: number): JournalEvent[][] {
  const out: JournalEvent[][] = [];
  for (let first = 1; first <= events; first += batchEvents) {
    const batch: JournalEvent[] = [];
    for (let seq = first; seq <= Math.min(events, first + batchEvents - 1); seq++) batch.push(hl7Event(seq));
    out.push(batch);
  }
  return out;
}

/** Stores every batch in order; returns events/s. */
async function throughStore(store: FeedStore, all: readonly JournalEvent[][]): Promise<number> {
  let events = 0;
  const started = performance.now();
  for (const batch of all) {
    const stored = await store.storeBatch({ hospital: HOSPITAL, feed: FEED, firstSeq: batch[0]!.seq, lastSeq: batch[batch.length - 1]!.seq, events: batch });
    if (stored.decision.kind !== 'append') throw new Error(`batch ${batch[0]!.seq}: ${stored.decision.kind}`);
    events += stored.storedEvents;
  }
  return events / ((performance.now() - started) / 1000);
}

/** The baseline: one INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING per batch into `table`; returns events/s. */
async function throughBareInsert(database: RelayDatabase, table: string, all: readonly JournalEvent[][]): Promise<number> {
  await database.query(`CREATE TABLE ${table} (LIKE feed_events INCLUDING ALL)`);
  const sql = `INSERT INTO ${table} (hospital, feed, seq, stream, key, op, ts_ms, source, content_type, body, headers, received_at_ms)
    SELECT $1, $2, * FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::bytea[], $11::text[], $12::bigint[])
    ON CONFLICT DO NOTHING`;
  let events = 0;
  const started = performance.now();
  for (const batch of all) {
    const now = Date.now();
    const result = await database.query(sql, [
      HOSPITAL,
      FEED,
      batch.map((e) => e.seq),
      batch.map((e) => e.stream),
      batch.map((e) => e.key),
      batch.map((e) => e.op),
      batch.map((e) => e.tsMs),
      batch.map((e) => e.source),
      batch.map((e) => e.contentType),
      batch.map((e) => Buffer.from(e.body)),
      batch.map((e) => JSON.stringify(e.headers)),
      batch.map(() => now),
    ]);
    events += result.rowCount ?? 0;
  }
  return events / ((performance.now() - started) / 1000);
}

export async function measureRelayStore(report: BenchReport, options: RelayStoreBenchOptions): Promise<void> {
  const { dir, events, batchEvents } = options;
  report.begin(`13. Relay store on PostgreSQL: ${events.toLocaleString('en')} HL7 events in batches of ${batchEvents}, against a bare INSERT and SQLite`);
  const all = batches(events, batchEvents);
  const bodyBytes = all.flat().reduce((n, e) => n + e.body.length, 0) / events;
  const databases: RelayTestDatabase[] = [];
  const open: { close(): Promise<void> }[] = [];
  try {
    const target = await createRelayTestDatabase('bench_store');
    databases.push(target);
    const database = await RelayDatabase.connect({ url: target.url, poolMax: 4, connectTimeoutMs: 5_000, applicationName: 'wardline-bench' });
    open.push(database);
    await migratePostgres(database, PG_MIGRATIONS);
    const settings = (await database.query<{ version: string; sync: string }>(`SELECT current_setting('server_version') AS version, current_setting('synchronous_commit') AS sync`)).rows[0]!;
    const { version: server, sync } = settings;

    const bareBefore = await throughBareInsert(database, 'bench_bare_before', all);
    const store = await PostgresFeedStore.open({ database });
    const pgStore = await throughStore(store, all);
    await store.close();
    const bareAfter = await throughBareInsert(database, 'bench_bare_after', all);
    const bare = (bareBefore + bareAfter) / 2;

    const sqliteDataDir = join(dir, 'relay-store-sqlite');
    const sqlite = SqliteFeedStore.open({ file: relayDatabaseFile(sqliteDataDir) });
    const sqliteRate = await throughStore(sqlite, all);
    await sqlite.close();

    const note = `${batchEvents} events per batch, bodies ${Math.round(bodyBytes)} B, one writer; PostgreSQL ${server} on 127.0.0.1, synchronous_commit=${sync}`;
    report.record('bare INSERT … ON CONFLICT DO NOTHING (baseline, before)', bareBefore, 'events/s', 'one unnest INSERT per batch, autocommit, into a table LIKE feed_events');
    report.record('PostgresFeedStore.storeBatch', pgStore, 'events/s', note);
    report.record('bare INSERT … ON CONFLICT DO NOTHING (baseline, after)', bareAfter, 'events/s', 'the same, after the store: drift shows as a difference to the run before');
    report.record('PostgresFeedStore / bare INSERT', (pgStore / bare) * 100, '%', 'against the mean of both baseline runs');
    report.record('SqliteFeedStore.storeBatch', sqliteRate, 'events/s', 'the same batches, relay.db on this machine\'s disk, synchronous=FULL');
    report.record('PostgresFeedStore / SqliteFeedStore', (pgStore / sqliteRate) * 100, '%', 'same batches, same run');
    report.check('PostgresFeedStore.storeBatch at least half a bare INSERT … ON CONFLICT of the same batches', '≥ 50%', `${shown((pgStore / bare) * 100)}%`, pgStore / bare >= 0.5);

    // The move itself: relay.db just written → a fresh database, with both digests.
    const copyTarget = await createRelayTestDatabase('bench_copy');
    databases.push(copyTarget);
    const copyDatabase = await RelayDatabase.connect({ url: copyTarget.url, poolMax: 2, connectTimeoutMs: 5_000, applicationName: 'wardline-bench' });
    open.push(copyDatabase);
    const timings: Record<string, number> = {};
    const result = await migrateStoreToPostgres({
      sqliteFile: relayDatabaseFile(sqliteDataDir),
      blobDir: relayBlobDir(sqliteDataDir),
      database: copyDatabase,
      onProgress: (event) => {
        if (event.kind !== 'table-copied') timings[event.kind] = event.elapsedMs / 1000;
      },
    });
    report.record('migrate-store copy', result.rows / (result.copyMs / 1000), 'rows/s', `${result.rows} rows in ${shown(result.copyMs / 1000)} s, 500-row INSERTs in one transaction`);
    report.record('migrate-store digest of relay.db', timings['digest-before'] ?? NaN, 's', 'every row hashed in primary-key order');
    report.record('migrate-store digest of PostgreSQL', timings['digest-after'] ?? NaN, 's', 'the same, through a cursor in one snapshot');
  } finally {
    for (const o of open.reverse()) await o.close().catch(() => undefined);
    for (const d of databases) await d.drop().catch(() => undefined);
  }
}
