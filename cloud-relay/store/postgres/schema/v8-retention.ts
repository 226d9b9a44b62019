// PostgreSQL schema version 8: feed retention, as relay.db's migration 11
// (cloud-relay/store/migrations.ts), column for column.
import type { PgMigration } from '../pg-migrations.js';

export const RETENTION_SCHEMA: PgMigration = {
  version: 8,
  description: 'feed retention: the retention floor, body bytes per feed and events by time',
  sql: `
    -- The seq of the newest event retention removed (0 = none ever): a cursor
    -- below it is refused, and it is the prevSeq of the first event kept. Never
    -- lowered (pg-feed-retention.ts).
    ALTER TABLE feed_positions ADD COLUMN retention_floor_seq BIGINT NOT NULL DEFAULT 0;
    -- The feed's body bytes held, kept beside event_count so a size rule never
    -- sums the bodies of millions of events.
    ALTER TABLE feed_positions ADD COLUMN body_bytes BIGINT NOT NULL DEFAULT 0;
    UPDATE feed_positions p SET body_bytes = coalesce(
      (SELECT sum(octet_length(e.body)) FROM feed_events e WHERE e.hospital = p.hospital AND e.feed = p.feed), 0);
    -- cursorAtTime (a vendor's after_time) seeks the first event at or after an instant.
    CREATE INDEX feed_events_by_time ON feed_events (hospital, feed, ts_ms, seq);
  `,
};
