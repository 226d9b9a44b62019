// Ordered schema migrations for the agent database; index i upgrades user_version i to i+1.
// Never edit a migration that has shipped: append a new one.
export const AGENT_MIGRATIONS: readonly string[] = [
  `
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
  `
  -- The journal trimmer deletes dedupe keys by age, in chunks; without this index
  -- every chunk would scan all of them.
  CREATE INDEX dedupe_keys_by_age ON dedupe_keys (received_at_ms);
  `,
];
