// PostgreSQL schema version 4: one-time agent enrolment tokens — relay.db's
// migration 3 (cloud-relay/store/migrations.ts) with PostgreSQL's types.
import type { PgMigration } from '../pg-migrations.js';

export const ENROLMENT_SCHEMA: PgMigration = {
  version: 4,
  description: 'one-time agent enrolment tokens',
  sql: `
    -- Only the SHA-256 of a token is kept. used_at_ms is set by one conditional
    -- UPDATE (… WHERE used_at_ms IS NULL): a token signs one certificate, once,
    -- whichever relay process the agent reached.
    CREATE TABLE enrolment_tokens (
      token_sha256   BYTEA  NOT NULL PRIMARY KEY,
      hospital       TEXT   NOT NULL,
      created_at_ms  BIGINT NOT NULL,
      expires_at_ms  BIGINT NOT NULL,
      used_at_ms     BIGINT
    );
  `,
};
