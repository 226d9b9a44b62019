// PostgreSQL schema version 5: relay processes (heartbeats), stream holders and vendor cursors.
//
// relay_processes and relay_streams exist only on PostgreSQL (one SQLite relay
// is one process); vendor_cursors mirrors relay.db's (migration 10) column for
// column, so `wardline relay migrate-store` copies it without mapping.
import type { PgMigration } from '../pg-migrations.js';

export const PROCESSES_SCHEMA: PgMigration = {
  version: 5,
  description: 'relay processes (heartbeats), stream holders and vendor cursors',
  sql: `
    -- One row per running relay process, written at start and at every heartbeat;
    -- a row whose heartbeat is older than processTimeoutMs is a process gone.
    CREATE TABLE relay_processes (
      process_id        TEXT   NOT NULL PRIMARY KEY,
      relay_id          TEXT   NOT NULL,
      host              TEXT   NOT NULL,
      pid               BIGINT NOT NULL,
      version           TEXT   NOT NULL,
      grpc_listen       TEXT   NOT NULL,
      http_listen       TEXT   NOT NULL,
      started_at_ms     BIGINT NOT NULL,
      heartbeat_at_ms   BIGINT NOT NULL
    );
    -- Which process holds each hospital's Replicate stream now (one agent per
    -- hospital; after a hop two rows may briefly exist, the newer wins on the page).
    CREATE TABLE relay_streams (
      hospital          TEXT   NOT NULL,
      process_id        TEXT   NOT NULL REFERENCES relay_processes (process_id) ON DELETE CASCADE,
      held_since_ms     BIGINT NOT NULL,
      PRIMARY KEY (hospital, process_id)
    );
    -- Where each vendor key has read each feed up to, whichever process served it.
    CREATE TABLE vendor_cursors (
      vendor            TEXT   NOT NULL,
      hospital          TEXT   NOT NULL,
      feed              TEXT   NOT NULL,
      cursor            BIGINT NOT NULL,
      last_read_at_ms   BIGINT NOT NULL,
      api               TEXT   NOT NULL CHECK (api IN ('http', 'grpc')),
      PRIMARY KEY (vendor, hospital, feed)
    );
  `,
};
