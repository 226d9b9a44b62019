// PostgreSQL schema version 3: the blob store — relay.db's migration 5
// (cloud-relay/store/migrations.ts) with PostgreSQL's types and the same names,
// plus the chunk bytes themselves: relay processes on several machines share
// no disk, so blob_chunks.data holds what the SQLite store keeps in
// <dataDir>/blobs. A copy from relay.db fills data from those files.
import type { PgMigration } from '../pg-migrations.js';

export const BLOBS_SCHEMA: PgMigration = {
  version: 3,
  description: 'blob store: instance manifests, chunks with their bytes, offers and the instances feed events name',
  sql: `
    CREATE TABLE blob_instances (
      hospital       TEXT     NOT NULL,
      sha256         TEXT     NOT NULL,
      size           BIGINT   NOT NULL,
      chunk_count    BIGINT   NOT NULL,
      complete       SMALLINT NOT NULL DEFAULT 0,
      created_at_ms  BIGINT   NOT NULL,
      PRIMARY KEY (hospital, sha256)
    );

    CREATE TABLE blob_instance_chunks (
      hospital        TEXT   NOT NULL,
      instance_sha256 TEXT   NOT NULL,
      idx             BIGINT NOT NULL,
      chunk_sha256    TEXT   NOT NULL,
      size            BIGINT NOT NULL,
      PRIMARY KEY (hospital, instance_sha256, idx)
    );
    CREATE INDEX blob_instance_chunks_by_chunk ON blob_instance_chunks (hospital, chunk_sha256);

    -- Chunks held, written only after their SHA-256 matched. data is the chunk's
    -- bytes (PG-only column; EXTERNAL storage: chunks are already compressed
    -- imaging data, so TOAST compression would only cost CPU).
    CREATE TABLE blob_chunks (
      hospital      TEXT   NOT NULL,
      sha256        TEXT   NOT NULL,
      size          BIGINT NOT NULL,
      stored_at_ms  BIGINT NOT NULL,
      data          BYTEA  NOT NULL,
      PRIMARY KEY (hospital, sha256)
    );
    ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

    -- PG-only: the parts of a chunk being received (what the SQLite store keeps
    -- in <dir>/<hospital>/partial/<sha>), one row per part at its offset, so a
    -- part is one INSERT (never a rewrite of the bytes already held) and a cut
    -- transfer resumes at the sum of the sizes. The part that completes the chunk
    -- is verified, moved into blob_chunks and these rows deleted in one
    -- transaction. The primary key refuses a second writer at the same offset.
    CREATE TABLE blob_chunk_parts (
      hospital      TEXT   NOT NULL,
      sha256        TEXT   NOT NULL,
      "offset"      BIGINT NOT NULL,
      data          BYTEA  NOT NULL,
      stored_at_ms  BIGINT NOT NULL,
      PRIMARY KEY (hospital, sha256, "offset")
    );
    ALTER TABLE blob_chunk_parts ALTER COLUMN data SET STORAGE EXTERNAL;

    CREATE TABLE blob_offers (
      hospital        TEXT   NOT NULL,
      feed            TEXT   NOT NULL,
      instance_sha256 TEXT   NOT NULL,
      offered_at_ms   BIGINT NOT NULL,
      PRIMARY KEY (hospital, feed, instance_sha256)
    );

    CREATE TABLE blob_refs (
      hospital         TEXT   NOT NULL,
      feed             TEXT   NOT NULL,
      seq              BIGINT NOT NULL,
      instance_sha256  TEXT   NOT NULL,
      study_uid        TEXT   NOT NULL,
      series_uid       TEXT   NOT NULL,
      sop_instance_uid TEXT   NOT NULL,
      sop_class_uid    TEXT   NOT NULL,
      PRIMARY KEY (hospital, feed, seq)
    );
    CREATE INDEX blob_refs_by_study ON blob_refs (hospital, feed, study_uid);
    CREATE INDEX blob_refs_by_instance ON blob_refs (hospital, instance_sha256);

    CREATE TABLE blob_feed_stats (
      hospital       TEXT   NOT NULL,
      feed           TEXT   NOT NULL,
      offered_bytes  BIGINT NOT NULL DEFAULT 0,
      deduped_bytes  BIGINT NOT NULL DEFAULT 0,
      PRIMARY KEY (hospital, feed)
    );
  `,
};
