// Instances for the relay's blob tests: deterministic bytes cut into
// BLOB_CHUNK_BYTES chunks, their manifest, the wire messages an agent sends for
// them (BlobOffer, BlobPart), and the blob-ref event that names them; and, for
// the agent's tests, an archived file journaled as the DICOM source journals it.
import { createHash, createCipheriv } from 'node:crypto';
import { BLOB_CHUNK_BYTES, BLOB_REF_CONTENT_TYPE, IMAGING_STREAM, type BlobManifest, type ImagingInstanceBody, type JournalEvent } from '../../protocol/index.js';
import type { InstanceArchive } from '../../agent/imaging/index.js';
import type { Journal } from '../../agent/store/index.js';

export interface TestInstance {
  bytes: Buffer;
  chunks: Buffer[];
  manifest: BlobManifest;
  body: ImagingInstanceBody;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** `size` bytes that differ per seed (AES-CTR keystream, so nothing compresses or repeats). */
export function pseudoRandomBytes(size: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

/** An instance of `size` bytes in study `studyUid` (series 1 unless given), named after `seed`. */
export function makeInstance(size: number, seed: string, uids: { studyUid?: string; seriesUid?: string; sopInstanceUid?: string } = {}): TestInstance {
  const bytes = pseudoRandomBytes(size, seed);
  const chunks: Buffer[] = [];
  for (let at = 0; at < size; at += BLOB_CHUNK_BYTES) chunks.push(bytes.subarray(at, Math.min(size, at + BLOB_CHUNK_BYTES)));
  const manifest: BlobManifest = { sha256: sha256(bytes), size, chunks: chunks.map((c) => ({ sha256: sha256(c), size: c.length })) };
  const n = parseInt(createHash('sha256').update(seed).digest('hex').slice(0, 8), 16);
  const studyUid = uids.studyUid ?? '1.2.826.0.1.3680043.10.1';
  return {
    bytes,
    chunks,
    manifest,
    body: {
      ...manifest,
      studyUid,
      seriesUid: uids.seriesUid ?? `${studyUid}.1`,
      sopInstanceUid: uids.sopInstanceUid ?? `${studyUid}.1.${n}`,
      sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
      transferSyntaxUid: '1.2.840.10008.1.2.1',
      patientId: 'P0001',
      modality: 'CT',
      studyDate: '20240101',
    },
  };
}

/** The BlobOffer an agent sends for `instance` in `feed`. */
export function offerOf(feed: string, instance: TestInstance, requestId = 1) {
  return {
    requestId,
    feed,
    instanceSha256: Buffer.from(instance.manifest.sha256, 'hex'),
    size: instance.manifest.size,
    chunks: instance.manifest.chunks.map((c) => ({ sha256: Buffer.from(c.sha256, 'hex'), size: c.size })),
  };
}

/** A BlobPart of chunk `index` of `instance`: bytes [offset, offset + length). */
export function partOf(feed: string, instance: TestInstance, index: number, offset: number, length: number, requestId = 1) {
  const chunk = instance.chunks[index]!;
  return {
    requestId,
    feed,
    chunkSha256: Buffer.from(instance.manifest.chunks[index]!.sha256, 'hex'),
    chunkSize: chunk.length,
    offset,
    data: chunk.subarray(offset, Math.min(chunk.length, offset + length)),
  };
}

/** The blob-ref journal event naming `instance` at `seq`. */
export function blobRefEvent(seq: number, instance: TestInstance, body: unknown = instance.body): JournalEvent {
  return {
    seq,
    stream: IMAGING_STREAM,
    key: instance.body.sopInstanceUid,
    op: 'upsert',
    tsMs: Date.UTC(2024, 0, 1, 8, 0, 0) + seq * 1000,
    source: 'pacs',
    contentType: BLOB_REF_CONTENT_TYPE,
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8'),
    headers: {},
  };
}

/**
 * Archives the file at `path` and journals its blob-ref event (stream imaging,
 * keyed by its SOP Instance UID, source pacs), as the DICOM source does; the
 * body is the archive's manifest with `attributes`.
 */
export async function journalArchivedInstance(
  journal: Journal,
  archive: InstanceArchive,
  path: string,
  attributes: Omit<ImagingInstanceBody, keyof BlobManifest>,
): Promise<ImagingInstanceBody> {
  const body: ImagingInstanceBody = { ...(await archive.ingestFile(path)), ...attributes };
  await journal.append({
    source: 'pacs',
    events: [{ stream: IMAGING_STREAM, key: body.sopInstanceUid, op: 'upsert', contentType: BLOB_REF_CONTENT_TYPE, body: Buffer.from(JSON.stringify(body)), headers: {} }],
  });
  return body;
}
