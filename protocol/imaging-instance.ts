// The body of a `blob-ref` event: one DICOM instance the agent archived, as the
// journal holds it and as it crosses the wire (JSON, UTF-8). The instance's bytes
// never travel inside an event: they are cut into content-addressed chunks
// (BLOB_CHUNK_BYTES, the last one shorter) that move as BlobPart messages before
// the event that names them, and a relay shows the event to vendors only once it
// holds every chunk and the whole instance's SHA-256 matches.
import { z } from 'zod';

/** The event content type of an archived instance. */
export const BLOB_REF_CONTENT_TYPE = 'blob-ref';
/** The stream DICOM instances are journaled in unless a source says otherwise. */
export const IMAGING_STREAM = 'imaging';
/** Fixed chunk size: every chunk but the last of an instance is exactly this long (4 MiB). */
export const BLOB_CHUNK_BYTES = 4 * 1024 * 1024;
/** The capability a relay's Welcome lists when it takes BlobOffer and BlobPart. */
export const BLOB_FEATURE = 'blob-v1';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 as 64 lowercase hex digits');
/** A DICOM UID: digits and dots, at most 64 characters (PS3.5 9.1). */
export const DicomUidSchema = z.string().regex(/^[0-9]+(\.[0-9]+)*$/, 'expected a DICOM UID (digits and dots)').max(64);

export const BlobChunkSchema = z.strictObject({
  sha256: sha256Hex,
  size: z.number().int().positive().max(BLOB_CHUNK_BYTES),
});

/** What identifies an instance's bytes: the whole-file hash, its size and its chunks in order. */
export const BlobManifestSchema = z.strictObject({
  sha256: sha256Hex,
  size: z.number().int().positive(),
  chunks: z.array(BlobChunkSchema).min(1),
});

/** The JSON body of a blob-ref event in the imaging stream (keyed by SOP Instance UID). */
export const ImagingInstanceBodySchema = BlobManifestSchema.extend({
  studyUid: DicomUidSchema,
  seriesUid: DicomUidSchema,
  sopInstanceUid: DicomUidSchema,
  sopClassUid: DicomUidSchema,
  transferSyntaxUid: DicomUidSchema,
  /** (0010,0020); empty when the dataset has none. */
  patientId: z.string(),
  /** (0008,0060); empty when absent. */
  modality: z.string(),
  /** (0008,0020) as DICOM writes it (YYYYMMDD); empty when absent. */
  studyDate: z.string(),
  /**
   * Set by an imaging feed's de-identification (agent/policy/dicom): the profile
   * applied and whether burned-in annotation may remain in the pixel data, which
   * is never changed. Absent for an instance as the modality sent it.
   */
  deidentified: z
    .strictObject({
      method: z.string(),
      burnedInAnnotation: z.enum(['NO', 'YES', 'UNKNOWN']),
    })
    .optional(),
});

export type BlobChunk = z.output<typeof BlobChunkSchema>;
export type BlobManifest = z.output<typeof BlobManifestSchema>;
export type ImagingInstanceBody = z.output<typeof ImagingInstanceBodySchema>;

/** Parses a blob-ref body; throws a ZodError that names the field that is wrong. */
export function parseImagingInstanceBody(body: Uint8Array | string): ImagingInstanceBody {
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  return ImagingInstanceBodySchema.parse(JSON.parse(text));
}

/** The chunk sizes an instance of `size` bytes is cut into. */
export function chunkSizes(size: number): number[] {
  const sizes: number[] = [];
  for (let left = size; left > 0; left -= BLOB_CHUNK_BYTES) sizes.push(Math.min(left, BLOB_CHUNK_BYTES));
  return sizes;
}
