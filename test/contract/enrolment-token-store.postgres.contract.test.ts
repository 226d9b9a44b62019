// The EnrolmentTokenStore contract against PostgresEnrolmentTokens, on a database of
// its own on the machine's PostgreSQL; "another" store is a second relay process's
// (its own pool on the same database).
import { PostgresEnrolmentTokens } from '../../cloud-relay/enrolment/index.js';
import { migratePostgres, PG_MIGRATIONS, RelayDatabase } from '../../cloud-relay/store/postgres/index.js';
import { createRelayTestDatabase } from '../support/relay-test-database.js';
import { describeEnrolmentTokenStoreContract } from './enrolment-token-store.contract.js';

describeEnrolmentTokenStoreContract('PostgresEnrolmentTokens', async (now) => {
  const db = await createRelayTestDatabase('enrolment');
  const connect = () => RelayDatabase.connect({ url: db.url, poolMax: 4, connectTimeoutMs: 5_000, applicationName: 'wardline-test' });
  const databases = [await connect()];
  await migratePostgres(databases[0]!, PG_MIGRATIONS);
  const store = await PostgresEnrolmentTokens.open({ database: databases[0]!, now });
  return {
    store,
    another: async () => {
      const database = await connect();
      databases.push(database);
      return PostgresEnrolmentTokens.open({ database, now });
    },
    storedText: async () => {
      const rows = (await databases[0]!.query<Record<string, unknown>>('SELECT * FROM enrolment_tokens')).rows;
      return JSON.stringify(rows.map((row) => ({ ...row, token_sha256: (row.token_sha256 as Buffer).toString('hex') })));
    },
    cleanup: async () => {
      await store.close();
      await Promise.all(databases.map((d) => d.close()));
      await db.drop();
    },
  };
});
