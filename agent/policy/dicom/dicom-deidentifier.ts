// An imaging feed's InstanceTransform: reads an archived instance as a stream,
// rewrites the dataset before Pixel Data under the feed's PS3.15 profile, copies
// Pixel Data byte for byte, writes the result to a temp file (fsynced), takes it
// into the archive and returns the body that describes the de-identified copy.
// Only the dataset before Pixel Data is ever held in memory (typically a few
// KB; at most MAX_HEADER_BYTES); pixel data passes through in archive chunks.
//
// Failure modes handled:
//  1. Deflated or big-endian transfer syntax: rejected (UNSUPPORTED_SYNTAX),
//     the instance does not leave; the feed's status carries the message.
//  2. An archive chunk that is corrupt: the archive stream errors, the temp file
//     is removed, nothing is ingested.
//  3. What follows Pixel Data (Digital Signatures, trailing padding: both X in
//     the profile; private attributes): run through the profile, never copied blindly.
//  4. A crash between ingest and return: the transform is deterministic, so the
//     next call ingests the same bytes again (the archive writes no chunk twice).
//  5. A resend: the derived body is remembered per original SHA-256 (this
//     transform's policy and key are fixed) while the archive still holds it.
//  6. Temp files a killed agent left half-written in workDir: removed before
//     this transform writes its first one (the work dir is this feed's alone).
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ImagingInstanceBodySchema, type ImagingInstanceBody } from '../../../protocol/index.js';
import type { InstanceArchive, InstanceTransform } from '../../imaging/index.js';
import type { DicomPolicyConfig } from '../policy-config.js';
import type { HospitalKey } from '../pseudonym.js';
import { deidentifyDataset, deidentifyElements } from './deidentify-dataset.js';
import { DicomDatasetError, NeedMoreBytes, parseDataset, parseFileMeta, writeElements, type DicomElement } from './dicom-dataset.js';
import { DicomDeidError } from './errors.js';
import { parsePrivateTagSpec } from './private-tag-spec.js';
import { remapUid } from './uid-remap.js';

/** Largest dataset before Pixel Data read into memory: 64 MiB (real headers are KBs; big overlays or private blobs stay far below). */
export const MAX_HEADER_BYTES = 64 * 1024 * 1024;
/** Largest part after Pixel Data held to de-identify it: 16 MiB. */
export const MAX_TRAILER_BYTES = 16 * 1024 * 1024;
/** Derived bodies remembered for resends. */
export const DEFAULT_CACHE_ENTRIES = 4096;

const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
const EXPLICIT_VR_BIG_ENDIAN = '1.2.840.10008.1.2.2';
const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1.99';
const TRANSFER_SYNTAX_UID = 0x00020010;
const UNDEFINED_LENGTH = 0xffffffff;

export interface DicomDeidentifierOptions {
  config: DicomPolicyConfig;
  /** The hospital's active pseudonym key (UID remap, patient pseudonym). */
  key: HospitalKey;
  archive: InstanceArchive;
  /** Where temp files are written before ingest (created when missing); on the archive's file system. */
  workDir: string;
  cacheEntries?: number;
}

/**
 * The transform a feed with `policy.dicom` hands the feed pump.
 * @throws DicomDeidError (config) at once when a keepPrivateTags entry is malformed.
 */
export function createDicomDeidentifier(options: DicomDeidentifierOptions): InstanceTransform {
  const keepPrivate = options.config.keepPrivateTags.map(parsePrivateTagSpec);
  const ctx = { config: options.config, key: options.key, keepPrivate };
  const cache = new Map<string, ImagingInstanceBody>();
  const cacheEntries = options.cacheEntries ?? DEFAULT_CACHE_ENTRIES;
  let workDirReady: Promise<unknown> | undefined;

  return async (original) => {
    const cached = cache.get(original.sha256);
    if (cached && options.archive.holds(cached)) return cached;
    workDirReady ??= removeStaleTempFiles(options.workDir);
    await workDirReady;
    const tmp = join(options.workDir, `${original.sha256}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const derived = await deidentifyInstance(original, options.archive, ctx, tmp);
      const manifest = await options.archive.ingestFile(tmp);
      const body = ImagingInstanceBodySchema.parse({
        ...manifest,
        studyUid: derived.studyUid || fallbackUid(original.studyUid, ctx),
        seriesUid: derived.seriesUid || fallbackUid(original.seriesUid, ctx),
        sopInstanceUid: derived.sopInstanceUid || fallbackUid(original.sopInstanceUid, ctx),
        sopClassUid: derived.sopClassUid || original.sopClassUid,
        transferSyntaxUid: original.transferSyntaxUid,
        patientId: derived.patientId,
        modality: derived.modality,
        studyDate: derived.studyDate,
        deidentified: { method: `DICOM PS3.15 Annex E: ${derived.method.join('; ')}`, burnedInAnnotation: derived.burnedInAnnotation },
      });
      if (cache.size >= cacheEntries) cache.delete(cache.keys().next().value!);
      cache.set(original.sha256, body);
      return body;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  };
}

async function removeStaleTempFiles(workDir: string): Promise<void> {
  await mkdir(workDir, { recursive: true });
  for (const name of await readdir(workDir)) if (name.endsWith('.tmp')) await unlink(join(workDir, name)).catch(() => undefined);
}

function fallbackUid(uid: string, ctx: { config: DicomPolicyConfig; key: HospitalKey }): string {
  return ctx.config.retainUids ? uid : remapUid(ctx.key, uid);
}

async function deidentifyInstance(
  original: ImagingInstanceBody,
  archive: InstanceArchive,
  ctx: Parameters<typeof deidentifyDataset>[2],
  tmp: string,
): Promise<ReturnType<typeof deidentifyDataset>> {
  const where = `instance ${original.sopInstanceUid} (sha256 ${original.sha256})`;
  const stream = archive.createInstanceStream(original);
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head: Buffer = Buffer.alloc(0);
  let ended = false;
  let parsed: ReturnType<typeof parseHeader> | undefined;
  try {
    while (!parsed) {
      if (!ended) {
        const next = await chunks.next();
        if (next.done) ended = true;
        else head = head.length === 0 ? next.value : Buffer.concat([head, next.value]);
      }
      try {
        parsed = parseHeader(head, ended, where);
      } catch (error) {
        if (!(error instanceof NeedMoreBytes)) throw error;
        if (ended) throw new DicomDeidError(`${where}: the file ends inside its dataset`, 'unreadable');
        if (head.length > MAX_HEADER_BYTES) throw new DicomDeidError(`${where}: more than ${MAX_HEADER_BYTES} bytes before Pixel Data; not de-identified`, 'unreadable');
      }
    }
    const result = deidentifyDataset(parsed.meta, parsed.dataset, ctx);
    const file = await open(tmp, 'w');
    try {
      await file.write(part10Header(result.meta, result.dataset, parsed.implicit));
      if (parsed.pixelDataOffset !== undefined) {
        const tracker = new PixelDataEnd(head, parsed.pixelDataOffset, parsed.implicit, where);
        const trailer: Buffer[] = [];
        let trailerBytes = 0;
        const pass = async (bytes: Buffer): Promise<void> => {
          const inside = tracker.feed(bytes);
          if (inside > 0) await file.write(bytes.subarray(0, inside));
          if (inside < bytes.length) {
            trailerBytes += bytes.length - inside;
            if (trailerBytes > MAX_TRAILER_BYTES) throw new DicomDeidError(`${where}: more than ${MAX_TRAILER_BYTES} bytes after Pixel Data; not de-identified`, 'unreadable');
            trailer.push(bytes.subarray(inside));
          }
        };
        await pass(head.subarray(parsed.pixelDataOffset));
        head = Buffer.alloc(0);
        while (!ended) {
          const next = await chunks.next();
          if (next.done) ended = true;
          else await pass(next.value);
        }
        if (!tracker.done) throw new DicomDeidError(`${where}: the file ends inside Pixel Data`, 'unreadable');
        if (trailerBytes > 0) {
          const after = parseOrRefuse(() => parseDataset(Buffer.concat(trailer), 0, parsed!.implicit, true).elements, where);
          const kept = deidentifyElements(after, ctx);
          if (kept.length > 0) await file.write(writeElements(kept, parsed.implicit));
        }
      }
      await file.sync();
    } finally {
      await file.close();
    }
    return result;
  } finally {
    stream.destroy();
  }
}

function parseOrRefuse<T>(parse: () => T, where: string): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof DicomDatasetError) throw new DicomDeidError(`${where}: ${error.message}`, 'unreadable', { cause: error });
    throw error;
  }
}

function parseHeader(head: Buffer, complete: boolean, where: string): { meta: DicomElement[]; dataset: DicomElement[]; implicit: boolean; pixelDataOffset?: number } {
  return parseOrRefuse(() => {
    const meta = parseFileMeta(head, complete);
    const syntax = (meta.elements.find((e) => e.tag === TRANSFER_SYNTAX_UID)?.value ?? Buffer.alloc(0)).toString('latin1').replace(/[\0 ]+$/, '');
    if (syntax === DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN || syntax === EXPLICIT_VR_BIG_ENDIAN) {
      throw new DicomDeidError(
        `${where}: transfer syntax ${syntax} (${syntax === EXPLICIT_VR_BIG_ENDIAN ? 'explicit VR big endian' : 'deflated'}) cannot be de-identified here; only little-endian datasets are rewritten. Have the sender use explicit or implicit VR little endian`,
        'syntax',
      );
    }
    if (syntax === '') throw new DicomDeidError(`${where}: the file meta has no transfer syntax (0002,0010)`, 'unreadable');
    const implicit = syntax === IMPLICIT_VR_LITTLE_ENDIAN;
    const dataset = parseDataset(head, meta.end, implicit, complete);
    // The pixel element's own header must be in hand before copying starts.
    if (dataset.pixelDataOffset !== undefined && head.length < dataset.pixelDataOffset + 12 && !complete) throw new NeedMoreBytes();
    return { meta: meta.elements, dataset: dataset.elements, implicit, pixelDataOffset: dataset.pixelDataOffset };
  }, where);
}

/** Preamble (zeros), "DICM", the file meta with its group length, the dataset before Pixel Data. */
function part10Header(meta: readonly DicomElement[], dataset: readonly DicomElement[], implicit: boolean): Buffer {
  const metaBytes = writeElements(meta, false);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaBytes.length, 0);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), writeElements([{ tag: 0x00020000, vr: 'UL', value: groupLength }], false), metaBytes, writeElements(dataset, implicit)]);
}

/**
 * Finds where top-level Pixel Data ends in a stream of bytes: after its value
 * for a defined length; for an encapsulated one, after the sequence delimiter
 * that closes its fragments (item headers may straddle chunks).
 */
class PixelDataEnd {
  private remaining: number;
  private readonly encapsulated: boolean;
  private pending = Buffer.alloc(0);
  done = false;

  constructor(head: Buffer, offset: number, implicit: boolean, where: string) {
    const vr = implicit ? '' : head.toString('latin1', offset + 4, offset + 6);
    const headerBytes = implicit || ['OB', 'OW', 'OD', 'OF', 'UN'].includes(vr) ? (implicit ? 8 : 12) : 8;
    if (head.length < offset + headerBytes) throw new DicomDeidError(`${where}: the file ends inside the Pixel Data header`, 'unreadable');
    const length = implicit ? head.readUInt32LE(offset + 4) : headerBytes === 12 ? head.readUInt32LE(offset + 8) : head.readUInt16LE(offset + 6);
    this.encapsulated = length === UNDEFINED_LENGTH;
    this.remaining = this.encapsulated ? headerBytes : headerBytes + length;
  }

  /** How many of these bytes still belong to Pixel Data (the rest follows it). */
  feed(bytes: Buffer): number {
    let pos = 0;
    while (!this.done && pos < bytes.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, bytes.length - pos);
        pos += take;
        this.remaining -= take;
        continue;
      }
      if (!this.encapsulated) {
        this.done = true;
        break;
      }
      const want = 8 - this.pending.length;
      const got = bytes.subarray(pos, pos + want);
      this.pending = Buffer.concat([this.pending, got]);
      pos += got.length;
      if (this.pending.length < 8) break;
      const tag = ((this.pending.readUInt16LE(0) << 16) | this.pending.readUInt16LE(2)) >>> 0;
      const length = this.pending.readUInt32LE(4);
      this.pending = Buffer.alloc(0);
      if (tag === 0xfffee0dd) this.done = true;
      else this.remaining = length;
    }
    if (!this.done && this.remaining === 0 && !this.encapsulated) this.done = true;
    return pos;
  }
}
