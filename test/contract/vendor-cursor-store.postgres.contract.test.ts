// The VendorCursorStore contract against PostgreSQL (schemas v5 and v9), one database per test.
import { migratePostgres, PG_MIGRATIONS, PgVendorCursorStore, RelayDatabase } from '../../cloud-relay/store/postgres/index.js';
import { createRelayTestDatabase } from '../support/relay-test-database.js';
import { describeVendorCursorStoreContract } from './vendor-cursor-store.contract.js';

describeVendorCursorStoreContract('PgVendorCursorStore', async () => {
  const db = await createRelayTestDatabase('vendor_cursors');
  let database = await RelayDatabase.connect({ url: db.url, poolMax: 2, connectTimeoutMs: 5_000, applicationName: 'wardline-test' });
  await migratePostgres(database, PG_MIGRATIONS);
  return {
    store: new PgVendorCursorStore(database),
    reopen: async () => {
      await database.close();
      database = await RelayDatabase.connect({ url: db.url, poolMax: 2, connectTimeoutMs: 5_000, applicationName: 'wardline-test' });
      return new PgVendorCursorStore(database);
    },
    cleanup: async () => {
      await database.close();
      await db.drop();
    },
  };
});
