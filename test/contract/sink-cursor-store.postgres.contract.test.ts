// The SinkCursorStore contract against PostgreSQL (schema v6): one test database
// for the file, its tables emptied before each test; "another process" is a second pool.
import { afterAll, beforeAll } from 'vitest';
import { migratePostgres, PG_MIGRATIONS, PgSinkCursorStore, RelayDatabase } from '../../cloud-relay/store/postgres/index.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';
import { describeSinkCursorStoreContract } from './sink-cursor-store.contract.js';

let testDatabase: RelayTestDatabase;
beforeAll(async () => {
  testDatabase = await createRelayTestDatabase('sink_cursors');
  const database = await connect();
  await migratePostgres(database, PG_MIGRATIONS);
  await database.close();
});
afterAll(async () => {
  await testDatabase?.drop();
});

function connect(): Promise<RelayDatabase> {
  return RelayDatabase.connect({ url: testDatabase.url, poolMax: 4, connectTimeoutMs: 5_000, applicationName: 'wardline-test' });
}

describeSinkCursorStoreContract('PgSinkCursorStore', async () => {
  let clock = 1_700_000_000_000;
  const now = () => clock;
  const databases: RelayDatabase[] = [];
  const make = async () => {
    const database = await connect();
    databases.push(database);
    return PgSinkCursorStore.open({ database, now });
  };
  const first = await connect();
  databases.push(first);
  await first.query('TRUNCATE sink_cursors, sink_leases', []);
  return {
    store: await PgSinkCursorStore.open({ database: first, now }),
    other: make,
    reopen: make,
    advanceClock: (ms) => void (clock += ms),
    cleanup: async () => {
      for (const database of databases) await database.close();
    },
  };
});
