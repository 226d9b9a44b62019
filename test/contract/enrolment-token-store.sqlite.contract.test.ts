// The EnrolmentTokenStore contract against SqliteEnrolmentTokens: relay.db in a temp dir.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteEnrolmentTokens } from '../../cloud-relay/enrolment/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { describeEnrolmentTokenStoreContract } from './enrolment-token-store.contract.js';

describeEnrolmentTokenStoreContract('SqliteEnrolmentTokens', async (now) => {
  const dir = makeTempDir('wardline-enrolment-tokens-contract-');
  const file = join(dir.path, 'relay-data', 'relay.db');
  const store = SqliteEnrolmentTokens.open(file, now);
  return {
    store,
    another: async () => SqliteEnrolmentTokens.open(file, now),
    storedText: async () => {
      const db = new Database(file, { readonly: true });
      try {
        const rows = db.prepare('SELECT * FROM enrolment_tokens').all() as Record<string, unknown>[];
        return JSON.stringify(rows.map((row) => ({ ...row, token_sha256: (row.token_sha256 as Buffer).toString('hex') })));
      } finally {
        db.close();
      }
    },
    cleanup: async () => {
      await store.close();
      dir.remove();
    },
  };
});
