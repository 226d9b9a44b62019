// The relay database's schema, as an ordered list of numbered migrations, applied
// by the runner both programs share (runtime/sqlite-migrations.ts): user_version,
// one transaction per migration, and the refusal of a database written by a
// newer relay.
import type Database from 'better-sqlite3';
import { latestSchemaVersion, migrateSqlite, type MigrationResult, type SqliteMigration } from '../../runtime/index.js';
import { SchemaTooNewError } from '../errors.js';

export const MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    description: 'feed positions and feed events',
    sql: `
      -- One row per (hospital, feed): the durable high-water mark that agents resume from.
      -- event_count is kept here so status pages never count feed_events.
      CREATE TABLE feed_positions (
        hospital       TEXT    NOT NULL,
        feed           TEXT    NOT NULL,
        high_water_seq INTEGER NOT NULL,
        event_count    INTEGER NOT NULL DEFAULT 0,
        updated_at_ms  INTEGER NOT NULL,
        PRIMARY KEY (hospital, feed)
      ) WITHOUT ROWID;

      -- Events clustered by (hospital, feed, seq): a vendor read is one range scan,
      -- and the primary key makes a resent event a no-op (INSERT OR IGNORE).
      CREATE TABLE feed_events (
        hospital       TEXT    NOT NULL,
        feed           TEXT    NOT NULL,
        seq            INTEGER NOT NULL,
        stream         TEXT    NOT NULL,
        key            TEXT    NOT NULL,
        op             TEXT    NOT NULL CHECK (op IN ('upsert', 'delete')),
        ts_ms          INTEGER NOT NULL,
        source         TEXT    NOT NULL,
        content_type   TEXT    NOT NULL,
        body           BLOB    NOT NULL,
        headers        TEXT    NOT NULL,
        received_at_ms INTEGER NOT NULL,
        PRIMARY KEY (hospital, feed, seq)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    description: 'agent ledger heads and feed revocations',
    sql: `
      -- Per (hospital, feed): the newest egress-ledger head an agent sent with a
      -- batch (or revoke), kept as evidence against a local ledger whose tail is
      -- later cut off (ledger_index 0: none yet); and how many batches of the feed
      -- the relay received, and when the last came. Not feed data: a revoke
      -- leaves it in place.
      CREATE TABLE agent_ledger_heads (
        hospital         TEXT    NOT NULL,
        feed             TEXT    NOT NULL,
        ledger_index     INTEGER NOT NULL,
        ledger_head      BLOB    NOT NULL,
        received_at_ms   INTEGER NOT NULL,
        batches          INTEGER NOT NULL DEFAULT 0,
        last_batch_at_ms INTEGER,
        PRIMARY KEY (hospital, feed)
      ) WITHOUT ROWID;

      -- Feeds the hospital revoked: their events and position are deleted, their
      -- batches refused and vendors told so (410), until the agent reinstates them.
      CREATE TABLE feed_revocations (
        hospital       TEXT    NOT NULL,
        feed           TEXT    NOT NULL,
        high_water_seq INTEGER NOT NULL,
        events_deleted INTEGER NOT NULL DEFAULT 0,
        bytes_deleted  INTEGER NOT NULL DEFAULT 0,
        reason         TEXT    NOT NULL,
        revoked_at_ms  INTEGER NOT NULL,
        PRIMARY KEY (hospital, feed)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    description: 'one-time agent enrolment tokens',
    sql: `
      -- Issued by \`wardline relay enrol-token\`; only the SHA-256 of a token is kept.
      -- used_at_ms is set when an agent redeems it: a token signs one certificate, once.
      CREATE TABLE enrolment_tokens (
        token_sha256   BLOB    NOT NULL PRIMARY KEY,
        hospital       TEXT    NOT NULL,
        created_at_ms  INTEGER NOT NULL,
        expires_at_ms  INTEGER NOT NULL,
        used_at_ms     INTEGER
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    description: 'feed positions: the seq vendors may read through',
    sql: `
      -- How far vendors may read a feed: the agent cuts a large source transaction
      -- into several batches, and a transaction is shown only once its last event
      -- is stored (Batch.complete_through_seq, sqlite-feed-store.ts). At most
      -- high_water_seq; NULL (rows written before, and a reinstated feed) means
      -- high_water_seq itself.
      ALTER TABLE feed_positions ADD COLUMN visible_seq INTEGER;
    `,
  },
  {
    version: 5,
    description: 'blob store: instance manifests, chunks, offers and the instances feed events name',
    sql: `
      -- An imaging instance offered by a hospital's agent (sqlite-blob-store.ts), by its
      -- whole SHA-256 (hex). complete = 1 once every chunk is held and the whole hash matched.
      CREATE TABLE blob_instances (
        hospital       TEXT    NOT NULL,
        sha256         TEXT    NOT NULL,
        size           INTEGER NOT NULL,
        chunk_count    INTEGER NOT NULL,
        complete       INTEGER NOT NULL DEFAULT 0,
        created_at_ms  INTEGER NOT NULL,
        PRIMARY KEY (hospital, sha256)
      ) WITHOUT ROWID;

      -- The instance's chunks in order; the index on chunk_sha256 answers "which
      -- instances does this chunk complete" and "does anything still need it".
      CREATE TABLE blob_instance_chunks (
        hospital        TEXT    NOT NULL,
        instance_sha256 TEXT    NOT NULL,
        idx             INTEGER NOT NULL,
        chunk_sha256    TEXT    NOT NULL,
        size            INTEGER NOT NULL,
        PRIMARY KEY (hospital, instance_sha256, idx)
      ) WITHOUT ROWID;
      CREATE INDEX blob_instance_chunks_by_chunk ON blob_instance_chunks (hospital, chunk_sha256);

      -- Chunks held: verified, fsynced and renamed into <dataDir>/blobs/<hospital>/ab/<sha>.
      CREATE TABLE blob_chunks (
        hospital      TEXT    NOT NULL,
        sha256        TEXT    NOT NULL,
        size          INTEGER NOT NULL,
        stored_at_ms  INTEGER NOT NULL,
        PRIMARY KEY (hospital, sha256)
      ) WITHOUT ROWID;

      -- Which feed offered which instance: an offer keeps its chunks from deletion
      -- (a transfer in progress) until that feed is revoked.
      CREATE TABLE blob_offers (
        hospital        TEXT    NOT NULL,
        feed            TEXT    NOT NULL,
        instance_sha256 TEXT    NOT NULL,
        offered_at_ms   INTEGER NOT NULL,
        PRIMARY KEY (hospital, feed, instance_sha256)
      ) WITHOUT ROWID;

      -- Per (hospital, feed, seq): the instance a stored blob-ref event names, with
      -- the UIDs the vendor study routes look it up by.
      CREATE TABLE blob_refs (
        hospital         TEXT    NOT NULL,
        feed             TEXT    NOT NULL,
        seq              INTEGER NOT NULL,
        instance_sha256  TEXT    NOT NULL,
        study_uid        TEXT    NOT NULL,
        series_uid       TEXT    NOT NULL,
        sop_instance_uid TEXT    NOT NULL,
        sop_class_uid    TEXT    NOT NULL,
        PRIMARY KEY (hospital, feed, seq)
      ) WITHOUT ROWID;
      CREATE INDEX blob_refs_by_study ON blob_refs (hospital, feed, study_uid);
      CREATE INDEX blob_refs_by_instance ON blob_refs (hospital, instance_sha256);

      -- Per (hospital, feed): bytes of instances offered for the first time in the
      -- feed, and of those the chunks already held (what deduplication saved).
      CREATE TABLE blob_feed_stats (
        hospital       TEXT    NOT NULL,
        feed           TEXT    NOT NULL,
        offered_bytes  INTEGER NOT NULL DEFAULT 0,
        deduped_bytes  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (hospital, feed)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 6,
    description: 'signed tree heads of verified feed windows (completeness proofs)',
    sql: `
      -- One row per closed window the agent and the relay agreed on: the fields of
      -- protocol/tree-head.ts, the exact text signed and its minisign signature, so
      -- vendors are served what was signed, byte for byte.
      CREATE TABLE feed_tree_heads (
        hospital     TEXT    NOT NULL,
        feed         TEXT    NOT NULL,
        from_seq     INTEGER NOT NULL,
        to_seq       INTEGER NOT NULL,
        tree_size    INTEGER NOT NULL,
        root         BLOB    NOT NULL,
        signed_at_ms INTEGER NOT NULL,
        signed_text  TEXT    NOT NULL,
        signature    TEXT    NOT NULL,
        PRIMARY KEY (hospital, feed, from_seq)
      ) WITHOUT ROWID;
    `,
  },
  // --- Purge (cloud-relay/exit/feed-purge.ts) ---
  {
    version: 7,
    description: 'feed purges: the signed receipt of every purged feed',
    sql: `
      -- A feed purged at the hospital's request or at contract end: its events,
      -- position, tree heads and blob references are gone and its revocation
      -- stays (its batches are refused as a revoked feed's); this row keeps the
      -- receipt (canonical JSON, no event data) and its minisign signature, so
      -- the receipt can be fetched again. A hospital purge keeps one receipt in
      -- the row of each of its feeds.
      CREATE TABLE feed_purges (
        hospital      TEXT    NOT NULL,
        feed          TEXT    NOT NULL,
        purged_at_ms  INTEGER NOT NULL,
        receipt       TEXT    NOT NULL,
        signature     TEXT    NOT NULL,
        PRIMARY KEY (hospital, feed)
      ) WITHOUT ROWID;
    `,
  },
  // --- Inbound (cloud-relay/inbound/sqlite-inbound-store.ts) ---
  {
    version: 8,
    description: 'inbound channels, events vendors wrote to hospitals, and their receipts',
    sql: `
      -- Per (hospital, channel): the agent's latest declaration (JSON of
      -- protocol/inbound.ts InboundChannelDeclaration), whether its latest Hello
      -- still declared it, and the counters that number the channel's events and
      -- receipts (kept here, not as MAX(seq), so deleting old finals never
      -- reuses a number), with the agent's cumulative ack mark.
      CREATE TABLE inbound_channels (
        hospital        TEXT    NOT NULL,
        channel         TEXT    NOT NULL,
        declaration     TEXT    NOT NULL,
        declared        INTEGER NOT NULL DEFAULT 1 CHECK (declared IN (0, 1)),
        declared_at_ms  INTEGER NOT NULL,
        event_seq       INTEGER NOT NULL DEFAULT 0,
        receipt_seq     INTEGER NOT NULL DEFAULT 0,
        acked_seq       INTEGER NOT NULL DEFAULT 0,
        acked_at_ms     INTEGER,
        PRIMARY KEY (hospital, channel)
      ) WITHOUT ROWID;

      -- One row per event a vendor wrote, clustered by (hospital, channel,
      -- channel_seq): sending is one range scan in order. The id is unique per
      -- hospital, and (hospital, channel, vendor, idempotency_key) makes a
      -- vendor's retry find its first write. final_outcome / final_at_ms are set
      -- in the transaction that stores the event's one final receipt.
      CREATE TABLE inbound_events (
        hospital         TEXT    NOT NULL,
        channel          TEXT    NOT NULL,
        channel_seq      INTEGER NOT NULL,
        id               TEXT    NOT NULL,
        key              TEXT    NOT NULL,
        vendor           TEXT    NOT NULL,
        idempotency_key  TEXT    NOT NULL,
        content_type     TEXT    NOT NULL,
        body             BLOB    NOT NULL,
        body_sha256      TEXT    NOT NULL,
        received_at_ms   INTEGER NOT NULL,
        expires_at_ms    INTEGER NOT NULL,
        first_sent_at_ms INTEGER,
        acked_at_ms      INTEGER,
        final_outcome    TEXT CHECK (final_outcome IN ('accepted', 'refused', 'expired')),
        final_at_ms      INTEGER,
        PRIMARY KEY (hospital, channel, channel_seq)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX inbound_events_by_id ON inbound_events (hospital, id);
      CREATE UNIQUE INDEX inbound_events_by_idempotency_key ON inbound_events (hospital, channel, vendor, idempotency_key);
      -- The expiry sweep's candidates: never sent, not ended.
      CREATE INDEX inbound_events_unsent ON inbound_events (expires_at_ms) WHERE first_sent_at_ms IS NULL AND final_outcome IS NULL;
      -- What waits for the agent (the backlog): not acked, not ended.
      CREATE INDEX inbound_events_waiting ON inbound_events (hospital, channel, channel_seq) WHERE acked_at_ms IS NULL AND final_outcome IS NULL;
      -- The retention sweep's candidates: ended events by when they ended.
      CREATE INDEX inbound_events_final ON inbound_events (final_at_ms) WHERE final_at_ms IS NOT NULL;

      -- Receipts, numbered per (hospital, channel) for the vendors' receipts feed;
      -- vendor and key are copied from the event so that feed is one index range.
      -- (hospital, id, outcome, attempts) makes a resent receipt a duplicate, and
      -- the partial unique index allows exactly one final receipt per event.
      CREATE TABLE inbound_receipts (
        hospital       TEXT    NOT NULL,
        channel        TEXT    NOT NULL,
        receipt_seq    INTEGER NOT NULL,
        id             TEXT    NOT NULL,
        vendor         TEXT    NOT NULL,
        key            TEXT    NOT NULL,
        outcome        TEXT    NOT NULL CHECK (outcome IN ('accepted', 'refused', 'expired', 'quarantined')),
        final          INTEGER NOT NULL CHECK (final IN (0, 1)),
        code           TEXT    NOT NULL,
        reason         TEXT    NOT NULL,
        reference      TEXT    NOT NULL,
        attempts       INTEGER NOT NULL,
        decided_at_ms  INTEGER NOT NULL,
        stored_at_ms   INTEGER NOT NULL,
        PRIMARY KEY (hospital, channel, receipt_seq),
        CHECK (final = (outcome <> 'quarantined'))
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX inbound_receipts_one_final ON inbound_receipts (hospital, id) WHERE final = 1;
      CREATE UNIQUE INDEX inbound_receipts_once ON inbound_receipts (hospital, id, outcome, attempts);
      CREATE INDEX inbound_receipts_by_vendor ON inbound_receipts (hospital, channel, vendor, receipt_seq);
    `,
  },
  {
    version: 9,
    description: 'sink cursors and publishing leases (cloud-relay/sinks)',
    // A sink's cursor per feed: the last seq it published and the stream
    // sequence that message got on its subject (the next publish expects it).
    // The lease says which relay process publishes the feed until when.
    sql: `
      CREATE TABLE sink_cursors (
        sink           TEXT    NOT NULL,
        hospital       TEXT    NOT NULL,
        feed           TEXT    NOT NULL,
        published_seq  INTEGER NOT NULL,
        subject_seq    INTEGER NOT NULL,
        updated_at_ms  INTEGER NOT NULL,
        PRIMARY KEY (sink, hospital, feed)
      ) WITHOUT ROWID;
      CREATE TABLE sink_leases (
        sink           TEXT    NOT NULL,
        hospital       TEXT    NOT NULL,
        feed           TEXT    NOT NULL,
        holder         TEXT    NOT NULL,
        expires_at_ms  INTEGER NOT NULL,
        PRIMARY KEY (sink, hospital, feed)
      ) WITHOUT ROWID;
    `,
  },
  // --- Vendor cursors (cloud-relay/store/sqlite-vendor-cursor-store.ts) ---
  {
    version: 10,
    description: 'vendor cursors: where each vendor key has read each feed up to',
    sql: `
      -- The most recent read per (vendor key, hospital, feed), kept across restarts
      -- for the status page and the agent's vendor-progress view.
      CREATE TABLE vendor_cursors (
        vendor           TEXT    NOT NULL,
        hospital         TEXT    NOT NULL,
        feed             TEXT    NOT NULL,
        cursor           INTEGER NOT NULL,
        last_read_at_ms  INTEGER NOT NULL,
        api              TEXT    NOT NULL CHECK (api IN ('http', 'grpc')),
        PRIMARY KEY (vendor, hospital, feed)
      ) WITHOUT ROWID;
    `,
  },
  // --- Retention (cloud-relay/store/feed-retention.ts) ---
  {
    version: 11,
    description: 'feed retention: the retention floor, body bytes per feed and events by time',
    sql: `
      -- The seq of the newest event retention removed (0 = none ever): a cursor
      -- below it is refused, and it is the prevSeq of the first event kept.
      -- Never lowered (feed-retention.ts).
      ALTER TABLE feed_positions ADD COLUMN retention_floor_seq INTEGER NOT NULL DEFAULT 0;
      -- The feed's body bytes held, kept beside event_count so a size rule never
      -- sums the bodies of millions of events.
      ALTER TABLE feed_positions ADD COLUMN body_bytes INTEGER NOT NULL DEFAULT 0;
      UPDATE feed_positions SET body_bytes = coalesce(
        (SELECT sum(length(e.body)) FROM feed_events e WHERE e.hospital = feed_positions.hospital AND e.feed = feed_positions.feed), 0);
      -- cursorAtTime (a vendor's after_time) seeks the first event at or after an
      -- instant; the primary key's seq rides in every entry of this index.
      CREATE INDEX feed_events_by_time ON feed_events (hospital, feed, ts_ms);
    `,
  },
  // --- Named consumers (cloud-relay/store/sqlite-vendor-cursor-store.ts) ---
  {
    version: 12,
    description: 'named consumers: last reads per consumer and committed consumer cursors',
    sql: `
      -- A WITHOUT ROWID table's primary key cannot change in place: rebuild
      -- vendor_cursors with the consumer in it, the old rows becoming reads that
      -- named no consumer ('').
      CREATE TABLE vendor_cursors_v12 (
        vendor           TEXT    NOT NULL,
        hospital         TEXT    NOT NULL,
        feed             TEXT    NOT NULL,
        consumer         TEXT    NOT NULL DEFAULT '',
        cursor           INTEGER NOT NULL,
        last_read_at_ms  INTEGER NOT NULL,
        api              TEXT    NOT NULL CHECK (api IN ('http', 'grpc')),
        PRIMARY KEY (vendor, hospital, feed, consumer)
      ) WITHOUT ROWID;
      INSERT INTO vendor_cursors_v12 (vendor, hospital, feed, consumer, cursor, last_read_at_ms, api)
        SELECT vendor, hospital, feed, '', cursor, last_read_at_ms, api FROM vendor_cursors;
      DROP TABLE vendor_cursors;
      ALTER TABLE vendor_cursors_v12 RENAME TO vendor_cursors;

      -- Each named consumer's committed cursor: moved only by a commit (Feeds.Commit,
      -- PUT /v1/feeds/{feed}/consumers/{name}), where a read naming it and no cursor starts.
      CREATE TABLE vendor_consumers (
        vendor           TEXT    NOT NULL,
        hospital         TEXT    NOT NULL,
        feed             TEXT    NOT NULL,
        consumer         TEXT    NOT NULL CHECK (consumer <> ''),
        cursor           INTEGER NOT NULL,
        committed_at_ms  INTEGER NOT NULL,
        PRIMARY KEY (vendor, hospital, feed, consumer)
      ) WITHOUT ROWID;
    `,
  },
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = latestSchemaVersion(MIGRATIONS);

/** Applies every migration newer than the database's user_version; returns the versions before and after. */
export function migrate(db: Database.Database, file: string): MigrationResult {
  return migrateSqlite(db, { file, migrations: MIGRATIONS, tooNew: (found) => new SchemaTooNewError(found.file, found.found, found.supported) });
}
