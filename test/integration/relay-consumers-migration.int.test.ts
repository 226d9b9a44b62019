// Named consumers' schema on both stores: relay.db migration 12 rebuilds
// vendor_cursors with the consumer in its key and PostgreSQL v9 alters it, both
// keeping the cursors stored before as reads that named no consumer (''); and
// `wardline relay migrate-store` copies last reads and committed consumers
// column for column, with equal digests on both sides.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { migratePostgres, migrateStoreToPostgres, PG_MIGRATIONS, PgVendorCursorStore, RelayDatabase, digestDifferences } from '../../cloud-relay/store/postgres/index.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../cloud-relay/store/migrations.js';
import { relayBlobDir, SqliteFeedStore, SqliteVendorCursorStore } from '../../cloud-relay/store/index.js';
import { migrateSqlite } from '../../runtime/index.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';
import { makeTempDir } from '../support/temp-dir.js';

const OLD_ROWS = [
  ['platform', 'h1', 'adt', 12, 1_000, 'http'],
  ['app', 'h2', 'appointments', 3, 2_000, 'grpc'],
] as const;

describe('named consumers: schema migrations and migrate-store', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('relay.db: migration 12 keeps the cursors stored before as unnamed reads and takes named ones beside them', async () => {
    const dir = makeTempDir('wardline-consumers-migration-');
    cleanups.push(() => dir.remove());
    const file = join(dir.path, 'relay.db');
    const old = new Database(file);
    migrateSqlite(old, { file, migrations: MIGRATIONS.filter((m) => m.version < 12), tooNew: () => new Error('too new') });
    const insert = old.prepare('INSERT INTO vendor_cursors (vendor, hospital, feed, cursor, last_read_at_ms, api) VALUES (?, ?, ?, ?, ?, ?)');
    for (const row of OLD_ROWS) insert.run(...row);
    old.close();

    const store = SqliteVendorCursorStore.open({ file });
    cleanups.push(() => store.close());
    const check = new Database(file, { readonly: true });
    cleanups.push(() => void check.close());
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(await store.all()).toEqual([
      { vendor: 'app', hospital: 'h2', feed: 'appointments', consumer: '', cursor: 3, lastReadAtMs: 2_000, api: 'grpc' },
      { vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: '', cursor: 12, lastReadAtMs: 1_000, api: 'http' },
    ]);
    await store.save([{ vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: 'billing', cursor: 5, lastReadAtMs: 3_000, api: 'grpc' }]);
    expect((await store.all()).map((c) => c.consumer)).toEqual(['', '', 'billing']);
    // A committed cursor needs a name: the table refuses '' itself.
    await expect(store.commit({ vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: '', cursor: 1, committedAtMs: 1 })).rejects.toThrow(/CHECK constraint/);
  });

  it('PostgreSQL: schema v9 keeps the cursors stored before as unnamed reads', async () => {
    const db: RelayTestDatabase = await createRelayTestDatabase('consumers_v9');
    cleanups.push(() => db.drop());
    const database = await RelayDatabase.connect({ url: db.url, poolMax: 2, connectTimeoutMs: 5_000, applicationName: 'wardline-test' });
    cleanups.push(() => database.close());
    await migratePostgres(database, PG_MIGRATIONS.filter((m) => m.version < 9));
    for (const row of OLD_ROWS) await database.query('INSERT INTO vendor_cursors (vendor, hospital, feed, cursor, last_read_at_ms, api) VALUES ($1, $2, $3, $4, $5, $6)', [...row]);
    expect(await migratePostgres(database, PG_MIGRATIONS)).toEqual({ from: 8, to: 9 });
    const store = new PgVendorCursorStore(database);
    expect((await store.all()).map((c) => [c.vendor, c.consumer, c.cursor])).toEqual([['app', '', 3], ['platform', '', 12]]);
    await store.save([{ vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: 'billing', cursor: 5, lastReadAtMs: 3_000, api: 'grpc' }]);
    expect((await store.all()).map((c) => [c.vendor, c.consumer, c.cursor])).toEqual([['app', '', 3], ['platform', '', 12], ['platform', 'billing', 5]]);
  });

  it('migrate-store copies last reads and committed consumers column for column, the digests equal', async () => {
    const dir = makeTempDir('wardline-consumers-copy-');
    cleanups.push(() => dir.remove());
    const file = join(dir.path, 'relay.db');
    const feeds = SqliteFeedStore.open({ file });
    const cursors = SqliteVendorCursorStore.open({ file });
    await cursors.save([
      { vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: '', cursor: 12, lastReadAtMs: 1_000, api: 'http' },
      { vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: 'billing', cursor: 9, lastReadAtMs: 1_500, api: 'grpc' },
    ]);
    await cursors.commit({ vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: 'billing', cursor: 7, committedAtMs: 1_600 });
    await cursors.commit({ vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: 'archive', cursor: 2, committedAtMs: 1_700 });
    cursors.close();
    await feeds.close();

    const db = await createRelayTestDatabase('consumers_copy');
    cleanups.push(() => db.drop());
    const database = await RelayDatabase.connect({ url: db.url, poolMax: 2, connectTimeoutMs: 5_000, applicationName: 'wardline-test' });
    cleanups.push(() => database.close());
    const result = await migrateStoreToPostgres({ sqliteFile: file, blobDir: relayBlobDir(dir.path), database });
    expect(digestDifferences(result.before, result.after)).toEqual([]);
    expect(result.after.find((d) => d.table === 'vendor_consumers')?.rows).toBe(2);
    expect(result.after.find((d) => d.table === 'vendor_cursors')?.rows).toBe(2);
    const store = new PgVendorCursorStore(database);
    expect(await store.committed('platform', 'h1', 'adt', 'billing')).toEqual({ vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: 'billing', cursor: 7, committedAtMs: 1_600 });
    expect((await store.all()).map((c) => [c.consumer, c.cursor])).toEqual([['', 12], ['billing', 9]]);
  });
});
