// The InstanceArchive contract (agent/imaging/instance-archive.ts), what the DICOM
// source, the study routes and the blob shipper rely on:
//  1. ingestFile resolves once the chunks are durable: a second archive opened on
//     the same storage (a restarted agent) holds the instance and reads it back;
//     the manifest is the bytes exactly (whole SHA-256, 4 MiB chunks in order).
//  2. Ingesting the same bytes again writes nothing and returns the same manifest.
//  3. A chunk whose bytes no longer hash to its name is never served:
//     ArchiveCorruptError (WL_A026) from readChunk and from the instance stream,
//     before any byte of that chunk.
//  4. remove() drops one instance; a chunk another instance uses stays readable.
//  5. usage() is right straight after a reopen, and after a crash's leftovers.
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { AgentErrorCode } from '../../agent/errors.js';
import { ArchiveCorruptError, type InstanceArchive } from '../../agent/imaging/index.js';
import { BLOB_CHUNK_BYTES, chunkSizes, type BlobManifest } from '../../protocol/index.js';
import { testUids, writeDicomFile } from '../support/dicom-files.js';

export interface InstanceArchiveHarness {
  /** An open archive on fresh storage. */
  archive: InstanceArchive;
  /** A scratch directory for instance files (not the archive's). */
  scratch: string;
  /** Another archive opened on the same storage, as a restarted agent would; the caller closes it. */
  reopen(): Promise<InstanceArchive>;
  /** Flips one byte of the stored chunk (disk corruption). */
  corruptChunk(sha256: string): void;
  /** Something that changes whenever the storage is written (file names, sizes, mtimes, inodes). */
  storageStamp(): string;
  /** Leaves what a crash mid-write leaves behind (a half-written chunk); the next open must clean it up. */
  leaveCrashDebris(): void;
  /** Closes the archive and releases the storage. */
  dispose(): Promise<void>;
}

export type InstanceArchiveFactory = () => Promise<InstanceArchiveHarness>;

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes `size` random bytes (an instance as the archive sees it: bytes); returns them. */
function writeBytes(path: string, size: number): Buffer {
  const bytes = randomBytes(size);
  writeFileSync(path, bytes);
  return bytes;
}

async function streamed(archive: InstanceArchive, manifest: BlobManifest): Promise<{ bytes: Buffer; maxPiece: number }> {
  const pieces: Buffer[] = [];
  let maxPiece = 0;
  await pipeline(
    archive.createInstanceStream(manifest),
    new Writable({
      write(piece: Buffer, _encoding, done) {
        pieces.push(piece);
        maxPiece = Math.max(maxPiece, piece.length);
        done();
      },
    }),
  );
  return { bytes: Buffer.concat(pieces), maxPiece };
}

export function describeInstanceArchiveContract(label: string, factory: InstanceArchiveFactory): void {
  describe(`InstanceArchive contract: ${label}`, () => {
    function withHarness(test: (h: InstanceArchiveHarness) => Promise<void>): () => Promise<void> {
      return async () => {
        const h = await factory();
        try {
          await test(h);
        } finally {
          await h.dispose();
        }
      };
    }

    for (const [name, size] of [
      ['1 byte', 1],
      ['exactly 4 MiB', BLOB_CHUNK_BYTES],
      ['4 MiB + 1', BLOB_CHUNK_BYTES + 1],
      ['three chunks and a bit', 3 * BLOB_CHUNK_BYTES + 12_345],
    ] as const) {
      it(
        `keeps an instance of ${name}: the manifest is its bytes, and a reopened archive streams them back equal`,
        withHarness(async ({ archive, scratch, reopen }) => {
          const path = join(scratch, 'instance.bin');
          const bytes = writeBytes(path, size);
          const manifest = await archive.ingestFile(path);
          expect(manifest.sha256).toBe(sha256(bytes));
          expect(manifest.size).toBe(size);
          expect(manifest.chunks.map((c) => c.size)).toEqual(chunkSizes(size));
          let offset = 0;
          for (const chunk of manifest.chunks) {
            expect(chunk.sha256).toBe(sha256(bytes.subarray(offset, offset + chunk.size)));
            offset += chunk.size;
          }
          expect(archive.holds(manifest)).toBe(true);

          const again = await reopen();
          try {
            expect(again.holds(manifest)).toBe(true);
            const back = await streamed(again, manifest);
            expect(back.bytes.equals(bytes)).toBe(true);
            // Chunk by chunk, never the whole instance in one piece.
            expect(back.maxPiece).toBeLessThanOrEqual(BLOB_CHUNK_BYTES);
            expect((await again.readChunk(manifest.chunks[0]!.sha256)).equals(bytes.subarray(0, manifest.chunks[0]!.size))).toBe(true);
          } finally {
            await again.close();
          }
        }),
      );
    }

    it(
      'keeps a DICOM file byte for byte (multi-chunk multi-frame instance)',
      withHarness(async ({ archive, scratch }) => {
        const uids = testUids(9001);
        const path = join(scratch, 'ct.dcm');
        const size = writeDicomFile(path, { studyUid: uids.studyUid, seriesUid: uids.seriesUid(1), sopInstanceUid: uids.sopInstanceUid(1, 1), rows: 512, columns: 512, frames: 20 });
        const manifest = await archive.ingestFile(path);
        expect(manifest.size).toBe(size);
        expect(manifest.chunks.length).toBe(Math.ceil(size / BLOB_CHUNK_BYTES));
        const back = await streamed(archive, manifest);
        expect(sha256(back.bytes)).toBe(manifest.sha256);
      }),
    );

    it(
      'writes nothing when the same bytes come again, and returns the same manifest',
      withHarness(async ({ archive, scratch, storageStamp }) => {
        const first = join(scratch, 'first.bin');
        const bytes = writeBytes(first, 2 * BLOB_CHUNK_BYTES + 7);
        const manifest = await archive.ingestFile(first);
        const usage = archive.usage();
        const stamp = storageStamp();
        // The same bytes from another file (a PACS re-send lands under a new name).
        const second = join(scratch, 'second.bin');
        writeFileSync(second, bytes);
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(await archive.ingestFile(second)).toEqual(manifest);
        expect(storageStamp()).toBe(stamp);
        expect(archive.usage()).toEqual(usage);
      }),
    );

    it(
      'never serves a corrupt chunk: readChunk and the instance stream reject with WL_A026 naming the chunk',
      withHarness(async ({ archive, scratch, corruptChunk }) => {
        const path = join(scratch, 'instance.bin');
        const bytes = writeBytes(path, 2 * BLOB_CHUNK_BYTES + 100);
        const manifest = await archive.ingestFile(path);
        const bad = manifest.chunks[1]!.sha256;
        corruptChunk(bad);
        const read = archive.readChunk(bad);
        await expect(read).rejects.toBeInstanceOf(ArchiveCorruptError);
        await expect(read).rejects.toMatchObject({ code: AgentErrorCode.ARCHIVE_CORRUPT, sha256: bad });
        // The stream gives the first chunk (sound), then fails before any byte of the second.
        const received: Buffer[] = [];
        const outcome = pipeline(
          archive.createInstanceStream(manifest),
          new Writable({
            write(piece: Buffer, _encoding, done) {
              received.push(piece);
              done();
            },
          }),
        );
        await expect(outcome).rejects.toMatchObject({ code: AgentErrorCode.ARCHIVE_CORRUPT, sha256: bad });
        const got = Buffer.concat(received);
        expect(got.length).toBeLessThanOrEqual(BLOB_CHUNK_BYTES);
        expect(got.equals(bytes.subarray(0, got.length))).toBe(true);
        // The sound chunks are still served.
        expect((await archive.readChunk(manifest.chunks[2]!.sha256)).equals(bytes.subarray(2 * BLOB_CHUNK_BYTES))).toBe(true);
      }),
    );

    it(
      'remove() drops one instance and keeps a chunk another instance shares',
      withHarness(async ({ archive, scratch, reopen }) => {
        // Two instances whose first 4 MiB are the same bytes: one shared chunk.
        const shared = randomBytes(BLOB_CHUNK_BYTES);
        const a = Buffer.concat([shared, randomBytes(1000)]);
        const b = Buffer.concat([shared, randomBytes(2000)]);
        writeFileSync(join(scratch, 'a.bin'), a);
        writeFileSync(join(scratch, 'b.bin'), b);
        const ma = await archive.ingestFile(join(scratch, 'a.bin'));
        const mb = await archive.ingestFile(join(scratch, 'b.bin'));
        expect(ma.chunks[0]).toEqual(mb.chunks[0]);
        expect(archive.usage()).toEqual({ chunks: 3, bytes: BLOB_CHUNK_BYTES + 1000 + 2000, instances: 2 });

        await archive.remove(ma);
        expect(archive.holds(ma)).toBe(false);
        expect(archive.holds(mb)).toBe(true);
        expect(archive.usage()).toEqual({ chunks: 2, bytes: BLOB_CHUNK_BYTES + 2000, instances: 1 });
        expect((await streamed(archive, mb)).bytes.equals(b)).toBe(true);
        // Removing again, or an instance never held, changes nothing.
        await archive.remove(ma);
        expect(archive.usage()).toEqual({ chunks: 2, bytes: BLOB_CHUNK_BYTES + 2000, instances: 1 });

        await archive.remove(mb);
        expect(archive.usage()).toEqual({ chunks: 0, bytes: 0, instances: 0 });
        const again = await reopen();
        try {
          expect(again.usage()).toEqual({ chunks: 0, bytes: 0, instances: 0 });
          await expect(again.readChunk(mb.chunks[0]!.sha256)).rejects.toBeInstanceOf(ArchiveCorruptError);
        } finally {
          await again.close();
        }
      }),
    );

    it(
      'reports usage right after a reopen, and cleans up what a crash left mid-write',
      withHarness(async ({ archive, scratch, reopen, leaveCrashDebris }) => {
        const sizes = [1, BLOB_CHUNK_BYTES, BLOB_CHUNK_BYTES + 1];
        for (const [i, size] of sizes.entries()) {
          writeBytes(join(scratch, `${i}.bin`), size);
          await archive.ingestFile(join(scratch, `${i}.bin`));
        }
        const usage = archive.usage();
        expect(usage).toEqual({ chunks: 4, bytes: 1 + BLOB_CHUNK_BYTES + BLOB_CHUNK_BYTES + 1, instances: 3 });
        leaveCrashDebris();
        const again = await reopen();
        try {
          expect(again.usage()).toEqual(usage);
        } finally {
          await again.close();
        }
      }),
    );

    it(
      'takes instances in parallel without mixing their chunks',
      withHarness(async ({ archive, scratch }) => {
        const files = [0, 1, 2, 3].map((i) => {
          const path = join(scratch, `p${i}.bin`);
          return { path, bytes: writeBytes(path, BLOB_CHUNK_BYTES + 1000 * (i + 1)) };
        });
        const manifests = await Promise.all(files.map((f) => archive.ingestFile(f.path)));
        for (const [i, manifest] of manifests.entries()) expect((await streamed(archive, manifest)).bytes.equals(files[i]!.bytes)).toBe(true);
        expect(archive.usage().instances).toBe(4);
      }),
    );

    it(
      'refuses an empty file, naming it',
      withHarness(async ({ archive, scratch }) => {
        const path = join(scratch, 'empty.bin');
        writeFileSync(path, Buffer.alloc(0));
        await expect(archive.ingestFile(path)).rejects.toThrow(/empty\.bin is empty/);
        expect(archive.usage()).toEqual({ chunks: 0, bytes: 0, instances: 0 });
      }),
    );
  });
}
