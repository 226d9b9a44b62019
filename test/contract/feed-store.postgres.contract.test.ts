// The FeedStore contract against PostgresFeedStore on a database of its own on
// the machine's PostgreSQL (one per test: the suite's cleanup drops it).
import { migratePostgres, PG_MIGRATIONS, PostgresFeedStore, RelayDatabase } from '../../cloud-relay/store/postgres/index.js';
import { createRelayTestDatabase } from '../support/relay-test-database.js';
import { describeFeedStoreContract } from './feed-store.contract.js';

describeFeedStoreContract('PostgresFeedStore', async (hooks) => {
  const db = await createRelayTestDatabase('feed_contract');
  const database = await RelayDatabase.connect({ url: db.url, poolMax: 4, connectTimeoutMs: 5_000, applicationName: 'wardline-test' });
  await migratePostgres(database, PG_MIGRATIONS);
  const open = () => PostgresFeedStore.open({ database, ...hooks });
  let current = await open();
  return {
    store: current,
    reopen: async () => (current = await open()),
    cleanup: async () => {
      await current.close();
      await database.close();
      await db.drop();
    },
  };
});
