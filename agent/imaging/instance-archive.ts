// The InstanceArchive port: the hospital's own archive of DICOM instances, under
// the data dir, content-addressed. An instance is kept as fixed-size chunks
// (BLOB_CHUNK_BYTES) each named by its SHA-256, so an instance received twice,
// or sent into a second feed, is stored and shipped once. The DICOM source
// writes here; the agent's study routes and the blob shipper read from here.
//
// Contract (test/contract/instance-archive.contract.ts):
//  1. ingestFile resolves only once every chunk is fsynced under its hash (and
//     its directory entry is durable); the manifest it returns is the instance's
//     bytes exactly (sha256 of the whole, chunks in order).
//  2. Ingesting the same bytes again writes no chunk and returns the same manifest.
//  3. A chunk is read back only if its bytes still hash to its name; otherwise
//     the read rejects with ArchiveCorruptError naming the chunk (never wrong bytes).
//  4. Nothing is deleted except through remove(), which only retention calls
//     (archive-retention.ts decides what a feed no longer owes); a chunk another
//     instance still uses stays.
//  5. usage() is right from open() on, also after a crash mid-write or mid-remove.
import type { Readable } from 'node:stream';
import type { BlobManifest } from '../../protocol/index.js';
import { AgentError, AgentErrorCode } from '../errors.js';

export interface ArchiveUsage {
  /** Distinct chunks held. */
  chunks: number;
  /** Bytes of those chunks on disk (each chunk once, however many instances share it). */
  bytes: number;
  /** Distinct instances (by the SHA-256 of their bytes) held. */
  instances: number;
}

export interface InstanceArchive {
  /** Opens the archive's files (creates the directory). */
  open(): Promise<void>;
  /**
   * Takes a complete instance file (already fsynced by its writer) into the
   * archive: cuts it into chunks, writes each new chunk durably, and resolves
   * with the manifest. The source file is left in place; the caller removes it.
   */
  ingestFile(path: string): Promise<BlobManifest>;
  /** Whether every chunk of the manifest is held. */
  holds(manifest: BlobManifest): boolean;
  /** One chunk's bytes, verified against its hash (at most BLOB_CHUNK_BYTES). */
  readChunk(sha256: string): Promise<Buffer>;
  /** The whole instance, chunk by chunk (never the whole file in memory). */
  createInstanceStream(manifest: BlobManifest): Readable;
  /** What the archive holds on disk (the disk budget counts it). */
  usage(): ArchiveUsage;
  /**
   * Drops the instance (by manifest.sha256) and deletes the chunks no other held
   * instance uses (retention only). Removing an instance not held does nothing.
   */
  remove(manifest: BlobManifest): Promise<void>;
  close(): Promise<void>;
}

/** A chunk whose bytes no longer match its name (disk corruption): never served. */
export class ArchiveCorruptError extends AgentError {
  constructor(
    readonly sha256: string,
    readonly detail: string,
  ) {
    super(`archived chunk ${sha256} is corrupt (${detail}); it is not served. Re-send the study from the PACS to repair it`, AgentErrorCode.ARCHIVE_CORRUPT);
  }
}
