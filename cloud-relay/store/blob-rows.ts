// The rows of the blob tables as both BlobStore backends read them (PostgreSQL's
// mirror relay.db's), and the one mapping of a reference row to what the port returns.
import type { BlobFeedUsage, BlobReference } from './blob-store.js';

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

/** A feed's distinct instances and their bytes (blob_refs joined with blob_instances). */
export interface RefUsageRow {
  hospital: string;
  feed: string;
  instances: number;
  bytes: number;
}

/** A blob_feed_stats row. */
export interface FeedStatsRow {
  hospital: string;
  feed: string;
  offered_bytes: number;
  deduped_bytes: number;
}

/** BlobStore.usage() from both row sets: one entry per feed either names, ordered by hospital then feed. */
export function blobFeedUsage(refs: Iterable<RefUsageRow>, stats: Iterable<FeedStatsRow>): BlobFeedUsage[] {
  const byFeed = new Map<string, BlobFeedUsage>();
  const entry = (hospital: string, feed: string): BlobFeedUsage => {
    const key = `${hospital}\u0000${feed}`;
    let usage = byFeed.get(key);
    if (!usage) byFeed.set(key, (usage = { hospital, feed, instances: 0, bytes: 0, dedupedBytes: 0, offeredBytes: 0 }));
    return usage;
  };
  for (const row of refs) Object.assign(entry(row.hospital, row.feed), { instances: row.instances, bytes: row.bytes });
  for (const row of stats) Object.assign(entry(row.hospital, row.feed), { offeredBytes: row.offered_bytes, dedupedBytes: row.deduped_bytes });
  return [...byFeed.values()].sort((a, b) => (a.hospital === b.hospital ? a.feed.localeCompare(b.feed) : a.hospital.localeCompare(b.hospital)));
}
