// PostgreSQL schema version 9: named consumers — relay.db's migration 12 column
// for column (vendor_cursors gains the consumer in its key; vendor_consumers
// holds committed cursors), so `wardline relay migrate-store` copies both
// without mapping. Independent of v8 (feed retention).
import type { PgMigration } from '../pg-migrations.js';

export const CONSUMERS_SCHEMA: PgMigration = {
  version: 9,
  description: 'named consumers: last reads per consumer and committed consumer cursors',
  sql: `
    -- Rows kept so far become reads that named no consumer ('').
    ALTER TABLE vendor_cursors ADD COLUMN consumer TEXT NOT NULL DEFAULT '';
    ALTER TABLE vendor_cursors DROP CONSTRAINT vendor_cursors_pkey;
    ALTER TABLE vendor_cursors ADD PRIMARY KEY (vendor, hospital, feed, consumer);
    -- Each named consumer's committed cursor: moved only by a commit.
    CREATE TABLE vendor_consumers (
      vendor            TEXT   NOT NULL,
      hospital          TEXT   NOT NULL,
      feed              TEXT   NOT NULL,
      consumer          TEXT   NOT NULL CHECK (consumer <> ''),
      cursor            BIGINT NOT NULL,
      committed_at_ms   BIGINT NOT NULL,
      PRIMARY KEY (vendor, hospital, feed, consumer)
    );
  `,
};
