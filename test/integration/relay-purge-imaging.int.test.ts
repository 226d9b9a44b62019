// Purge of a feed that carries imaging, on a real relay store and chunk folder:
// the feed's blob references go, and so do the chunks (files included) no other
// feed of the hospital still names; a chunk the other feed needs stays and its
// instance is still served whole. The receipt counts the instances, chunks and
// chunk bytes, and no byte of the purged-only instance is left in any file.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FeedPurger } from '../../cloud-relay/exit/index.js';
import { MAX_BLOB_PART_BYTES, relayBlobDir, relayDatabaseFile, SqliteBlobStore, SqliteFeedStore, type BlobReference } from '../../cloud-relay/store/index.js';
import { BLOB_CHUNK_BYTES } from '../../protocol/index.js';
import { generateMinisignKey } from '../../runtime/index.js';
import { blobRefEvent, makeInstance, type TestInstance } from '../support/blob-instance.js';
import { makeTempDir } from '../support/temp-dir.js';

const referenceOf = (seq: number, instance: TestInstance): BlobReference => ({
  seq,
  sha256: instance.manifest.sha256,
  size: instance.manifest.size,
  studyUid: instance.body.studyUid,
  seriesUid: instance.body.seriesUid,
  sopInstanceUid: instance.body.sopInstanceUid,
  sopClassUid: instance.body.sopClassUid,
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

describe('relay: purge of a feed with imaging', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let store: SqliteFeedStore;
  let blobs: SqliteBlobStore;

  beforeEach(() => {
    dir = makeTempDir('wardline-purge-imaging-');
    const file = relayDatabaseFile(dir.path);
    store = SqliteFeedStore.open({ file });
    blobs = SqliteBlobStore.open({ file, dir: relayBlobDir(dir.path) });
  });
  afterEach(async () => {
    await blobs.close();
    await store.close();
    dir.remove();
  });

  async function hold(feed: string, instance: TestInstance): Promise<void> {
    const answer = await blobs.offer('h1', feed, instance.manifest);
    if ('error' in answer) throw new Error(answer.error);
    for (const { index } of answer.missing) {
      const chunk = instance.chunks[index]!;
      for (let offset = 0; offset < chunk.length; offset += MAX_BLOB_PART_BYTES) {
        const written = await blobs.writePart('h1', instance.manifest.chunks[index]!.sha256, chunk.length, offset, chunk.subarray(offset, offset + MAX_BLOB_PART_BYTES));
        expect(written.error).toBeUndefined();
      }
    }
  }

  it('deletes the chunks only the purged feed named, keeps the shared one, and says so in the receipt', async () => {
    const own = makeInstance(BLOB_CHUNK_BYTES + 5_000, 'own', { sopInstanceUid: '1.2.3.1' });
    const shared = makeInstance(70_000, 'shared', { sopInstanceUid: '1.2.3.2' });
    await hold('imaging', own);
    await hold('imaging', shared);
    await hold('archive', shared);
    for (const [feed, events] of [['imaging', [blobRefEvent(1, own), blobRefEvent(2, shared)]], ['archive', [blobRefEvent(1, shared)]]] as const) {
      await blobs.recordReferences('h1', feed, events.map((e) => referenceOf(e.seq, e.seq === 1 && feed === 'imaging' ? own : shared)));
      expect((await store.storeBatch({ hospital: 'h1', feed, firstSeq: 1, lastSeq: events.length, events: [...events] })).decision.kind).toBe('append');
    }

    const ownSample = own.chunks[0]!.subarray(1_000, 1_064);
    expect(filesUnder(dir.path).filter((f) => readFileSync(f).includes(ownSample)).length).toBeGreaterThan(0);
    const purger = new FeedPurger({ store, blobs, signingKey: generateMinisignKey(), relayId: 'r', now: Date.now });
    const { receipt } = await purger.purge({ hospital: 'h1', feed: 'imaging', reason: 'test', requestedBy: 'test' });
    expect(receipt.feeds[0]).toMatchObject({ feed: 'imaging', eventsDeleted: 2, blobInstances: 2, blobChunks: own.chunks.length, chunkBytes: own.manifest.size });

    const files = filesUnder(dir.path);
    expect(files.filter((f) => readFileSync(f).includes(ownSample))).toEqual([]);
    expect(await blobs.isComplete('h1', own.manifest.sha256)).toBe(false);
    // The other feed's instance is still whole and served.
    const served = await blobs.openInstance('h1', shared.manifest.sha256);
    const pieces: Buffer[] = [];
    for await (const piece of served!.stream) pieces.push(piece as Buffer);
    expect(Buffer.concat(pieces).equals(shared.bytes)).toBe(true);
  });
});
