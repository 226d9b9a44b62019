// PostgreSQL schema version 2: inbound channels, events and receipts — relay.db's
// migration 8 (cloud-relay/store/migrations.ts) with PostgreSQL's types, the same
// table, column and index names, so `wardline relay migrate-store` copies rows
// as they are. 0/1 flags stay SMALLINT (not BOOLEAN) for the same reason.
import type { PgMigration } from '../pg-migrations.js';

export const INBOUND_SCHEMA: PgMigration = {
  version: 2,
  description: 'inbound channels, events and receipts',
  sql: `
    -- Per (hospital, channel): the agent's latest declaration, whether its latest
    -- Hello still declared it, and the counters that number the channel's events
    -- and receipts. Writers take this row FOR UPDATE before numbering, so two
    -- relay processes never hand out the same channel_seq or receipt_seq.
    CREATE TABLE inbound_channels (
      hospital        TEXT     NOT NULL,
      channel         TEXT     NOT NULL,
      declaration     TEXT     NOT NULL,
      declared        SMALLINT NOT NULL DEFAULT 1 CHECK (declared IN (0, 1)),
      declared_at_ms  BIGINT   NOT NULL,
      event_seq       BIGINT   NOT NULL DEFAULT 0,
      receipt_seq     BIGINT   NOT NULL DEFAULT 0,
      acked_seq       BIGINT   NOT NULL DEFAULT 0,
      acked_at_ms     BIGINT,
      PRIMARY KEY (hospital, channel)
    );

    CREATE TABLE inbound_events (
      hospital         TEXT   NOT NULL,
      channel          TEXT   NOT NULL,
      channel_seq      BIGINT NOT NULL,
      id               TEXT   NOT NULL,
      key              TEXT   NOT NULL,
      vendor           TEXT   NOT NULL,
      idempotency_key  TEXT   NOT NULL,
      content_type     TEXT   NOT NULL,
      body             BYTEA  NOT NULL,
      body_sha256      TEXT   NOT NULL,
      received_at_ms   BIGINT NOT NULL,
      expires_at_ms    BIGINT NOT NULL,
      first_sent_at_ms BIGINT,
      acked_at_ms      BIGINT,
      final_outcome    TEXT CHECK (final_outcome IN ('accepted', 'refused', 'expired')),
      final_at_ms      BIGINT,
      PRIMARY KEY (hospital, channel, channel_seq)
    );
    CREATE UNIQUE INDEX inbound_events_by_id ON inbound_events (hospital, id);
    CREATE UNIQUE INDEX inbound_events_by_idempotency_key ON inbound_events (hospital, channel, vendor, idempotency_key);
    CREATE INDEX inbound_events_unsent ON inbound_events (expires_at_ms) WHERE first_sent_at_ms IS NULL AND final_outcome IS NULL;
    CREATE INDEX inbound_events_waiting ON inbound_events (hospital, channel, channel_seq) WHERE acked_at_ms IS NULL AND final_outcome IS NULL;
    CREATE INDEX inbound_events_final ON inbound_events (final_at_ms) WHERE final_at_ms IS NOT NULL;

    -- The partial unique index allows exactly one final receipt per event, also
    -- when two processes store receipts for it at once.
    CREATE TABLE inbound_receipts (
      hospital       TEXT     NOT NULL,
      channel        TEXT     NOT NULL,
      receipt_seq    BIGINT   NOT NULL,
      id             TEXT     NOT NULL,
      vendor         TEXT     NOT NULL,
      key            TEXT     NOT NULL,
      outcome        TEXT     NOT NULL CHECK (outcome IN ('accepted', 'refused', 'expired', 'quarantined')),
      final          SMALLINT NOT NULL CHECK (final IN (0, 1)),
      code           TEXT     NOT NULL,
      reason         TEXT     NOT NULL,
      reference      TEXT     NOT NULL,
      attempts       BIGINT   NOT NULL,
      decided_at_ms  BIGINT   NOT NULL,
      stored_at_ms   BIGINT   NOT NULL,
      PRIMARY KEY (hospital, channel, receipt_seq),
      CHECK ((final = 1) = (outcome <> 'quarantined'))
    );
    CREATE UNIQUE INDEX inbound_receipts_one_final ON inbound_receipts (hospital, id) WHERE final = 1;
    CREATE UNIQUE INDEX inbound_receipts_once ON inbound_receipts (hospital, id, outcome, attempts);
    CREATE INDEX inbound_receipts_by_vendor ON inbound_receipts (hospital, channel, vendor, receipt_seq);
  `,
};
