// Writes a hospital's signed export (protocol/export-format.ts): per feed the
// events as vendors see them, each with its body's SHA-256, the blob chunks the
// feeds' imaging events name, SHA256SUMS, the relay's public key and the
// manifest signed by the relay key in minisign's format.
//
// Failure modes handled:
//  1. A crash or an error mid-export: everything is written into a temporary
//     sibling directory (".<name>.partial-<random>"), each file fsynced, the
//     manifest and its signature last; only then is it renamed to the asked
//     name and the parent fsynced. A half export never has the asked name, and
//     a failed one is removed.
//  2. The relay goes on storing batches while the export reads: each feed is
//     read through its visible seq as it was when its scan began (scanFeed), so
//     the manifest's root, tree size and counts describe exactly the lines in
//     the file; highWaterSeq says how far the relay had stored.
//  3. A damaged blob store (a chunk file removed or altered by hand): every
//     chunk is re-hashed on the way out; a mismatch or a missing instance fails
//     the export (WL_EXPORT_BLOB_DAMAGED) instead of writing a wrong chunk.
//  4. An output directory that already holds something: refused, never merged.
//  5. Millions of events: lines are buffered into writes of EXPORT_WRITE_BYTES and
//     hashed as they are written; nothing holds more than one page of events.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  BLOB_CHUNK_TYPE,
  BLOB_REF_CONTENT_TYPE,
  EXPORT_FORMAT,
  EXPORT_MANIFEST_FILE,
  EXPORT_PUBLIC_KEY_FILE,
  EXPORT_SIGNATURE_COMMENT,
  EXPORT_SIGNATURE_FILE,
  EXPORT_SUMS_FILE,
  FEED_EVENTS_TYPE,
  blobExportPath,
  exportEventLine,
  exportManifestText,
  exportSumsText,
  exportTrustedComment,
  feedExportPath,
  parseImagingInstanceBody,
  type BlobChunk,
  type ExportFeed,
  type ExportLedgerHead,
  type ExportManifest,
  type ExportOutput,
} from '../../protocol/index.js';
import { fsyncDirectory, keyIdText, publicKeyText, signMinisign, type MinisignKey } from '../../runtime/index.js';
import { feedFigures, scanFeed, type BlobStore, type FeedStore } from '../store/index.js';
import { ExportBlobDamagedError, ExportOutDirError, ExportUnknownFeedError, ExportUnknownHospitalError } from './errors.js';

/** Bytes of lines gathered before one write: few system calls, bounded memory. */
export const EXPORT_WRITE_BYTES = 1024 * 1024;

export interface ExportWriterOptions {
  store: FeedStore;
  /** The relay's blob store; absent: a relay without imaging (an imaging event then fails the export). */
  blobs?: BlobStore;
  /** The relay's signing key (relay-signing.key in its dataDir). */
  signingKey: MinisignKey;
  relayId: string;
  hospital: string;
  /** The hospital ids of the relay config's hospitals[]: any other is refused. */
  knownHospitals: readonly string[];
  /** Feeds to export; absent or empty: every feed the relay holds of the hospital. */
  feeds?: readonly string[];
  /** Where the export goes: must not exist, or be an empty directory. */
  outDir: string;
  /** manifest.request: how the export was asked for. Default "wardline relay export --hospital H [--feed F …]". */
  request?: string;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
}

/** What one export wrote. */
export interface ExportSummary {
  outDir: string;
  manifest: ExportManifest;
  /** Every file written, the fixed ones included. */
  files: number;
  events: number;
  /** Bytes of every file written. */
  bytes: number;
  elapsedMs: number;
}

/**
 * Writes the export of `hospital` to `outDir` (see the header).
 * @throws ExportUnknownHospitalError, ExportUnknownFeedError, ExportOutDirError before anything is written;
 *   ExportBlobDamagedError, or the store's errors (a feed revoked meanwhile), after which nothing is left behind.
 */
export async function writeExport(options: ExportWriterOptions): Promise<ExportSummary> {
  const startedMs = performance.now();
  const { store, hospital } = options;
  if (!options.knownHospitals.includes(hospital)) throw new ExportUnknownHospitalError(hospital, options.knownHospitals);
  const feeds = await feedsToExport(store, hospital, options.feeds);
  const outDir = resolve(options.outDir);
  await checkOutDir(outDir);

  const now = options.now ?? Date.now;
  const transactionTime = new Date(now()).toISOString();
  const scratch = join(dirname(outDir), `.${basename(outDir)}.partial-${randomBytes(6).toString('hex')}`);
  await mkdir(join(scratch, 'feeds'), { recursive: true, mode: 0o700 });
  try {
    const output: ExportOutput[] = [];
    const feedEntries: ExportFeed[] = [];
    /** Instances the feeds' blob-ref events name, by whole SHA-256, in first-seen order. */
    const instances = new Map<string, BlobChunk[]>();
    let events = 0;
    let bytes = 0;
    for (const feed of feeds) {
      const path = feedExportPath(feed);
      const file = await HashingFile.create(join(scratch, path));
      let scan;
      try {
        scan = await scanFeed(store, hospital, feed, (event) => {
          if (event.contentType === BLOB_REF_CONTENT_TYPE) {
            const instance = parseImagingInstanceBody(event.body);
            if (!instances.has(instance.sha256)) instances.set(instance.sha256, instance.chunks);
          }
          return file.write(exportEventLine(event, event.bodySha256));
        });
        await file.finish();
      } finally {
        await file.close();
      }
      const { highWaterSeq } = store.position(hospital, feed);
      output.push({ type: FEED_EVENTS_TYPE, url: path, feed, count: scan.events, bytes: file.bytes, sha256: file.sha256 });
      feedEntries.push({ feed, ...feedFigures(scan, highWaterSeq) });
      events += scan.events;
      bytes += file.bytes;
    }

    if (instances.size > 0) {
      await mkdir(join(scratch, 'blobs'), { mode: 0o700 });
      const written = new Set<string>();
      for (const [instanceSha256, chunks] of instances) {
        for (const chunk of await writeInstanceChunks(options.blobs, hospital, instanceSha256, chunks, scratch, written)) {
          output.push({ type: BLOB_CHUNK_TYPE, url: blobExportPath(chunk.sha256), count: 1, bytes: chunk.size, sha256: chunk.sha256 });
          bytes += chunk.size;
        }
      }
      await fsyncDirectory(join(scratch, 'blobs'));
    }
    await fsyncDirectory(join(scratch, 'feeds'));

    const ledgerHeads: ExportLedgerHead[] = (await store.ledgerHeads())
      .filter((head) => head.hospital === hospital && feeds.includes(head.feed))
      .map((head) => ({ feed: head.feed, ledgerIndex: head.ledgerIndex, ledgerHead: head.ledgerHead }));
    const manifest: ExportManifest = {
      transactionTime,
      request: options.request ?? ['wardline relay export --hospital', hospital, ...(options.feeds ?? []).flatMap((f) => ['--feed', f])].join(' '),
      requiresAccessToken: false,
      output,
      error: [],
      extension: {
        wardline: {
          format: EXPORT_FORMAT,
          hospital,
          relayId: options.relayId,
          signingKeyId: keyIdText(options.signingKey.keyId),
          feeds: feedEntries,
          ledgerHeads,
        },
      },
    };
    const manifestBytes = Buffer.from(exportManifestText(manifest), 'utf8');
    const manifestSha256 = createHash('sha256').update(manifestBytes).digest('hex');
    const signature = signMinisign(options.signingKey, manifestBytes, exportTrustedComment(hospital, transactionTime, manifestSha256), EXPORT_SIGNATURE_COMMENT);
    // The manifest and its signature last: a directory with a signed manifest is a whole one.
    for (const [name, content] of [
      [EXPORT_SUMS_FILE, exportSumsText(output)],
      [EXPORT_PUBLIC_KEY_FILE, publicKeyText(options.signingKey)],
      [EXPORT_MANIFEST_FILE, manifestBytes],
      [EXPORT_SIGNATURE_FILE, signature],
    ] as const) {
      bytes += await writeDurably(join(scratch, name), content);
    }
    await fsyncDirectory(scratch);
    // An empty directory the caller made is replaced; checkOutDir refused anything else.
    await rmdir(outDir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await rename(scratch, outDir);
    await fsyncDirectory(dirname(outDir));
    return { outDir, manifest, files: output.length + 4, events, bytes, elapsedMs: performance.now() - startedMs };
  } catch (error) {
    await rm(scratch, { recursive: true, force: true });
    throw error;
  }
}

/** The feeds to export, checked against what the relay holds of the hospital (sorted, without repeats). */
async function feedsToExport(store: FeedStore, hospital: string, asked: readonly string[] | undefined): Promise<string[]> {
  const held = (await store.feedSizes()).filter((size) => size.hospital === hospital).map((size) => size.feed);
  if (!asked || asked.length === 0) return held;
  for (const feed of asked) {
    if (!held.includes(feed)) throw new ExportUnknownFeedError(hospital, feed, held, safePosition(store, hospital, feed)?.revoked === true);
  }
  return [...new Set(asked)].sort();
}

function safePosition(store: FeedStore, hospital: string, feed: string): { revoked: boolean } | undefined {
  try {
    return store.position(hospital, feed);
  } catch {
    return undefined;
  }
}

/** Refuses an output path that exists and is not an empty directory. */
async function checkOutDir(outDir: string): Promise<void> {
  const found = await stat(outDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!found) return;
  if (!found.isDirectory()) throw new ExportOutDirError(outDir, 'exists and is not a directory');
  const entries = await readdir(outDir);
  if (entries.length > 0) throw new ExportOutDirError(outDir, `is not empty (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}, e.g. ${entries[0]})`);
}

/**
 * Writes the chunks of one instance not written yet (chunks are shared between
 * instances), cutting the instance's stream at its manifest's chunk sizes and
 * checking each chunk's SHA-256; returns the chunks written.
 */
async function writeInstanceChunks(
  blobs: BlobStore | undefined,
  hospital: string,
  instanceSha256: string,
  chunks: readonly BlobChunk[],
  scratch: string,
  written: Set<string>,
): Promise<BlobChunk[]> {
  if (chunks.every((chunk) => written.has(chunk.sha256))) return [];
  const opened = blobs && (await blobs.openInstance(hospital, instanceSha256));
  if (!opened) throw new ExportBlobDamagedError(hospital, instanceSha256, blobs ? 'the relay does not hold it whole' : 'this relay has no blob store');
  const fresh: BlobChunk[] = [];
  let index = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flushChunk = async (): Promise<void> => {
    const chunk = chunks[index]!;
    const data = Buffer.concat(pending, pendingBytes);
    const actual = createHash('sha256').update(data).digest('hex');
    if (actual !== chunk.sha256) throw new ExportBlobDamagedError(hospital, instanceSha256, `chunk ${index} reads with SHA-256 ${actual}, not ${chunk.sha256}`);
    if (!written.has(chunk.sha256)) {
      await writeDurably(join(scratch, blobExportPath(chunk.sha256)), data);
      written.add(chunk.sha256);
      fresh.push(chunk);
    }
    index += 1;
    pending = [];
    pendingBytes = 0;
  };
  for await (const piece of opened.stream as AsyncIterable<Buffer>) {
    let rest = piece;
    while (rest.length > 0) {
      if (index >= chunks.length) throw new ExportBlobDamagedError(hospital, instanceSha256, 'its bytes run past its last chunk');
      const take = Math.min(rest.length, chunks[index]!.size - pendingBytes);
      pending.push(rest.subarray(0, take));
      pendingBytes += take;
      rest = rest.subarray(take);
      if (pendingBytes === chunks[index]!.size) await flushChunk();
    }
  }
  if (index !== chunks.length) throw new ExportBlobDamagedError(hospital, instanceSha256, `it ends after ${index} of its ${chunks.length} chunks`);
  return fresh;
}

/** Writes a whole file and fsyncs it; returns its size. */
async function writeDurably(path: string, content: string | Buffer): Promise<number> {
  const handle = await open(path, 'wx', 0o600);
  try {
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    await handle.writeFile(data);
    await handle.sync();
    return data.length;
  } finally {
    await handle.close();
  }
}

/** A file written in large buffered writes, hashed as it goes. */
class HashingFile {
  private readonly hash = createHash('sha256');
  private parts: string[] = [];
  private partBytes = 0;
  bytes = 0;
  sha256 = '';

  private constructor(private readonly handle: FileHandle) {}

  static async create(path: string): Promise<HashingFile> {
    return new HashingFile(await open(path, 'wx', 0o600));
  }

  /** Adds text; returns a promise only when a buffer is flushed (so most events cost no await). */
  write(text: string): Promise<void> | undefined {
    this.parts.push(text);
    // Length in UTF-16 units: a bound for the buffer, not the byte count (which flush() takes).
    this.partBytes += text.length;
    return this.partBytes >= EXPORT_WRITE_BYTES ? this.flush() : undefined;
  }

  /** Flushes, fsyncs and fixes bytes and sha256. */
  async finish(): Promise<void> {
    await this.flush();
    await this.handle.sync();
    this.sha256 = this.hash.digest('hex');
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  private async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const data = Buffer.from(this.parts.join(''), 'utf8');
    this.parts = [];
    this.partBytes = 0;
    this.hash.update(data);
    this.bytes += data.length;
    for (let offset = 0; offset < data.length; ) offset += (await this.handle.write(data, offset)).bytesWritten;
  }
}
