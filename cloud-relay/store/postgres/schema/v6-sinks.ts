// PostgreSQL schema version 6: sink cursors and publishing leases.
// Mirrors relay.db migration 9 (cloud-relay/store/migrations.ts) column for column.
import type { PgMigration } from '../pg-migrations.js';

export const SINKS_SCHEMA: PgMigration = {
  version: 6,
  description: 'sink cursors and publishing leases',
  sql: `
    CREATE TABLE sink_cursors (
      sink           TEXT   NOT NULL,
      hospital       TEXT   NOT NULL,
      feed           TEXT   NOT NULL,
      published_seq  BIGINT NOT NULL,
      subject_seq    BIGINT NOT NULL,
      updated_at_ms  BIGINT NOT NULL,
      PRIMARY KEY (sink, hospital, feed)
    );
    CREATE TABLE sink_leases (
      sink           TEXT   NOT NULL,
      hospital       TEXT   NOT NULL,
      feed           TEXT   NOT NULL,
      holder         TEXT   NOT NULL,
      expires_at_ms  BIGINT NOT NULL,
      PRIMARY KEY (sink, hospital, feed)
    );
  `,
};
