// `wardline relay migrate-store --from sqlite --to postgres` against the machine's
// PostgreSQL: a relay.db written through the relay's own stores (feeds, a revoked
// feed, ledger heads, tree heads, a purge, inbound events and receipts, imaging
// chunks, enrolment tokens) is copied and both digests printed equal; the copy is
// refused while the relay holds relay.db, into a database that holds data, and
// with a damaged chunk file; a copy that differs is caught by the digest.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { relayMigrateStoreCommand } from '../../cli/relay-migrate-store-command.js';
import { SqliteEnrolmentTokens } from '../../cloud-relay/enrolment/index.js';
import { SqliteInboundStore } from '../../cloud-relay/inbound/index.js';
import { SqliteSinkCursorStore } from '../../cloud-relay/sinks/index.js';
import { RelayErrorCode, StoreMigrationError } from '../../cloud-relay/errors.js';
import { digestDifferences, digestPostgres, migrateStoreToPostgres, planStoreCopy, PostgresFeedStore, relayChunkFillers, RelayDatabase, type TableDigest } from '../../cloud-relay/store/postgres/index.js';
import { openRelayDbExclusively } from '../../cloud-relay/store/exclusive-relay-db.js';
import { relayBlobDir, relayChunkFile, relayDatabaseFile, SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { buildExportFixture, FX_HOSPITAL } from '../support/export-fixture.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';

const SECRET = 'h1-secret-0123456789abcdef0123456789';

/** A relay data dir holding a row in every table relay.db has, written through the stores. */
async function fullDataDir(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wardline-migrate-'));
  const fixture = await buildExportFixture(dataDir, 1_200);
  const { store } = fixture;
  await store.recordTreeHead({ hospital: FX_HOSPITAL, feed: 'adt', fromSeq: 1, toSeq: 100, treeSize: 50, root: Buffer.alloc(32, 7), signedAtMs: 1_700_000_000_000, signedText: 'wardline-tree-head v1 …', signature: 'untrusted comment: x\nRWQ…' });
  await store.storeBatch({ hospital: FX_HOSPITAL, feed: 'lab', firstSeq: 1, lastSeq: 2, events: [ev(1), ev(2)], ledgerHead: { index: 3, hash: Buffer.alloc(32, 0xcd) } });
  await store.revokeFeed({ hospital: FX_HOSPITAL, feed: 'lab', reason: 'consent withdrawn' });
  await store.storeBatch({ hospital: FX_HOSPITAL, feed: 'old', firstSeq: 1, lastSeq: 1, events: [ev(1)] });
  await store.purgeFeed({ hospital: FX_HOSPITAL, feed: 'old', reason: 'contract end' });
  // A feed retention trimmed: its floor and body bytes (relay.db migration 11) travel with its position.
  await store.storeBatch({ hospital: FX_HOSPITAL, feed: 'trimmed', firstSeq: 1, lastSeq: 6, events: [1, 2, 3, 4, 5, 6].map((seq) => ev(seq)) });
  await store.applyRetention(FX_HOSPITAL, 'trimmed', { maxBytes: ev(5).body.length + ev(6).body.length });
  await store.recordPurge({ hospital: FX_HOSPITAL, feed: 'old', purgedAtMs: 1_700_000_000_500, receipt: '{"feeds":[]}', signature: 'sig' });
  await fixture.close();

  const file = relayDatabaseFile(dataDir);
  const inbound = SqliteInboundStore.open({ file });
  await inbound.declareChannels(FX_HOSPITAL, [{ name: 'bookings', defaultTtlMs: 60_000, maxTtlMs: 600_000, maxBodyBytes: 65_536, contentTypes: ['json'], keyPath: '$.patient', requiredFields: [] }], 1_700_000_000_000);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const written = await inbound.write({ hospital: FX_HOSPITAL, channel: 'bookings', vendor: 'app', idempotencyKey: `k${i}`, contentType: 'application/json', body: Buffer.from(`{"patient":"p${i}","slot":"${i}"}`), key: `p${i}`, receivedAtMs: 1_700_000_001_000 + i, expiresAtMs: 1_800_000_000_000 });
    if (written.kind !== 'created') throw new Error(written.kind);
    ids.push(written.record.id);
  }
  await inbound.takeToSend(FX_HOSPITAL, 'bookings', 0, 10, 1 << 20, 1_700_000_002_000);
  await inbound.storeReceipt(FX_HOSPITAL, { id: ids[0]!, channel: 'bookings', outcome: 'accepted', final: true, code: 'AA', reason: '', reference: 'A-1', attempts: 1, decidedAtMs: 1_700_000_003_000 }, 1_700_000_003_001);
  await inbound.storeReceipt(FX_HOSPITAL, { id: ids[1]!, channel: 'bookings', outcome: 'quarantined', final: false, code: '', reason: 'no mapping', reference: '', attempts: 3, decidedAtMs: 1_700_000_003_500 }, 1_700_000_003_501);
  await inbound.close();

  const tokens = SqliteEnrolmentTokens.open(file);
  await tokens.issue(FX_HOSPITAL, 3_600_000);
  await tokens.close();

  const sinks = SqliteSinkCursorStore.open({ file });
  const key = { sink: 'bus', hospital: FX_HOSPITAL, feed: 'adt' };
  expect(await sinks.takeLease(key, 'relay-a', 30_000)).toBe(true);
  expect(await sinks.advance(key, 'relay-a', 600, 600)).toBe(true);
  await sinks.close();
  return dataDir;
}

function ev(seq: number) {
  return { seq, stream: 'lab', key: `k${seq}`, op: 'upsert' as const, tsMs: 1_700_000_000_000 + seq, source: 'test', contentType: 'hl7v2', body: Buffer.from(`MSH|^~\\&|LIS|${seq}`), headers: {} };
}

function relayYaml(dataDir: string): string {
  const file = join(dataDir, '..', `${dataDir.split('/').pop()}.relay.yaml`);
  writeFileSync(file, JSON.stringify({ dataDir, allowPlaintext: true, hospitals: [{ id: FX_HOSPITAL, secret: SECRET }] }));
  return file;
}

describe('wardline relay migrate-store', () => {
  let dataDir: string;
  let target: RelayTestDatabase;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    dataDir = await fullDataDir();
  }, 60_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function freshTarget(): Promise<{ url: string; database: RelayDatabase }> {
    target = await createRelayTestDatabase('migrate');
    const database = await RelayDatabase.connect({ url: target.url, poolMax: 3, connectTimeoutMs: 5_000, applicationName: 'wardline-test' });
    const dropping = target;
    cleanups.push(() => dropping.drop());
    cleanups.push(() => database.close());
    return { url: target.url, database };
  }

  it('copies every table of relay.db and prints the same digest of both sides', async () => {
    const { url, database } = await freshTarget();
    let out = '';
    const code = await relayMigrateStoreCommand({ config: relayYaml(dataDir), from: 'sqlite', to: 'postgres', url, batchRows: 100 }, (t) => (out += t));
    expect(code).toBe(0);
    const [before, after] = out.split('digest of PostgreSQL').map((part) => part.slice(part.indexOf(':\n') + 2).split('\n').filter((line) => line.startsWith('  ')).join('\n'));
    expect(before!.length).toBeGreaterThan(0);
    expect(after).toBe(before);
    for (const table of ['feed_events', 'feed_positions', 'feed_revocations', 'agent_ledger_heads', 'feed_tree_heads', 'feed_purges', 'inbound_channels', 'inbound_events', 'inbound_receipts', 'blob_chunks', 'blob_instances', 'blob_refs', 'enrolment_tokens', 'sink_cursors', 'sink_leases']) {
      expect(before).toMatch(new RegExp(`^  ${table} +[1-9]\\d* rows`, 'm'));
    }
    expect(out).toContain('digests match');

    // The chunk bytes came along from blobs/, not only their rows.
    const chunks = await database.query<{ ok: boolean }>(`SELECT bool_and(encode(sha256(data), 'hex') = sha256) AS ok FROM blob_chunks`);
    expect(chunks.rows[0]!.ok).toBe(true);
    const events = await database.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM feed_events WHERE hospital = $1 AND feed = 'adt'`, [FX_HOSPITAL]);
    expect(events.rows[0]!.n).toBe(1_201);

    // The relay on PostgreSQL answers the agent's Hello with the marks it had on relay.db, so the agent
    // resumes after them: a batch it sent before the move is a duplicate, the next one appends.
    const sqlite = SqliteFeedStore.open({ file: relayDatabaseFile(dataDir) });
    const feeds = await PostgresFeedStore.open({ database });
    try {
      for (const [hospital, feed] of [[FX_HOSPITAL, 'adt'], [FX_HOSPITAL, 'rows'], [FX_HOSPITAL, 'imaging'], [FX_HOSPITAL, 'lab'], [FX_HOSPITAL, 'old'], ['h2', 'adt']] as const) {
        expect(feeds.position(hospital, feed), `${hospital}/${feed}`).toEqual(sqlite.position(hospital, feed));
      }
      expect(await feeds.ledgerHeads()).toEqual(await sqlite.ledgerHeads());
      expect(await feeds.feedSizes()).toEqual(await sqlite.feedSizes());
      expect(await feeds.feedRange(FX_HOSPITAL, 'trimmed')).toEqual({ highWater: 6, retentionFloorSeq: 4, oldestSeq: 5 });
      expect(await feeds.readEvents(FX_HOSPITAL, 'trimmed', 4, 10)).toEqual(await sqlite.readEvents(FX_HOSPITAL, 'trimmed', 4, 10));
      expect(await feeds.applyRetention(FX_HOSPITAL, 'trimmed', { maxBytes: ev(6).body.length })).toMatchObject({ removedEvents: 1, retentionFloorSeq: 5 });
      const high = sqlite.position(FX_HOSPITAL, 'rows').highWaterSeq;
      const page = await sqlite.readEvents(FX_HOSPITAL, 'rows', 0, 100);
      expect(await feeds.readEvents(FX_HOSPITAL, 'rows', 0, 100)).toEqual(page);
      expect((await feeds.storeBatch({ hospital: FX_HOSPITAL, feed: 'rows', firstSeq: 1, lastSeq: high, events: page.events })).decision.kind).toBe('duplicate');
      expect(await feeds.storeBatch({ hospital: FX_HOSPITAL, feed: 'rows', firstSeq: high + 1, lastSeq: high + 1, events: [{ ...ev(high + 1), stream: 'his.patient' }] })).toMatchObject({ decision: { kind: 'append' }, storedEvents: 1 });
      expect((await feeds.storeBatch({ hospital: FX_HOSPITAL, feed: 'lab', firstSeq: 3, lastSeq: 3, events: [ev(3)] })).decision.kind).toBe('revoked');
      expect(await feeds.treeHeads(FX_HOSPITAL, 'adt')).toEqual(await sqlite.treeHeads(FX_HOSPITAL, 'adt'));
      expect(await feeds.purges(FX_HOSPITAL)).toEqual(await sqlite.purges(FX_HOSPITAL));
    } finally {
      await feeds.close();
      await sqlite.close();
    }

    // A second run finds the copy and refuses, naming a table that holds it.
    let err = '';
    const stderr = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((t: string) => ((err += t), true)) as typeof process.stderr.write;
    try {
      expect(await relayMigrateStoreCommand({ config: relayYaml(dataDir), from: 'sqlite', to: 'postgres', url }, () => undefined)).toBe(2);
    } finally {
      process.stderr.write = stderr;
    }
    expect(err).toMatch(/\[WL_MIGRATE_TARGET_NOT_EMPTY\] .*table \w+ has rows/);
  }, 60_000);

  it('refuses while the relay holds relay.db, and copies nothing', async () => {
    const { database } = await freshTarget();
    const running = SqliteFeedStore.open({ file: relayDatabaseFile(dataDir) });
    cleanups.push(() => running.close());
    const error = await migrateStoreToPostgres({ sqliteFile: relayDatabaseFile(dataDir), blobDir: relayBlobDir(dataDir), database }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreMigrationError);
    expect((error as StoreMigrationError).code).toBe(RelayErrorCode.MIGRATE_RELAY_RUNNING);
    const tables = await database.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'feed_events'`);
    expect(tables.rowCount).toBe(0);
  });

  it('keeps a relay from opening relay.db while the copy holds it', () => {
    const held = openRelayDbExclusively(relayDatabaseFile(dataDir));
    try {
      expect(() => {
        const store = SqliteFeedStore.open({ file: relayDatabaseFile(dataDir), busyTimeoutMs: 100 });
        store.position(FX_HOSPITAL, 'adt');
        void store.close();
      }).toThrow(/locked/);
    } finally {
      held.close();
    }
  });

  it('refuses a damaged chunk file and leaves the target empty', async () => {
    const { database } = await freshTarget();
    const copy = mkdtempSync(join(tmpdir(), 'wardline-migrate-damaged-'));
    cleanups.push(() => rmSync(copy, { recursive: true, force: true }));
    rmSync(copy, { recursive: true });
    await import('node:fs/promises').then((fs) => fs.cp(dataDir, copy, { recursive: true }));
    const held = new (await import('better-sqlite3')).default(relayDatabaseFile(copy), { readonly: true });
    const chunk = held.prepare('SELECT hospital, sha256 FROM blob_chunks LIMIT 1').get() as { hospital: string; sha256: string };
    held.close();
    writeFileSync(relayChunkFile(relayBlobDir(copy), chunk.hospital, chunk.sha256), 'not the chunk');
    const error = await migrateStoreToPostgres({ sqliteFile: relayDatabaseFile(copy), blobDir: relayBlobDir(copy), database }).catch((e: unknown) => e);
    expect((error as StoreMigrationError).code).toBe(RelayErrorCode.MIGRATE_CHUNK_DAMAGED);
    expect((await database.query('SELECT count(*)::int8 AS n FROM feed_events')).rows[0]!.n).toBe(0);
  });

  it('catches a copy that differs in one byte of one row', async () => {
    const { database } = await freshTarget();
    const result = await migrateStoreToPostgres({ sqliteFile: relayDatabaseFile(dataDir), blobDir: relayBlobDir(dataDir), database });
    expect(digestDifferences(result.before, result.after)).toEqual([]);
    await database.query(`UPDATE feed_events SET body = body || '\\x00'::bytea WHERE hospital = $1 AND feed = 'adt' AND seq = 10`, [FX_HOSPITAL]);
    const db = openRelayDbExclusively(relayDatabaseFile(dataDir));
    let now: TableDigest[];
    try {
      now = await digestPostgres(database, await planStoreCopy(db, database, relayChunkFillers(relayBlobDir(dataDir))));
    } finally {
      db.close();
    }
    expect(digestDifferences(result.before, now)).toEqual(['feed_events']);
  });
});
