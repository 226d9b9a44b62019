// The relay's blob store as a port: where the chunks of imaging instances are
// kept, per hospital and content-addressed, and which instances each feed's
// blob-ref events name. SqliteBlobStore (sqlite-blob-store.ts) keeps the
// bookkeeping in the relay's SQLite file and the chunks as files under the data
// dir; a networked backend implements the same interface and runs the same
// contract suite (test/contract/blob-store.contract.ts).
//
// The transfer, as the agent drives it (protocol/wardline/v1/wardline.proto):
// offer(manifest) → the chunks missing and how much of each is already held →
// writePart(...) at exactly the held offset until the chunk is stored (its
// SHA-256 verified, the file and its directory fsynced) → once every chunk of an
// offered instance is held, the whole instance's SHA-256 is checked by streaming
// its chunks and it is complete. A batch whose blob-ref event names an instance
// not complete is refused by the session before anything is stored; an event
// that is stored has its (hospital, feed, seq) → instance reference recorded,
// which is what the vendor routes read.
//
// Chunks are never shared across hospitals. Every method that a networked
// backend would do I/O for returns a Promise. Every method except close()
// rejects with FeedStoreClosedError once the store is closed.
import type { Readable } from 'node:stream';
import type { BlobManifest } from '../../protocol/index.js';

/** The largest BlobPart.data the relay takes, in bytes (1 MiB; agents send ≤ 64 KiB). */
export const MAX_BLOB_PART_BYTES = 1024 * 1024;

/** A chunk of an offered instance the store does not hold yet. */
export interface MissingChunk {
  /** Index into the manifest's chunks. */
  index: number;
  /** Bytes of that chunk already held from its start (a part transfer cut short); the agent resumes there. */
  partialBytes: number;
}

/** What offer() answers. */
export type OfferAnswer =
  | {
      /** Every chunk is held and the whole instance's SHA-256 matched. */
      complete: boolean;
      /** The chunks still to send, in manifest order (empty when complete). */
      missing: MissingChunk[];
      /**
       * Bytes of the manifest's chunks already held when this feed first offered the
       * instance (what deduplication saved); 0 on a re-offer, which is the same transfer.
       */
      dedupedBytes: number;
    }
  | {
      /** The offer was refused; nothing was recorded. The text says what was wrong. */
      error: string;
    };

/** What writePart() answers. */
export interface PartAnswer {
  /** Bytes of the chunk held from its start after this call. */
  received: number;
  /** The chunk is complete, its SHA-256 matched and it is durable. */
  stored: boolean;
  /** Set when the part was refused: wrong offset (resume at received), hash mismatch (received 0), no offer names the chunk, too large. */
  error?: string;
  /** The part completed the chunk but its SHA-256 did not match: the bytes were discarded (received 0). */
  corrupt?: boolean;
}

/** One instance a stored blob-ref event names, as the vendor routes list it. */
export interface BlobReference {
  seq: number;
  /** Hex SHA-256 of the whole instance. */
  sha256: string;
  size: number;
  studyUid: string;
  seriesUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
}

/** What a revoke removed of a feed's blobs. */
export interface BlobFeedDeletion {
  /** References (blob-ref events) of the feed removed. */
  references: number;
  /** Chunks removed from disk because nothing of the hospital still needs them. */
  chunksDeleted: number;
  /** Bytes of those chunks (and of partial chunk files dropped). */
  bytesDeleted: number;
}

/** Per (hospital, feed): what the relay holds for it and what deduplication saved. */
export interface BlobFeedUsage {
  hospital: string;
  feed: string;
  /** Distinct instances the feed's events reference. */
  instances: number;
  /** Bytes of those instances (each counted once per feed; chunks are shared across a hospital's feeds). */
  bytes: number;
  /** Bytes of chunks offered for this feed that the relay already held (never sent again). */
  dedupedBytes: number;
  /** Bytes of chunks offered for this feed in all. */
  offeredBytes: number;
}

export interface BlobStore {
  /** False once close() was called. */
  readonly open: boolean;

  /**
   * Records the manifest of an instance offered for (hospital, feed) and answers
   * which chunks are missing. The manifest must be well formed (32-byte hashes as
   * hex, every chunk but the last exactly BLOB_CHUNK_BYTES, the last 1 to
   * BLOB_CHUNK_BYTES, the sizes summing to `size`), and must agree with a manifest
   * already recorded under the same instance SHA-256; otherwise it answers
   * `error` and records nothing. When every chunk is held but the instance is
   * not yet complete, the whole SHA-256 is verified here (streamed); a mismatch
   * answers `error`. Idempotent: offering again answers what is held now.
   * The offer keeps the instance's chunks from deletion until the feed is revoked.
   */
  offer(hospital: string, feed: string, manifest: BlobManifest): Promise<OfferAnswer>;

  /**
   * Appends `data` to the chunk `chunkSha256` (hex) of `chunkSize` bytes at
   * `offset`. Taken only when offset equals the bytes held of that chunk (else
   * `error` with `received` = what is held) and when an offered instance of the
   * hospital names the chunk with that size. On the part that completes the
   * chunk: its SHA-256 is verified, the file fsynced, renamed into place and the
   * directory fsynced, and only then `stored`; a mismatch discards the partial
   * (`received` 0, `error` says so). A part for a chunk already stored answers
   * stored at once. When the chunk completes an offered instance, the instance
   * is verified (streamed) and marked complete before this resolves.
   */
  writePart(hospital: string, chunkSha256: string, chunkSize: number, offset: number, data: Uint8Array): Promise<PartAnswer>;

  /** True when the hospital holds every chunk of the instance and its whole SHA-256 matched. */
  isComplete(hospital: string, instanceSha256: string): Promise<boolean>;

  /**
   * The instance's bytes, streamed chunk by chunk (never whole in memory);
   * undefined when it is not complete for the hospital.
   */
  openInstance(hospital: string, instanceSha256: string): Promise<{ size: number; stream: Readable } | undefined>;

  /**
   * Records that the events at these seqs of (hospital, feed) name these
   * instances. Idempotent on (hospital, feed, seq): recording again replaces
   * the reference (the agent's seq names one event). The caller records them
   * before the batch is stored and forgets those the store did not take.
   */
  recordReferences(hospital: string, feed: string, references: readonly BlobReference[]): Promise<void>;

  /** Drops the references of (hospital, feed) at these seqs (a batch the feed store did not take). */
  forgetReferences(hospital: string, feed: string, seqs: readonly number[]): Promise<void>;

  /**
   * References of (hospital, feed) in the study with seq <= throughSeq (the feed's
   * visible seq) whose instance is complete, by seriesUid then seq.
   */
  studyInstances(hospital: string, feed: string, studyUid: string, throughSeq: number): Promise<BlobReference[]>;

  /**
   * The reference of (hospital, feed) with the highest seq <= throughSeq (the
   * feed's visible seq) naming `sopInstanceUid` in `studyUid`, whose instance is
   * complete; undefined when there is none. A SOP Instance UID sent again (a
   * re-archived or corrected instance) names what its latest event says: the
   * caller compares seriesUid with the series it was asked for.
   */
  instanceReference(hospital: string, feed: string, studyUid: string, sopInstanceUid: string, throughSeq: number): Promise<BlobReference | undefined>;

  /**
   * Revoke: deletes the feed's references and offers, then every instance and
   * chunk (and partial chunk file) of the hospital that no remaining reference or
   * offer needs, from disk as well. Idempotent.
   */
  deleteFeed(hospital: string, feed: string): Promise<BlobFeedDeletion>;

  /** What each (hospital, feed) holds, ordered by hospital then feed. */
  usage(): Promise<BlobFeedUsage[]>;

  /** Closes the store; what was stored stays for the next open. Idempotent. */
  close(): Promise<void>;
}
