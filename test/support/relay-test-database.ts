// A database of the test's own on the machine's shared PostgreSQL server
// (127.0.0.1:5432, trust for postgres): created empty for one test file or run,
// dropped with its connections at the end. The relay's PostgreSQL backend needs
// no server settings the shared server lacks, so no throwaway server is started.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The machine's server, as the tests reach it; WARDLINE_TEST_PG_URL overrides (another server, another user). */
export const TEST_PG_SERVER_URL = process.env.WARDLINE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface RelayTestDatabase {
  /** postgres://…/wardline_test_… */
  url: string;
  name: string;
  /** Drops the database, ending whatever connections are still open on it. Idempotent. */
  drop(): Promise<void>;
}

/** Creates an empty database named wardline_test_<label>_<random>. */
export async function createRelayTestDatabase(label = 'relay'): Promise<RelayTestDatabase> {
  const name = `wardline_test_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_PG_SERVER_URL);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_SERVER_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
