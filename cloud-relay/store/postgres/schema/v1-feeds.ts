// PostgreSQL schema version 1: feed positions, events, revocations, ledger heads, tree heads, purges.
// Tables and columns are relay.db's (cloud-relay/store/migrations.ts, versions 1, 2, 4, 6, 7)
// with BLOB → BYTEA and INTEGER → BIGINT, so `wardline relay migrate-store` copies each
// table column for column. relay.db's WITHOUT ROWID clustering has no PostgreSQL
// equivalent; the primary keys' B-trees serve the same range scans.
import type { PgMigration } from '../pg-migrations.js';

export const FEEDS_SCHEMA: PgMigration = {
  version: 1,
  description: 'feed positions, events, revocations, ledger heads, tree heads, purges',
  sql: `
    -- One row per (hospital, feed): the durable high-water mark agents resume from.
    -- storeBatch locks this row (SELECT ... FOR UPDATE) to decide a batch, so two
    -- relay processes writing one feed take turns. visible_seq NULL means
    -- high_water_seq itself (relay.db migration 4).
    CREATE TABLE feed_positions (
      hospital       TEXT   NOT NULL,
      feed           TEXT   NOT NULL,
      high_water_seq BIGINT NOT NULL,
      event_count    BIGINT NOT NULL DEFAULT 0,
      updated_at_ms  BIGINT NOT NULL,
      visible_seq    BIGINT,
      PRIMARY KEY (hospital, feed)
    );

    -- Events by (hospital, feed, seq): a vendor read is one index range scan, and the
    -- primary key makes a resent event a no-op (INSERT ... ON CONFLICT DO NOTHING).
    CREATE TABLE feed_events (
      hospital       TEXT   NOT NULL,
      feed           TEXT   NOT NULL,
      seq            BIGINT NOT NULL,
      stream         TEXT   NOT NULL,
      key            TEXT   NOT NULL,
      op             TEXT   NOT NULL CHECK (op IN ('upsert', 'delete')),
      ts_ms          BIGINT NOT NULL,
      source         TEXT   NOT NULL,
      content_type   TEXT   NOT NULL,
      body           BYTEA  NOT NULL,
      headers        TEXT   NOT NULL,
      received_at_ms BIGINT NOT NULL,
      PRIMARY KEY (hospital, feed, seq)
    );

    -- Per (hospital, feed): the newest egress-ledger head an agent sent, kept as
    -- evidence against a local ledger whose tail is later cut off; a revoke leaves it.
    CREATE TABLE agent_ledger_heads (
      hospital         TEXT   NOT NULL,
      feed             TEXT   NOT NULL,
      ledger_index     BIGINT NOT NULL,
      ledger_head      BYTEA  NOT NULL,
      received_at_ms   BIGINT NOT NULL,
      batches          BIGINT NOT NULL DEFAULT 0,
      last_batch_at_ms BIGINT,
      PRIMARY KEY (hospital, feed)
    );

    -- Feeds the hospital revoked: events and position deleted, batches refused,
    -- vendors told so (410), until the agent reinstates them.
    CREATE TABLE feed_revocations (
      hospital       TEXT   NOT NULL,
      feed           TEXT   NOT NULL,
      high_water_seq BIGINT NOT NULL,
      events_deleted BIGINT NOT NULL DEFAULT 0,
      bytes_deleted  BIGINT NOT NULL DEFAULT 0,
      reason         TEXT   NOT NULL,
      revoked_at_ms  BIGINT NOT NULL,
      PRIMARY KEY (hospital, feed)
    );

    -- Signed tree heads of closed windows: the exact text signed and its signature,
    -- served to vendors byte for byte.
    CREATE TABLE feed_tree_heads (
      hospital     TEXT   NOT NULL,
      feed         TEXT   NOT NULL,
      from_seq     BIGINT NOT NULL,
      to_seq       BIGINT NOT NULL,
      tree_size    BIGINT NOT NULL,
      root         BYTEA  NOT NULL,
      signed_at_ms BIGINT NOT NULL,
      signed_text  TEXT   NOT NULL,
      signature    TEXT   NOT NULL,
      PRIMARY KEY (hospital, feed, from_seq)
    );

    -- The signed receipt of every purged feed (no event data), so it can be fetched again.
    CREATE TABLE feed_purges (
      hospital      TEXT   NOT NULL,
      feed          TEXT   NOT NULL,
      purged_at_ms  BIGINT NOT NULL,
      receipt       TEXT   NOT NULL,
      signature     TEXT   NOT NULL,
      PRIMARY KEY (hospital, feed)
    );
  `,
};
