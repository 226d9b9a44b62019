// PostgreSQL schema version 7: the one signing key every relay process on the database signs with.
import type { PgMigration } from '../pg-migrations.js';

export const SIGNING_KEY_SCHEMA: PgMigration = {
  version: 7,
  description: 'the public signing key the relay processes share',
  sql: `
    -- Exports, purge receipts and tree heads are signed by relay-signing.key in each
    -- process's dataDir. Vendors and hospitals verify them against one public key,
    -- so every process must hold the same key: the first process to start keeps its
    -- public key here, and a process holding another refuses to start (PostgreSQL
    -- only; relay.db has one process by construction).
    CREATE TABLE relay_signing_key (
      name        TEXT   NOT NULL PRIMARY KEY,
      public_key  TEXT   NOT NULL,
      set_at_ms   BIGINT NOT NULL
    );
  `,
};
