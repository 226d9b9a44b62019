// The rows of the blob tables as both BlobStore backends read them (PostgreSQL's
// mirror relay.db's), and the one mapping of a reference row to what the port returns.
import type { BlobReference } from './blob-store.js';

/** A blob_instance_chunks row: one chunk of an instance, in order. */
export interface ChunkRow {
  idx: number;
  chunk_sha256: string;
  size: number;
}

/** A blob_refs row joined with its instance's size. */
export interface RefRow {
  seq: number;
  instance_sha256: string;
  size: number;
  study_uid: string;
  series_uid: string;
  sop_instance_uid: string;
  sop_class_uid: string;
}

export function referenceOf(row: RefRow): BlobReference {
  return {
    seq: row.seq,
    sha256: row.instance_sha256,
    size: row.size,
    studyUid: row.study_uid,
    seriesUid: row.series_uid,
    sopInstanceUid: row.sop_instance_uid,
    sopClassUid: row.sop_class_uid,
  };
}
