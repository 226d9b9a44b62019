// The BlobStore contract (cloud-relay/store/blob-store.ts), run against every
// backend: SQLite and files now (blob-store.sqlite.contract.test.ts), a
// networked backend next. What ingest and the vendor routes rely on:
//  1. offer() answers the chunks missing and how much of each is held; a part is
//     taken only at exactly the held offset (else refused with `received`).
//  2. A chunk whose bytes do not hash to its name is discarded (received 0).
//  3. The part that completes an instance's last chunk verifies the whole
//     SHA-256 before the instance is complete; chunks that hash right but do
//     not make up the instance never make it complete.
//  4. A re-offer of what the hospital holds costs nothing (dedupedBytes once per
//     feed, a part for a stored chunk answers stored); chunks are never shared
//     across hospitals.
//  5. A malformed or contradicting manifest is refused and records nothing.
//  6. References count only through throughSeq and only for complete instances.
//  7. deleteFeed() removes what nothing else of the hospital needs, from disk too.
//  8. Everything survives close() and a reopen; openInstance() streams the exact bytes.
// Nothing here knows how a backend keeps its data: a backend hands the suite a
// store, a way to reopen the same storage after close(), and a cleanup.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FeedStoreClosedError } from '../../cloud-relay/errors.js';
import { MAX_BLOB_PART_BYTES, type BlobReference, type BlobStore } from '../../cloud-relay/store/index.js';
import { BLOB_CHUNK_BYTES, type BlobManifest } from '../../protocol/index.js';
import { makeInstance, type TestInstance } from '../support/blob-instance.js';

/** What the suite gives a backend to open with: its clock (ms since the epoch). */
export interface BlobStoreHooks {
  now: () => number;
}

export interface BlobStoreFixture {
  store: BlobStore;
  /** Opens the same storage again, with the same hooks (the previous store is closed first by the suite). */
  reopen(): Promise<BlobStore>;
  /** Closes whatever is open and removes the storage. */
  cleanup(): Promise<void>;
}

const STUDY = '1.2.826.0.1.3680043.10.42';
/** Two chunks, the second short. */
const TWO_CHUNKS = BLOB_CHUNK_BYTES + 123_457;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The reference a stored blob-ref event at `seq` records for `instance`. */
function referenceOf(seq: number, instance: TestInstance): BlobReference {
  const { studyUid, seriesUid, sopInstanceUid, sopClassUid } = instance.body;
  return { seq, sha256: instance.manifest.sha256, size: instance.manifest.size, studyUid, seriesUid, sopInstanceUid, sopClassUid };
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const pieces: Buffer[] = [];
  for await (const piece of stream) pieces.push(piece);
  return pieces;
}

export function describeBlobStoreContract(label: string, open: (hooks: BlobStoreHooks) => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${label}`, () => {
    let fixture: BlobStoreFixture;
    let store: BlobStore;
    let clock: number;

    beforeEach(async () => {
      clock = 1_700_000_000_000;
      fixture = await open({ now: () => clock });
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    async function reopen(): Promise<void> {
      await store.close();
      store = await fixture.reopen();
    }

    /** Writes bytes [from, until) of chunk `index` in parts as large as the store takes; the last answer. */
    async function sendChunk(hospital: string, instance: TestInstance, index: number, from = 0, until = instance.chunks[index]!.length) {
      const chunk = instance.chunks[index]!;
      let answer;
      for (let offset = from; offset < until; offset += MAX_BLOB_PART_BYTES) {
        const data = chunk.subarray(offset, Math.min(until, offset + MAX_BLOB_PART_BYTES));
        answer = await store.writePart(hospital, instance.manifest.chunks[index]!.sha256, chunk.length, offset, data);
        expect(answer.error, `part at ${offset} of chunk ${index}`).toBeUndefined();
        expect(answer.received).toBe(offset + data.length);
      }
      return answer!;
    }

    /** Offers `instance` for (hospital, feed) and sends every chunk it lacks. */
    async function holdWhole(hospital: string, feed: string, instance: TestInstance): Promise<void> {
      const answer = await store.offer(hospital, feed, instance.manifest);
      if ('error' in answer) throw new Error(answer.error);
      for (const { index, partialBytes } of answer.missing) await sendChunk(hospital, instance, index, partialBytes);
      expect(await store.isComplete(hospital, instance.manifest.sha256)).toBe(true);
    }

    it('answers the chunks missing and how much of each is held, and takes a part only at the held offset', async () => {
      const instance = makeInstance(TWO_CHUNKS, 'missing');
      expect(await store.offer('h1', 'imaging', instance.manifest)).toEqual({
        complete: false,
        missing: [
          { index: 0, partialBytes: 0 },
          { index: 1, partialBytes: 0 },
        ],
        dedupedBytes: 0,
      });
      await sendChunk('h1', instance, 0);
      await sendChunk('h1', instance, 1, 0, 50_000);
      // A re-offer (after a cut) is the same transfer: it says where to resume, and saved nothing.
      expect(await store.offer('h1', 'imaging', instance.manifest)).toEqual({ complete: false, missing: [{ index: 1, partialBytes: 50_000 }], dedupedBytes: 0 });

      const chunk = instance.manifest.chunks[1]!;
      const size = instance.chunks[1]!.length;
      for (const offset of [0, 40_000, 60_000]) {
        const refused = await store.writePart('h1', chunk.sha256, size, offset, instance.chunks[1]!.subarray(offset, offset + 10_000));
        expect(refused.error, `offset ${offset}`).toEqual(expect.any(String));
        expect(refused).toMatchObject({ received: 50_000, stored: false });
      }
      // The refused parts left nothing behind: the transfer resumes at 50 000 and completes.
      expect((await sendChunk('h1', instance, 1, 50_000)).stored).toBe(true);
      expect(await store.isComplete('h1', instance.manifest.sha256)).toBe(true);
    });

    it('refuses a part for a chunk no offer of the hospital names, and one that runs past the chunk', async () => {
      const instance = makeInstance(1000, 'unnamed');
      const chunk = instance.manifest.chunks[0]!;
      expect(await store.writePart('h1', chunk.sha256, 1000, 0, instance.chunks[0]!)).toMatchObject({ received: 0, stored: false, error: expect.any(String) });
      await store.offer('h1', 'imaging', instance.manifest);
      // Offered at h1 only: h2 may not write it.
      expect(await store.writePart('h2', chunk.sha256, 1000, 0, instance.chunks[0]!)).toMatchObject({ stored: false, error: expect.any(String) });
      expect(await store.writePart('h1', chunk.sha256, 1000, 900, Buffer.alloc(200))).toMatchObject({ stored: false, error: expect.any(String) });
      expect(await store.writePart('h1', chunk.sha256, 1000, 0, instance.chunks[0]!)).toEqual({ received: 1000, stored: true });
    });

    it('discards a chunk whose bytes do not hash to its name; it starts again from 0', async () => {
      const instance = makeInstance(300_000, 'corrupt');
      await store.offer('h1', 'imaging', instance.manifest);
      const { sha256: name, size } = instance.manifest.chunks[0]!;
      expect(await store.writePart('h1', name, size, 0, instance.chunks[0]!.subarray(0, 200_000))).toEqual({ received: 200_000, stored: false });
      const altered = Buffer.from(instance.chunks[0]!.subarray(200_000));
      altered[17] = altered[17]! ^ 0xff;
      const answer = await store.writePart('h1', name, size, 200_000, altered);
      expect(answer).toMatchObject({ received: 0, stored: false, corrupt: true, error: expect.any(String) });
      expect(await store.isComplete('h1', instance.manifest.sha256)).toBe(false);
      expect(await store.openInstance('h1', instance.manifest.sha256)).toBeUndefined();
      expect(await store.offer('h1', 'imaging', instance.manifest)).toMatchObject({ complete: false, missing: [{ index: 0, partialBytes: 0 }] });
      expect((await sendChunk('h1', instance, 0)).stored).toBe(true);
      expect(await store.isComplete('h1', instance.manifest.sha256)).toBe(true);
    });

    it("completes an instance with the part that stores its last chunk, once the whole SHA-256 matched", async () => {
      const instance = makeInstance(TWO_CHUNKS, 'complete');
      await store.offer('h1', 'imaging', instance.manifest);
      await sendChunk('h1', instance, 1);
      expect(await store.isComplete('h1', instance.manifest.sha256)).toBe(false);
      const size = instance.chunks[0]!.length;
      await sendChunk('h1', instance, 0, 0, size - 10);
      expect(await store.isComplete('h1', instance.manifest.sha256)).toBe(false);
      const last = await store.writePart('h1', instance.manifest.chunks[0]!.sha256, size, size - 10, instance.chunks[0]!.subarray(size - 10));
      expect(last).toEqual({ received: size, stored: true });
      // Complete when writePart resolved, not later.
      expect(await store.isComplete('h1', instance.manifest.sha256)).toBe(true);
      expect(await store.offer('h1', 'imaging', instance.manifest)).toEqual({ complete: true, missing: [], dedupedBytes: 0 });
    });

    it('never completes an instance whose chunks hash right but do not hash to its SHA-256 in order', async () => {
      const a = makeInstance(BLOB_CHUNK_BYTES, 'order-a');
      const b = makeInstance(5_000, 'order-b');
      // The chunks of a then b, claimed to be the instance "b then a" would be: every chunk is right, the whole is not.
      const lying: BlobManifest = { sha256: sha256(Buffer.concat([b.bytes, a.bytes])), size: a.manifest.size + b.manifest.size, chunks: [...a.manifest.chunks, ...b.manifest.chunks] };
      expect(await store.offer('h1', 'imaging', lying)).toMatchObject({ complete: false });
      expect((await sendChunk('h1', a, 0)).stored).toBe(true);
      expect((await store.writePart('h1', b.manifest.chunks[0]!.sha256, 5_000, 0, b.chunks[0]!)).stored).toBe(true);
      expect(await store.isComplete('h1', lying.sha256)).toBe(false);
      expect(await store.openInstance('h1', lying.sha256)).toBeUndefined();
      expect(await store.offer('h1', 'imaging', lying)).toEqual({ error: expect.any(String) });
      // The true instance made of the same chunks completes.
      const truthful: BlobManifest = { sha256: sha256(Buffer.concat([a.bytes, b.bytes])), size: lying.size, chunks: lying.chunks };
      expect(await store.offer('h1', 'imaging', truthful)).toEqual({ complete: true, missing: [], dedupedBytes: truthful.size });
    });

    it('costs nothing to re-offer a complete instance: another feed is told it is held, and what that saved', async () => {
      const instance = makeInstance(TWO_CHUNKS, 'dedupe');
      await holdWhole('h1', 'imaging', instance);
      expect(await store.offer('h1', 'research', instance.manifest)).toEqual({ complete: true, missing: [], dedupedBytes: TWO_CHUNKS });
      // Counted once per feed: the same feed offering again saved nothing more.
      expect(await store.offer('h1', 'research', instance.manifest)).toEqual({ complete: true, missing: [], dedupedBytes: 0 });
      const { sha256: name, size } = instance.manifest.chunks[0]!;
      expect(await store.writePart('h1', name, size, 0, instance.chunks[0]!.subarray(0, 10))).toEqual({ received: size, stored: true });
      expect(await store.usage()).toEqual([
        { hospital: 'h1', feed: 'imaging', instances: 0, bytes: 0, dedupedBytes: 0, offeredBytes: TWO_CHUNKS },
        { hospital: 'h1', feed: 'research', instances: 0, bytes: 0, dedupedBytes: TWO_CHUNKS, offeredBytes: TWO_CHUNKS },
      ]);
      // Never across hospitals: h2 must send its own copy.
      expect(await store.offer('h2', 'imaging', instance.manifest)).toMatchObject({ complete: false, dedupedBytes: 0, missing: [{ index: 0 }, { index: 1 }] });
      expect(await store.isComplete('h2', instance.manifest.sha256)).toBe(false);
      expect(await store.openInstance('h2', instance.manifest.sha256)).toBeUndefined();
    });

    it('refuses a malformed or contradicting manifest and records nothing', async () => {
      const instance = makeInstance(TWO_CHUNKS, 'malformed');
      const m = instance.manifest;
      const [first, second] = m.chunks as [BlobManifest['chunks'][number], BlobManifest['chunks'][number]];
      const malformed: BlobManifest[] = [
        { ...m, sha256: 'xyz' },
        { ...m, sha256: m.sha256.toUpperCase() },
        { ...m, size: 0 },
        { ...m, chunks: [] },
        { ...m, chunks: [{ ...first, sha256: first.sha256.slice(2) }, second] },
        { ...m, chunks: [{ ...first, size: BLOB_CHUNK_BYTES - 1 }, { ...second, size: second.size + 1 }] },
        { ...m, chunks: [first, { ...second, size: BLOB_CHUNK_BYTES + 1 }], size: BLOB_CHUNK_BYTES * 2 + 1 },
        { ...m, size: m.size + 1 },
      ];
      for (const [i, manifest] of malformed.entries()) expect(await store.offer('h1', 'imaging', manifest), `manifest ${i}`).toEqual({ error: expect.any(String) });
      expect(await store.usage()).toEqual([]);
      expect(await store.writePart('h1', first.sha256, first.size, 0, instance.chunks[0]!.subarray(0, 10))).toMatchObject({ stored: false, error: expect.any(String) });

      // Once recorded, a SHA-256 names one content: another chunk list under it is refused.
      expect(await store.offer('h1', 'imaging', m)).toMatchObject({ complete: false });
      const other = makeInstance(TWO_CHUNKS, 'malformed-other').manifest;
      expect(await store.offer('h1', 'research', { ...other, sha256: m.sha256 })).toEqual({ error: expect.any(String) });
      expect((await store.usage()).map((u) => u.feed)).toEqual(['imaging']);
      expect(await store.writePart('h1', other.chunks[0]!.sha256, BLOB_CHUNK_BYTES, 0, Buffer.alloc(10))).toMatchObject({ stored: false, error: expect.any(String) });
    });

    it('shows references only through throughSeq and only for complete instances, by series then seq', async () => {
      const a = makeInstance(2_000, 'ref-a', { studyUid: STUDY, seriesUid: `${STUDY}.2`, sopInstanceUid: `${STUDY}.2.1` });
      const b = makeInstance(3_000, 'ref-b', { studyUid: STUDY, seriesUid: `${STUDY}.1`, sopInstanceUid: `${STUDY}.1.1` });
      const incomplete = makeInstance(4_000, 'ref-incomplete', { studyUid: STUDY, seriesUid: `${STUDY}.1`, sopInstanceUid: `${STUDY}.1.2` });
      await holdWhole('h1', 'imaging', a);
      await holdWhole('h1', 'imaging', b);
      await store.offer('h1', 'imaging', incomplete.manifest);
      await store.recordReferences('h1', 'imaging', [referenceOf(3, a), referenceOf(5, b), referenceOf(6, incomplete)]);

      expect(await store.studyInstances('h1', 'imaging', STUDY, 2)).toEqual([]);
      expect(await store.studyInstances('h1', 'imaging', STUDY, 4)).toEqual([referenceOf(3, a)]);
      expect(await store.studyInstances('h1', 'imaging', STUDY, 100)).toEqual([referenceOf(5, b), referenceOf(3, a)]);
      expect(await store.instanceReference('h1', 'imaging', STUDY, b.body.sopInstanceUid, 4)).toBeUndefined();
      expect(await store.instanceReference('h1', 'imaging', STUDY, b.body.sopInstanceUid, 5)).toEqual(referenceOf(5, b));
      expect(await store.instanceReference('h1', 'imaging', STUDY, incomplete.body.sopInstanceUid, 100)).toBeUndefined();
      // Scoped to the study, the feed and the hospital.
      expect(await store.instanceReference('h1', 'imaging', `${STUDY}.9`, b.body.sopInstanceUid, 100)).toBeUndefined();
      expect(await store.studyInstances('h1', 'research', STUDY, 100)).toEqual([]);
      expect(await store.studyInstances('h2', 'imaging', STUDY, 100)).toEqual([]);

      // The same SOP instance sent again: the latest seq through throughSeq names it.
      const corrected = { ...referenceOf(7, a), seriesUid: `${STUDY}.3` };
      await store.recordReferences('h1', 'imaging', [corrected]);
      expect(await store.instanceReference('h1', 'imaging', STUDY, a.body.sopInstanceUid, 6)).toEqual(referenceOf(3, a));
      expect(await store.instanceReference('h1', 'imaging', STUDY, a.body.sopInstanceUid, 7)).toEqual(corrected);

      // Recording a seq again replaces it; forgetting drops it.
      await store.recordReferences('h1', 'imaging', [referenceOf(3, b)]);
      expect(await store.studyInstances('h1', 'imaging', STUDY, 4)).toEqual([referenceOf(3, b)]);
      await store.forgetReferences('h1', 'imaging', [3, 7]);
      expect(await store.studyInstances('h1', 'imaging', STUDY, 100)).toEqual([referenceOf(5, b)]);
      expect(await store.usage()).toEqual([expect.objectContaining({ hospital: 'h1', feed: 'imaging', instances: 2, bytes: b.manifest.size + incomplete.manifest.size })]);
    });

    it("deletes a feed's references and offers, and every chunk nothing else of the hospital needs, partials too", async () => {
      const shared = makeInstance(TWO_CHUNKS, 'delete-shared', { studyUid: STUDY });
      const own = makeInstance(TWO_CHUNKS, 'delete-own', { studyUid: STUDY });
      const partial = makeInstance(500_000, 'delete-partial', { studyUid: STUDY });
      await holdWhole('h1', 'imaging', shared);
      await holdWhole('h1', 'imaging', own);
      await store.offer('h1', 'imaging', partial.manifest);
      await sendChunk('h1', partial, 0, 0, 100_000);
      await store.recordReferences('h1', 'imaging', [referenceOf(1, shared), referenceOf(2, own)]);
      await store.offer('h1', 'research', shared.manifest);
      await store.recordReferences('h1', 'research', [referenceOf(1, shared)]);
      // The same bytes at another hospital are that hospital's own.
      await holdWhole('h2', 'imaging', own);

      expect(await store.deleteFeed('h1', 'imaging')).toEqual({ references: 2, chunksDeleted: 2, bytesDeleted: TWO_CHUNKS + 100_000 });
      expect(await store.studyInstances('h1', 'imaging', STUDY, 100)).toEqual([]);
      expect(await store.isComplete('h1', own.manifest.sha256)).toBe(false);
      expect(await store.openInstance('h1', own.manifest.sha256)).toBeUndefined();
      // What research still names is whole and readable.
      const opened = await store.openInstance('h1', shared.manifest.sha256);
      expect(Buffer.concat(await readAll(opened!.stream)).equals(shared.bytes)).toBe(true);
      expect((await store.openInstance('h2', own.manifest.sha256))?.size).toBe(TWO_CHUNKS);

      expect(await store.deleteFeed('h1', 'research')).toEqual({ references: 1, chunksDeleted: 2, bytesDeleted: TWO_CHUNKS });
      expect(await store.isComplete('h1', shared.manifest.sha256)).toBe(false);
      // Idempotent.
      expect(await store.deleteFeed('h1', 'research')).toEqual({ references: 0, chunksDeleted: 0, bytesDeleted: 0 });
      expect((await store.usage()).map((u) => `${u.hospital}/${u.feed}`)).toEqual(['h2/imaging']);
      expect(await store.isComplete('h2', own.manifest.sha256)).toBe(true);
    });

    it('keeps complete instances, partial chunks and references across close and reopen', async () => {
      const whole = makeInstance(TWO_CHUNKS, 'reopen-whole', { studyUid: STUDY });
      const partial = makeInstance(TWO_CHUNKS, 'reopen-partial', { studyUid: STUDY });
      await holdWhole('h1', 'imaging', whole);
      await store.recordReferences('h1', 'imaging', [referenceOf(4, whole)]);
      await store.offer('h1', 'imaging', partial.manifest);
      await sendChunk('h1', partial, 0);
      await sendChunk('h1', partial, 1, 0, 70_000);
      await reopen();
      expect(store.open).toBe(true);
      expect(await store.isComplete('h1', whole.manifest.sha256)).toBe(true);
      expect(await store.studyInstances('h1', 'imaging', STUDY, 4)).toEqual([referenceOf(4, whole)]);
      expect(await store.offer('h1', 'imaging', partial.manifest)).toEqual({ complete: false, missing: [{ index: 1, partialBytes: 70_000 }], dedupedBytes: 0 });
      expect((await sendChunk('h1', partial, 1, 70_000)).stored).toBe(true);
      const opened = await store.openInstance('h1', whole.manifest.sha256);
      expect(Buffer.concat(await readAll(opened!.stream)).equals(whole.bytes)).toBe(true);
      expect(await store.isComplete('h1', partial.manifest.sha256)).toBe(true);
    });

    it('streams an instance as its exact bytes, chunk by chunk, and only a complete one', async () => {
      const instance = makeInstance(2 * BLOB_CHUNK_BYTES + 1, 'stream');
      await store.offer('h1', 'imaging', instance.manifest);
      await sendChunk('h1', instance, 0);
      await sendChunk('h1', instance, 2);
      expect(await store.openInstance('h1', instance.manifest.sha256)).toBeUndefined();
      await sendChunk('h1', instance, 1);
      const opened = await store.openInstance('h1', instance.manifest.sha256);
      expect(opened?.size).toBe(instance.bytes.length);
      const pieces = await readAll(opened!.stream);
      const bytes = Buffer.concat(pieces);
      expect(bytes.length).toBe(instance.bytes.length);
      expect(sha256(bytes)).toBe(instance.manifest.sha256);
      // Never the whole instance in one piece.
      expect(Math.max(...pieces.map((p) => p.length))).toBeLessThanOrEqual(BLOB_CHUNK_BYTES);
      expect(await store.openInstance('h1', sha256(Buffer.from('unknown')))).toBeUndefined();
    });

    it('rejects every call with FeedStoreClosedError once closed; close is idempotent', async () => {
      const instance = makeInstance(1000, 'closed');
      await store.close();
      await store.close();
      expect(store.open).toBe(false);
      const { sha256: name } = instance.manifest.chunks[0]!;
      const calls: (() => Promise<unknown>)[] = [
        () => store.offer('h1', 'imaging', instance.manifest),
        () => store.writePart('h1', name, 1000, 0, instance.chunks[0]!),
        () => store.isComplete('h1', instance.manifest.sha256),
        () => store.openInstance('h1', instance.manifest.sha256),
        () => store.recordReferences('h1', 'imaging', [referenceOf(1, instance)]),
        () => store.forgetReferences('h1', 'imaging', [1]),
        () => store.studyInstances('h1', 'imaging', STUDY, 1),
        () => store.instanceReference('h1', 'imaging', STUDY, instance.body.sopInstanceUid, 1),
        () => store.deleteFeed('h1', 'imaging'),
        () => store.usage(),
      ];
      for (const call of calls) await expect(Promise.resolve().then(call)).rejects.toBeInstanceOf(FeedStoreClosedError);
      store = await fixture.reopen();
    });
  });
}
