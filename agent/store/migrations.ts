// The agent database's schema, as an ordered list of numbered migrations, applied
// by the runner both programs share (runtime/sqlite-migrations.ts): migration N
// takes user_version from N-1 to N, in one transaction; a database written by a
// newer agent is refused. Never edit a migration that has shipped: append a new one.
import type Database from 'better-sqlite3';
import { latestSchemaVersion, migrateSqlite, type MigrationResult, type SqliteMigration } from '../../runtime/index.js';
import { SchemaTooNewError } from './errors.js';

export const AGENT_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    description: 'journal, local copy, source positions, dedupe keys, feed acks',
    sql: `
  -- The append-only journal. AUTOINCREMENT so a seq is never reused, even after
  -- the newest rows are trimmed.
  CREATE TABLE journal (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    stream       TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    op           TEXT    NOT NULL CHECK (op IN ('upsert', 'delete')),
    ts_ms        INTEGER NOT NULL,
    source       TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    body         BLOB    NOT NULL,
    headers      TEXT    NOT NULL
  );

  -- The local copy: the current state of every (stream, key).
  CREATE TABLE records (
    stream       TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    ts_ms        INTEGER NOT NULL,
    source       TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    body         BLOB    NOT NULL,
    headers      TEXT    NOT NULL,
    PRIMARY KEY (stream, key)
  ) WITHOUT ROWID;

  -- Where each source has got to (CDC offset, file position).
  CREATE TABLE source_positions (
    source        TEXT PRIMARY KEY,
    position      TEXT    NOT NULL,
    updated_at_ms INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- Retransmission keys (HL7: sending app/facility + MSH-10) and the seqs they produced.
  CREATE TABLE dedupe_keys (
    scope          TEXT    NOT NULL,
    id             TEXT    NOT NULL,
    first_seq      INTEGER NOT NULL,
    event_count    INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, id)
  ) WITHOUT ROWID;

  -- The relay's acknowledged high-water mark per feed, as last reported. The relay
  -- stays the authority (the agent resumes from its Welcome); this copy serves
  -- status pages and, later, journal trimming.
  CREATE TABLE feed_acks (
    feed          TEXT PRIMARY KEY,
    relay         TEXT    NOT NULL,
    acked_seq     INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  },
  {
    version: 2,
    description: 'dedupe keys by age',
    sql: `
  -- The journal trimmer deletes dedupe keys by age, in chunks; without this index
  -- every chunk would scan all of them.
  CREATE INDEX dedupe_keys_by_age ON dedupe_keys (received_at_ms);
  `,
  },
  {
    version: 3,
    description: 'egress ledger and feed controls',
    sql: `
  -- The egress ledger (agent/audit/egress-ledger.ts): append-only, hash-chained,
  -- never trimmed. idx is the record's index, from 1 with no gaps; details is
  -- the canonical JSON of the record's details; hashes are 32-byte SHA-256.
  CREATE TABLE egress_ledger (
    idx       INTEGER PRIMARY KEY,
    at_ms     INTEGER NOT NULL,
    type      TEXT    NOT NULL,
    feed      TEXT,
    details   TEXT    NOT NULL,
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL
  );
  -- Administrative records (everything but batches) for status pages, without
  -- scanning past millions of batch records.
  CREATE INDEX egress_ledger_actions ON egress_ledger (idx) WHERE type <> 'batch';

  -- Per feed: the operator's control state (active, paused, revoking, revoked,
  -- reinstating) and the policy last recorded in the ledger. Written in the same
  -- transaction as the ledger record that changes it (agent/control/feed-control-store.ts).
  CREATE TABLE feed_controls (
    feed           TEXT PRIMARY KEY,
    state          TEXT    NOT NULL DEFAULT 'active',
    reason         TEXT,
    policy_version INTEGER,
    policy_digest  TEXT,
    updated_at_ms  INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  },
  {
    version: 4,
    description: 'alerts and link history',
    sql: `
  -- Alerts (agent/operations/alerts/alert-store.ts): one row per change of a watched
  -- condition's level (0 fine, 1 raised, 2 critical). The newest row per
  -- (rule, subject) tells a restarted agent what is still firing.
  CREATE TABLE alerts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms          INTEGER NOT NULL,
    rule           TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    level          INTEGER NOT NULL,
    previous_level INTEGER NOT NULL,
    severity       TEXT    NOT NULL,
    message        TEXT    NOT NULL,
    value          REAL,
    threshold      REAL,
    details        TEXT    NOT NULL
  );
  CREATE INDEX alerts_by_time ON alerts (at_ms);
  CREATE INDEX alerts_by_condition ON alerts (rule, subject, id);

  -- Replication link state changes (agent/operations/dashboard/link-history.ts), for the
  -- dashboard's 24-hour timeline across restarts; rows older than that are pruned.
  CREATE TABLE link_history (
    relay  TEXT    NOT NULL,
    at_ms  INTEGER NOT NULL,
    state  TEXT    NOT NULL,
    reason TEXT    NOT NULL
  );
  CREATE INDEX link_history_by_time ON link_history (relay, at_ms);
  `,
  },
  {
    version: 5,
    description: 'local copy points at the journal; journal trim floor',
    sql: `
  -- The local copy stops keeping a second copy of every body: a record now points
  -- at the journal row of its current version (seq), and the trimmer keeps the
  -- journal rows that are some record's current version. Each event is written
  -- once instead of twice, and a body over ~1 KB no longer spills into overflow
  -- pages of a WITHOUT ROWID table. The version columns stay, nullable, for
  -- records written before this migration: their journal row may be gone.
  CREATE TABLE records_by_seq (
    stream       TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    ts_ms        INTEGER,
    source       TEXT,
    content_type TEXT,
    body         BLOB,
    headers      TEXT,
    PRIMARY KEY (stream, key)
  ) WITHOUT ROWID;
  INSERT INTO records_by_seq SELECT stream, key, seq, ts_ms, source, content_type, body, headers FROM records;
  DROP TABLE records;
  ALTER TABLE records_by_seq RENAME TO records;

  -- Journal positions up to trimmed_through have been trimmed (except the rows
  -- kept as current versions of records), so the journal is no longer one
  -- contiguous range and MIN(seq) no longer says what a feed can still be sent.
  CREATE TABLE journal_trim_floor (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    trimmed_through INTEGER NOT NULL
  );
  INSERT INTO journal_trim_floor VALUES (1, COALESCE(
    (SELECT MIN(seq) - 1 FROM journal),
    (SELECT seq FROM sqlite_sequence WHERE name = 'journal'),
    0));
  `,
  },
  {
    version: 6,
    description: 'journal by stream',
    sql: `
  -- A feed's events in a journal range, found without visiting the other streams'
  -- rows: backlog counts (agent/store/backlog-counter.ts) cost what the feed
  -- holds, not what the whole journal holds. Measured: counting one stream's
  -- 3,519 events in a 200,000-row range took 65 ms by rowid, 0.4 ms by this
  -- index, which costs ingest under 5%.
  CREATE INDEX journal_by_stream ON journal (stream, seq);
  `,
  },
  {
    version: 7,
    description: 'superseded journal rows below the trim floor',
    sql: `
  -- A row the trim floor went past while it was a record's current version is kept;
  -- once that record is updated or deleted, nothing points at it any more, but the
  -- trimmer never looks below its floor again. These triggers note such a row in
  -- journal_superseded, in the same transaction as the change that superseded it,
  -- and the trimmer deletes what is listed there (journal-trimmer.ts). Rows above the
  -- floor need no note: the trimmer's ordinary walk finds them unreferenced.
  CREATE TABLE journal_superseded (seq INTEGER PRIMARY KEY);
  CREATE TRIGGER records_version_superseded AFTER UPDATE OF seq ON records
    WHEN old.seq <> new.seq AND old.seq <= (SELECT trimmed_through FROM journal_trim_floor)
    BEGIN INSERT OR IGNORE INTO journal_superseded (seq) VALUES (old.seq); END;
  CREATE TRIGGER records_version_deleted AFTER DELETE ON records
    WHEN old.seq <= (SELECT trimmed_through FROM journal_trim_floor)
    BEGIN INSERT OR IGNORE INTO journal_superseded (seq) VALUES (old.seq); END;
  -- Rows leaked before this migration: below the floor and no record's current version.
  INSERT OR IGNORE INTO journal_superseded (seq)
    SELECT j.seq FROM journal j WHERE j.seq <= (SELECT trimmed_through FROM journal_trim_floor)
      AND NOT EXISTS (SELECT 1 FROM records r WHERE r.stream = j.stream AND r.key = j.key AND r.seq = j.seq);
  -- Rows still held at or below the floor (current versions, and superseded ones the
  -- next pass deletes), kept by the trimmer so status need not count them.
  ALTER TABLE journal_trim_floor ADD COLUMN kept_rows INTEGER NOT NULL DEFAULT 0;
  UPDATE journal_trim_floor SET kept_rows = (SELECT COUNT(*) FROM journal WHERE seq <= trimmed_through);
  `,
  },
  {
    version: 8,
    description: 'dedupe keys with content digests',
    sql: `
  -- A retransmission is the same message, not merely the same id: dedupe keys
  -- gain the digest of the content (HL7: SHA-256 of the message without MSH-7,
  -- agent/hl7/hl7-content-digest.ts), and one id may now hold several
  -- digests (a spoofed message that took a sender's next control id, or a
  -- sender whose counter reset). Rows written before this migration have no
  -- digest (''): they keep matching on the id alone until they age out of the
  -- dedupe retention, so no retransmission is journaled twice across the
  -- upgrade. The primary key changes, so the table is rebuilt.
  CREATE TABLE dedupe_keys_by_digest (
    scope          TEXT    NOT NULL,
    id             TEXT    NOT NULL,
    digest         TEXT    NOT NULL,
    first_seq      INTEGER NOT NULL,
    event_count    INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL,
    PRIMARY KEY (scope, id, digest)
  ) WITHOUT ROWID;
  INSERT INTO dedupe_keys_by_digest SELECT scope, id, '', first_seq, event_count, received_at_ms FROM dedupe_keys;
  DROP TABLE dedupe_keys;
  ALTER TABLE dedupe_keys_by_digest RENAME TO dedupe_keys;
  CREATE INDEX dedupe_keys_by_age ON dedupe_keys (received_at_ms);
  `,
  },
  {
    version: 9,
    description: 'message browser: control id and key lookups, feed ack history, rejected messages',
    sql: `
  -- The message browser finds a message by its MSH-10 or its key without scanning
  -- the journal. The control id index is partial (HL7 rows only) on the header
  -- the MLLP source writes; both are trimmed with their rows. Measured: 20,000
  -- 800-byte HL7 appends in groups of 100 took 1.43 s with both, 1.22 s without
  -- (median of 5 interleaved rounds on a shared 2-core machine, noisy): about 15%
  -- more per append, the price of answering "where is control id X" at once.
  CREATE INDEX journal_by_control_id ON journal (json_extract(headers, '$.controlId')) WHERE content_type = 'hl7v2';
  CREATE INDEX journal_by_key ON journal (key, seq);

  -- When each feed's relay acknowledged what (feed-acks.ts): one row each time the
  -- agent saves a feed's acked seq (at most every replication.ackPersistIntervalMs),
  -- so "acked at" for a seq is bounded by that interval. Trimmed below the journal's floor.
  CREATE TABLE feed_ack_history (
    feed      TEXT    NOT NULL,
    acked_seq INTEGER NOT NULL,
    at_ms     INTEGER NOT NULL,
    PRIMARY KEY (feed, acked_seq)
  ) WITHOUT ROWID;

  -- Messages a source answered AE or AR, with why (rejection-log.ts); bounded by age and count.
  CREATE TABLE rejected_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms      INTEGER NOT NULL,
    source     TEXT    NOT NULL,
    peer       TEXT,
    control_id TEXT,
    ack_code   TEXT    NOT NULL,
    reason     TEXT    NOT NULL
  );
  CREATE INDEX rejected_messages_by_time ON rejected_messages (at_ms);
  `,
  },
  {
    version: 10,
    description: 'staged appends: database transactions too large to hold in memory',
    sql: `
  -- A source transaction too large to hold in memory (a 1,000,000-row UPDATE) is
  -- written here in chunks as it streams in, then moved into the journal in one
  -- transaction at its commit (staged-append.ts), so no feed ever sees part of it.
  -- Rows left by a crash are deleted at open: the source resumes from its saved
  -- position, before that transaction, and receives it again whole.
  -- A rowid table (rows are event-sized, too big for WITHOUT ROWID to pay); rowid
  -- order is arrival order, and the table only ever holds the stages in flight.
  CREATE TABLE staged_events (
    ord          INTEGER PRIMARY KEY,
    stage_id     INTEGER NOT NULL,
    stream       TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    op           TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    body         BLOB    NOT NULL,
    headers      TEXT    NOT NULL
  );
  `,
  },
  {
    version: 11,
    description: 'journal transactions: the seq range of every append of more than one event',
    sql: `
  -- One row per append of more than one event (a source transaction, journal.ts and
  -- staged-append.ts), so a feed pump that cuts a batch inside one can tell the
  -- relay how far the batch is complete (Batch.complete_through_seq) and vendors
  -- never see part of a transaction. Seqs of one append are consecutive and
  -- appends never interleave, so ranges do not overlap: the range holding a seq is
  -- the one with the greatest first_seq at or below it, found on the primary key
  -- alone. Trimmed with the journal (journal-trimmer.ts).
  CREATE TABLE journal_transactions (
    first_seq INTEGER PRIMARY KEY,
    last_seq  INTEGER NOT NULL
  );
  `,
  },
  {
    version: 12,
    description: 'imaging instance index',
    sql: `
  -- One row per archived DICOM instance (agent/imaging/study-index.ts), kept by a
  -- follower of the journal's blob-ref events, so the study view is a handful of
  -- index reads at 100,000 instances instead of a scan of every body. body is the
  -- event's JSON (the manifest and the UIDs). A row retention removed from the
  -- archive stays as a tombstone (removed_at_ms), so a rebuild from the local
  -- copy does not bring it back; a newer event for the same key clears it.
  CREATE TABLE imaging_instances (
    stream           TEXT    NOT NULL,
    sop_instance_uid TEXT    NOT NULL,
    study_uid        TEXT    NOT NULL,
    series_uid       TEXT    NOT NULL,
    seq              INTEGER NOT NULL,
    received_at_ms   INTEGER NOT NULL,
    sha256           TEXT    NOT NULL,
    size             INTEGER NOT NULL,
    body             TEXT    NOT NULL,
    removed_at_ms    INTEGER,
    PRIMARY KEY (stream, sop_instance_uid)
  );
  CREATE INDEX imaging_instances_by_study ON imaging_instances (study_uid, series_uid, sop_instance_uid);
  CREATE INDEX imaging_instances_by_age ON imaging_instances (received_at_ms, seq) WHERE removed_at_ms IS NULL;
  CREATE INDEX imaging_instances_by_sha ON imaging_instances (sha256);
  -- How far the follower has read the journal.
  CREATE TABLE imaging_index_cursor (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    after_seq INTEGER NOT NULL
  );
  INSERT INTO imaging_index_cursor VALUES (1, 0);
  `,
  },
  {
    version: 13,
    description: 'completeness proofs: leaves as sent, windows, integrity incidents',
    sql: `
  -- Per feed, one leaf per event sent: the SHA-256 of its body exactly as it left
  -- (after the feed's policy; an encrypted field's random IV makes a resend differ,
  -- so a resend replaces the leaf). agent/proofs/feed-proof-store.ts.
  CREATE TABLE feed_leaves (
    feed        TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    body_sha256 BLOB    NOT NULL,
    PRIMARY KEY (feed, seq)
  ) WITHOUT ROWID;
  -- Closed windows of a feed: the agent's own count and root, and whether the
  -- relay's last comparison agreed (verified) or found an incident.
  CREATE TABLE feed_proof_windows (
    feed          TEXT    NOT NULL,
    from_seq      INTEGER NOT NULL,
    to_seq        INTEGER NOT NULL,
    leaf_count    INTEGER NOT NULL,
    root          BLOB    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('verified', 'incident')),
    checked_at_ms INTEGER NOT NULL,
    signed_text   TEXT,
    signature     TEXT,
    PRIMARY KEY (feed, from_seq)
  ) WITHOUT ROWID;
  -- The window a feed is filling: its first seq and when it was opened.
  CREATE TABLE feed_proof_open_windows (
    feed              TEXT    PRIMARY KEY,
    from_seq          INTEGER NOT NULL,
    opened_at_ms      INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- What a proof found the relay holding differently from what was sent; never overwritten.
  CREATE TABLE feed_integrity_incidents (
    feed         TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    agent_sha256 TEXT,
    relay_sha256 TEXT,
    found_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (feed, seq, kind)
  ) WITHOUT ROWID;
  `,
  },
  {
    version: 14,
    description: 'backup feed: source positions with the seq they cover, dedupe keys by first seq',
    sql: `
  -- A backup feed (agent/exit/backup-envelope.ts) carries, with each event, what a
  -- restore needs besides the row: the dedupe key that event began and a source
  -- position. A position is only safe to restore with the events before it, so the
  -- journal seq it was saved with is noted (through_seq: the journal's last seq when
  -- the position was written, which is the last event of its append, as positions
  -- are saved after the events in one transaction). Positions saved before this
  -- migration have none and are not carried until their source saves again.
  ALTER TABLE source_positions ADD COLUMN through_seq INTEGER;
  CREATE TRIGGER source_positions_through_seq_insert AFTER INSERT ON source_positions
    BEGIN UPDATE source_positions SET through_seq = (SELECT seq FROM sqlite_sequence WHERE name = 'journal') WHERE source = new.source; END;
  CREATE TRIGGER source_positions_through_seq_update AFTER UPDATE OF position ON source_positions
    BEGIN UPDATE source_positions SET through_seq = (SELECT seq FROM sqlite_sequence WHERE name = 'journal') WHERE source = new.source; END;
  -- The dedupe keys a batch's events began, found by seq range without a scan.
  CREATE INDEX dedupe_keys_by_first_seq ON dedupe_keys (first_seq);
  `,
  },
  {
    version: 15,
    description: 'downlink: a delivery row per inbound event, channel pauses',
    sql: `
  -- One row per inbound event journaled (agent/downlink/delivery-store.ts), written in
  -- the event's own append transaction and updated in each receipt's, so the journal,
  -- the delivery state and the receipts never disagree after a crash. seq is the
  -- event's journal row (its body); event_key orders delivery per key.
  CREATE TABLE inbound_deliveries (
    id               TEXT    PRIMARY KEY,
    seq              INTEGER NOT NULL,
    relay            TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    event_key        TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    counted_failures INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms  INTEGER NOT NULL,
    received_at_ms   INTEGER NOT NULL,
    expires_at_ms    INTEGER NOT NULL,
    last_code        TEXT    NOT NULL DEFAULT '',
    last_reason      TEXT    NOT NULL DEFAULT '',
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL,
    decided_at_ms    INTEGER
  ) WITHOUT ROWID;
  -- The engine loads a channel's open events in journal order at start.
  CREATE INDEX inbound_deliveries_by_channel_state ON inbound_deliveries (channel, state, seq);
  CREATE TABLE inbound_channel_pauses (
    channel      TEXT    PRIMARY KEY,
    paused_at_ms INTEGER NOT NULL,
    operator     TEXT    NOT NULL,
    reason       TEXT    NOT NULL DEFAULT ''
  ) WITHOUT ROWID;
  `,
  },
  {
    version: 16,
    description: 'downlink: the receipt outbox',
    sql: `
  -- Receipts waiting to be sent to (or acknowledged by) the relay whose event they
  -- answer (agent/downlink/receipt-outbox.ts). A row is written in the receipt's own
  -- journal transaction, so a receipt journaled is one that will be sent; it is
  -- deleted when the relay acknowledges it. row_id keeps the order they were decided
  -- in. ledger_index / ledger_head: the egress ledger record made before the receipt
  -- first left, written in that record's own transaction, so a resend carries the
  -- same head and the ledger records each receipt once.
  CREATE TABLE inbound_receipt_outbox (
    row_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    relay          TEXT    NOT NULL,
    event_id       TEXT    NOT NULL,
    channel        TEXT    NOT NULL,
    outcome        TEXT    NOT NULL,
    attempts       INTEGER NOT NULL,
    receipt        TEXT    NOT NULL,
    enqueued_at_ms INTEGER NOT NULL,
    ledger_index   INTEGER,
    ledger_head    BLOB,
    UNIQUE (relay, event_id, outcome, attempts)
  );
  CREATE INDEX inbound_receipt_outbox_by_relay ON inbound_receipt_outbox (relay, row_id);
  `,
  },
];

/** The schema version this build writes. */
export const AGENT_SCHEMA_VERSION = latestSchemaVersion(AGENT_MIGRATIONS);

/** Applies every migration newer than agent.db's user_version (refusing a newer database); returns the versions before and after. */
export function migrateAgentDatabase(db: Database.Database, file: string): MigrationResult {
  return migrateSqlite(db, { file, migrations: AGENT_MIGRATIONS, tooNew: (details) => new SchemaTooNewError(details) });
}
