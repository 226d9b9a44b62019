// The BlobStore port (blob-store.ts) on the relay's SQLite file and plain files:
// bookkeeping in the blob_* tables (migration 5), chunk bytes content-addressed
// per hospital under <dir>/<hospital>/<ab>/<sha>, a chunk being received under
// <dir>/<hospital>/partial/<sha>.
//
// Failure modes handled:
//  1. A cut mid-chunk (agent or relay killed, line down): the partial file keeps
//     what was written; its length is what offer() reports as partialBytes and
//     the only offset writePart takes, so the transfer resumes where it stopped.
//  2. A part at another offset (a duplicate resent after a cut, a second stream
//     racing on the same chunk): refused with what is held; parts of one chunk
//     are serialised in this process, so two writers never interleave.
//  3. A corrupt chunk (bytes altered on the way, a bug): the SHA-256 of the whole
//     chunk is checked before it is renamed into place; a mismatch deletes the
//     partial and says so, and the chunk starts again from 0.
//  4. Power loss after a chunk is acked as stored: the file is fsynced before the
//     rename and the directory after it, and the row saying it is held is
//     committed with synchronous=FULL only then.
//  5. A crash between the rename and the row (or after the last part was written
//     but before the rename): the file is found and re-verified the next time the
//     chunk is offered or written, and taken if its hash matches.
//  6. Chunks whose hash matches but which do not add up to the instance the agent
//     claimed: the whole SHA-256 is verified by streaming the chunks before the
//     instance is complete; a mismatch keeps it incomplete and the offer says so.
//  7. A large instance read by a vendor: streamed chunk by chunk, never whole in memory.
//  8. Revoke: the feed's references and offers go, then every chunk and partial of
//     the hospital no remaining reference or offer needs is unlinked from disk.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import type { BlobManifest } from '../../protocol/index.js';
import { makePrivateDir, preparePrivateSqliteFile } from '../../runtime/index.js';
import { FeedStoreClosedError } from '../errors.js';
import { manifestProblem, partProblem } from './blob-checks.js';
import {
  type BlobFeedDeletion,
  type BlobFeedUsage,
  type BlobReference,
  type BlobStore,
  type MissingChunk,
  type OfferAnswer,
  type PartAnswer,
} from './blob-store.js';
import { migrate } from './migrations.js';

export { manifestProblem } from './blob-checks.js';
import { DEFAULT_BUSY_TIMEOUT_MS } from './sqlite-feed-store.js';
import { blobFeedUsage, referenceOf, type ChunkRow, type FeedStatsRow, type RefRow, type RefUsageRow } from './blob-rows.js';

export interface SqliteBlobStoreOptions {
  /** The relay's SQLite file (`${dataDir}/relay.db`), shared with the feed store; migrated if needed. */
  file: string;
  /** Where chunk files live (`${dataDir}/blobs`); created if missing. */
  dir: string;
  /** Milliseconds since the epoch. Default Date.now. */
  now?: () => number;
  /** Default DEFAULT_BUSY_TIMEOUT_MS. */
  busyTimeoutMs?: number;
}

/** The folder of chunk files inside a relay's data dir. */
export function relayBlobDir(dataDir: string): string {
  return join(dataDir, 'blobs');
}

/** A held chunk's file: `<blobDir>/<hospital>/<first two hex digits>/<sha256>` (read also by `wardline relay migrate-store`). */
export function relayChunkFile(blobDir: string, hospital: string, sha256: string): string {
  return join(hospitalBlobDir(blobDir, hospital), sha256.slice(0, 2), sha256);
}

function hospitalBlobDir(blobDir: string, hospital: string): string {
  // Hospital names follow NAME_PATTERN, which allows "." and "..": those would leave the folder.
  return join(blobDir, /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(hospital) ? hospital : `~${Buffer.from(hospital).toString('hex')}`);
}

export class SqliteBlobStore implements BlobStore {
  private closed = false;
  private readonly now: () => number;
  private readonly dir: string;
  private readonly statements;
  /** Per (hospital, chunk): the tail of the writes to it, so parts of one chunk never interleave. */
  private readonly chunkLocks = new Map<string, Promise<unknown>>();

  private constructor(
    private readonly db: Database.Database,
    options: SqliteBlobStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.dir = options.dir;
    this.statements = {
      instance: db.prepare<[string, string], { size: number; chunk_count: number; complete: number }>(
        'SELECT size, chunk_count, complete FROM blob_instances WHERE hospital = ? AND sha256 = ?',
      ),
      insertInstance: db.prepare('INSERT INTO blob_instances (hospital, sha256, size, chunk_count, complete, created_at_ms) VALUES (?, ?, ?, ?, 0, ?)'),
      completeInstance: db.prepare('UPDATE blob_instances SET complete = 1 WHERE hospital = ? AND sha256 = ?'),
      instanceChunks: db.prepare<[string, string], ChunkRow>(
        'SELECT idx, chunk_sha256, size FROM blob_instance_chunks WHERE hospital = ? AND instance_sha256 = ? ORDER BY idx',
      ),
      insertInstanceChunk: db.prepare('INSERT INTO blob_instance_chunks (hospital, instance_sha256, idx, chunk_sha256, size) VALUES (?, ?, ?, ?, ?)'),
      chunkNamed: db.prepare<[string, string, number], { one: number }>(
        'SELECT 1 AS one FROM blob_instance_chunks WHERE hospital = ? AND chunk_sha256 = ? AND size = ? LIMIT 1',
      ),
      incompleteWithChunk: db.prepare<[string, string], { sha256: string }>(
        `SELECT DISTINCT i.sha256 FROM blob_instance_chunks ic
           JOIN blob_instances i ON i.hospital = ic.hospital AND i.sha256 = ic.instance_sha256
          WHERE ic.hospital = ? AND ic.chunk_sha256 = ? AND i.complete = 0`,
      ),
      chunksLacking: db.prepare<[string, string], { n: number }>(
        `SELECT COUNT(*) AS n FROM blob_instance_chunks ic
           LEFT JOIN blob_chunks c ON c.hospital = ic.hospital AND c.sha256 = ic.chunk_sha256
          WHERE ic.hospital = ? AND ic.instance_sha256 = ? AND c.sha256 IS NULL`,
      ),
      chunk: db.prepare<[string, string], { size: number }>('SELECT size FROM blob_chunks WHERE hospital = ? AND sha256 = ?'),
      insertChunk: db.prepare('INSERT OR IGNORE INTO blob_chunks (hospital, sha256, size, stored_at_ms) VALUES (?, ?, ?, ?)'),
      insertOffer: db.prepare('INSERT OR IGNORE INTO blob_offers (hospital, feed, instance_sha256, offered_at_ms) VALUES (?, ?, ?, ?)'),
      addStats: db.prepare(
        `INSERT INTO blob_feed_stats (hospital, feed, offered_bytes, deduped_bytes) VALUES (?, ?, ?, ?)
         ON CONFLICT (hospital, feed) DO UPDATE SET
           offered_bytes = offered_bytes + excluded.offered_bytes,
           deduped_bytes = deduped_bytes + excluded.deduped_bytes`,
      ),
      upsertRef: db.prepare(
        `INSERT INTO blob_refs (hospital, feed, seq, instance_sha256, study_uid, series_uid, sop_instance_uid, sop_class_uid)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (hospital, feed, seq) DO UPDATE SET
           instance_sha256 = excluded.instance_sha256, study_uid = excluded.study_uid, series_uid = excluded.series_uid,
           sop_instance_uid = excluded.sop_instance_uid, sop_class_uid = excluded.sop_class_uid`,
      ),
      deleteRef: db.prepare('DELETE FROM blob_refs WHERE hospital = ? AND feed = ? AND seq = ?'),
      studyRefs: db.prepare<[string, string, string, number], RefRow>(
        `SELECT r.seq, r.instance_sha256, i.size, r.study_uid, r.series_uid, r.sop_instance_uid, r.sop_class_uid
           FROM blob_refs r JOIN blob_instances i ON i.hospital = r.hospital AND i.sha256 = r.instance_sha256
          WHERE r.hospital = ? AND r.feed = ? AND r.study_uid = ? AND r.seq <= ? AND i.complete = 1
          ORDER BY r.series_uid, r.seq`,
      ),
      instanceRef: db.prepare<[string, string, string, string, number], RefRow>(
        `SELECT r.seq, r.instance_sha256, i.size, r.study_uid, r.series_uid, r.sop_instance_uid, r.sop_class_uid
           FROM blob_refs r JOIN blob_instances i ON i.hospital = r.hospital AND i.sha256 = r.instance_sha256
          WHERE r.hospital = ? AND r.feed = ? AND r.study_uid = ? AND r.sop_instance_uid = ? AND r.seq <= ? AND i.complete = 1
          ORDER BY r.seq DESC LIMIT 1`,
      ),
      deleteFeedRefs: db.prepare('DELETE FROM blob_refs WHERE hospital = ? AND feed = ?'),
      deleteFeedOffers: db.prepare('DELETE FROM blob_offers WHERE hospital = ? AND feed = ?'),
      deleteFeedStats: db.prepare('DELETE FROM blob_feed_stats WHERE hospital = ? AND feed = ?'),
      unneededInstances: db.prepare<{ hospital: string }, { sha256: string }>(
        `SELECT i.sha256 FROM blob_instances i
          WHERE i.hospital = @hospital
            AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.hospital = @hospital AND r.instance_sha256 = i.sha256)
            AND NOT EXISTS (SELECT 1 FROM blob_offers o WHERE o.hospital = @hospital AND o.instance_sha256 = i.sha256)`,
      ),
      deleteInstance: db.prepare('DELETE FROM blob_instances WHERE hospital = ? AND sha256 = ?'),
      deleteInstanceChunks: db.prepare('DELETE FROM blob_instance_chunks WHERE hospital = ? AND instance_sha256 = ?'),
      unneededChunks: db.prepare<{ hospital: string }, { sha256: string; size: number }>(
        `SELECT c.sha256, c.size FROM blob_chunks c
          WHERE c.hospital = @hospital AND NOT EXISTS (SELECT 1 FROM blob_instance_chunks ic WHERE ic.hospital = @hospital AND ic.chunk_sha256 = c.sha256)`,
      ),
      deleteChunk: db.prepare('DELETE FROM blob_chunks WHERE hospital = ? AND sha256 = ?'),
      chunkNeeded: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM blob_instance_chunks WHERE hospital = ? AND chunk_sha256 = ? LIMIT 1'),
      refUsage: db.prepare<[], RefUsageRow>(
        `SELECT d.hospital, d.feed, COUNT(*) AS instances, COALESCE(SUM(i.size), 0) AS bytes
           FROM (SELECT DISTINCT hospital, feed, instance_sha256 FROM blob_refs) d
           JOIN blob_instances i ON i.hospital = d.hospital AND i.sha256 = d.instance_sha256
          GROUP BY d.hospital, d.feed`,
      ),
      stats: db.prepare<[], FeedStatsRow>(
        'SELECT hospital, feed, offered_bytes, deduped_bytes FROM blob_feed_stats',
      ),
    };
  }

  /** Opens (and migrates) the relay database for blobs and creates the chunk folder. */
  static open(options: SqliteBlobStoreOptions): SqliteBlobStore {
    makePrivateDir(dirname(options.file));
    makePrivateDir(options.dir);
    preparePrivateSqliteFile(options.file);
    const db = new Database(options.file);
    try {
      // The same choices as the feed store (sqlite-feed-store.ts): WAL; FULL because a
      // stored chunk's row is what an ack promises; zeroed deletes because a revoke
      // promises the feed's references (study UIDs) are gone.
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`);
      db.pragma('secure_delete = ON');
      migrate(db, options.file);
      return new SqliteBlobStore(db, options);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  get open(): boolean {
    return !this.closed;
  }

  async offer(hospital: string, feed: string, manifest: BlobManifest): Promise<OfferAnswer> {
    this.assertOpen();
    const problem = manifestProblem(manifest);
    if (problem) return { error: problem };
    const instance = manifest.sha256;
    const recorded = this.db.transaction((): string | undefined => {
      const existing = this.statements.instance.get(hospital, instance);
      if (existing) {
        const chunks = this.statements.instanceChunks.all(hospital, instance);
        const same = existing.size === manifest.size && chunks.length === manifest.chunks.length && chunks.every((c, i) => c.chunk_sha256 === manifest.chunks[i]!.sha256 && c.size === manifest.chunks[i]!.size);
        if (!same) return `instance ${instance} was offered before with another size or chunk list (${existing.size} bytes in ${existing.chunk_count} chunks); a SHA-256 names one content`;
      } else {
        this.statements.insertInstance.run(hospital, instance, manifest.size, manifest.chunks.length, this.now());
        manifest.chunks.forEach((chunk, index) => this.statements.insertInstanceChunk.run(hospital, instance, index, chunk.sha256, chunk.size));
      }
      return undefined;
    })();
    if (recorded) return { error: recorded };

    const missing: MissingChunk[] = [];
    let heldBytes = 0;
    for (const [index, chunk] of manifest.chunks.entries()) {
      const held = await this.withChunkLock(hospital, chunk.sha256, () => this.heldOf(hospital, chunk.sha256, chunk.size));
      if (held === 'stored') heldBytes += chunk.size;
      else missing.push({ index, partialBytes: held });
    }
    // Counted once per (feed, instance): a re-offer after a cut is the same transfer, not a saving.
    const dedupedBytes = this.db.transaction(() => {
      if (this.statements.insertOffer.run(hospital, feed, instance, this.now()).changes === 0) return 0;
      this.statements.addStats.run(hospital, feed, manifest.size, heldBytes);
      return heldBytes;
    })();
    if (missing.length > 0) return { complete: false, missing, dedupedBytes };
    if (await this.completeIfWhole(hospital, instance)) return { complete: true, missing: [], dedupedBytes };
    return { error: `instance ${instance}: every chunk is held, but their bytes in order do not hash to the instance's SHA-256; the manifest is wrong` };
  }

  async writePart(hospital: string, chunkSha256: string, chunkSize: number, offset: number, data: Uint8Array): Promise<PartAnswer> {
    this.assertOpen();
    const refused = partProblem(chunkSha256, chunkSize, offset, data);
    if (refused) return { received: 0, stored: false, error: refused };
    if (!this.statements.chunkNamed.get(hospital, chunkSha256, chunkSize)) {
      if (this.statements.chunk.get(hospital, chunkSha256)?.size === chunkSize) return { received: chunkSize, stored: true };
      return { received: 0, stored: false, error: `chunk ${chunkSha256} of ${chunkSize} bytes is not in any instance this hospital offered; offer the instance first` };
    }
    const answer = await this.withChunkLock(hospital, chunkSha256, () => this.appendPart(hospital, chunkSha256, chunkSize, offset, data));
    if (answer.stored) {
      for (const { sha256 } of this.statements.incompleteWithChunk.all(hospital, chunkSha256)) await this.completeIfWhole(hospital, sha256);
    }
    return answer;
  }

  async isComplete(hospital: string, instanceSha256: string): Promise<boolean> {
    this.assertOpen();
    return this.statements.instance.get(hospital, instanceSha256)?.complete === 1;
  }

  async openInstance(hospital: string, instanceSha256: string): Promise<{ size: number; stream: Readable } | undefined> {
    this.assertOpen();
    const instance = this.statements.instance.get(hospital, instanceSha256);
    if (instance?.complete !== 1) return undefined;
    const paths = this.statements.instanceChunks.all(hospital, instanceSha256).map((c) => this.chunkPath(hospital, c.chunk_sha256));
    return { size: instance.size, stream: Readable.from(concatFiles(paths), { objectMode: false }) };
  }

  async recordReferences(hospital: string, feed: string, references: readonly BlobReference[]): Promise<void> {
    this.assertOpen();
    this.db.transaction(() => {
      for (const r of references) this.statements.upsertRef.run(hospital, feed, r.seq, r.sha256, r.studyUid, r.seriesUid, r.sopInstanceUid, r.sopClassUid);
    })();
  }

  async forgetReferences(hospital: string, feed: string, seqs: readonly number[]): Promise<void> {
    this.assertOpen();
    this.db.transaction(() => {
      for (const seq of seqs) this.statements.deleteRef.run(hospital, feed, seq);
    })();
  }

  async studyInstances(hospital: string, feed: string, studyUid: string, throughSeq: number): Promise<BlobReference[]> {
    this.assertOpen();
    return this.statements.studyRefs.all(hospital, feed, studyUid, throughSeq).map(referenceOf);
  }

  async instanceReference(hospital: string, feed: string, studyUid: string, sopInstanceUid: string, throughSeq: number): Promise<BlobReference | undefined> {
    this.assertOpen();
    const row = this.statements.instanceRef.get(hospital, feed, studyUid, sopInstanceUid, throughSeq);
    return row && referenceOf(row);
  }

  async deleteFeed(hospital: string, feed: string): Promise<BlobFeedDeletion> {
    this.assertOpen();
    const { references, chunks } = this.db.transaction(() => {
      const references = this.statements.deleteFeedRefs.run(hospital, feed).changes;
      this.statements.deleteFeedOffers.run(hospital, feed);
      this.statements.deleteFeedStats.run(hospital, feed);
      for (const { sha256 } of this.statements.unneededInstances.all({ hospital })) {
        this.statements.deleteInstanceChunks.run(hospital, sha256);
        this.statements.deleteInstance.run(hospital, sha256);
      }
      const chunks = this.statements.unneededChunks.all({ hospital });
      for (const chunk of chunks) this.statements.deleteChunk.run(hospital, chunk.sha256);
      return { references, chunks };
    }).immediate();
    // The rows are gone first: a crash here leaves files nobody names, never a row naming a missing file.
    let bytesDeleted = 0;
    for (const chunk of chunks) bytesDeleted += await unlinkCounting(this.chunkPath(hospital, chunk.sha256));
    bytesDeleted += await this.dropUnneededPartials(hospital);
    // The deleted references (study UIDs) must not linger in WAL frames either.
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    return { references, chunksDeleted: chunks.length, bytesDeleted };
  }

  async usage(): Promise<BlobFeedUsage[]> {
    this.assertOpen();
    return blobFeedUsage(this.statements.refUsage.all(), this.statements.stats.all());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A write in progress finishes its file work; its row would find the database closed.
    await Promise.allSettled([...this.chunkLocks.values()]);
    this.db.close();
  }

  /** 'stored', or the bytes of the chunk held in its partial file (re-verifying a file a crash left unrecorded). */
  private async heldOf(hospital: string, sha256: string, size: number): Promise<'stored' | number> {
    if (this.statements.chunk.get(hospital, sha256)) return 'stored';
    const final = this.chunkPath(hospital, sha256);
    if ((await fileSize(final)) === size) {
      if ((await sha256OfFile(final)) === sha256) {
        this.statements.insertChunk.run(hospital, sha256, size, this.now());
        return 'stored';
      }
      await unlinkCounting(final);
    }
    const partial = this.partialPath(hospital, sha256);
    const held = (await fileSize(partial)) ?? 0;
    if (held < size) return held;
    // Every byte arrived but the relay stopped before the rename: finish it now.
    return (await this.finishChunk(hospital, sha256, size)).stored ? 'stored' : 0;
  }

  private async appendPart(hospital: string, sha256: string, size: number, offset: number, data: Uint8Array): Promise<PartAnswer> {
    const held = await this.heldOf(hospital, sha256, size);
    if (held === 'stored') return { received: size, stored: true };
    if (offset !== held) {
      return { received: held, stored: false, error: `part of chunk ${sha256} at offset ${offset}, but the relay holds ${held} bytes of it; send from offset ${held}` };
    }
    const partial = this.partialPath(hospital, sha256);
    await mkdir(dirname(partial), { recursive: true, mode: 0o700 });
    const file = await open(partial, 'a', 0o600);
    try {
      await file.write(data);
    } finally {
      await file.close();
    }
    const received = offset + data.length;
    if (received < size) return { received, stored: false };
    return this.finishChunk(hospital, sha256, size);
  }

  /** Verifies a partial holding the whole chunk, makes it durable and records it; a mismatch discards it. */
  private async finishChunk(hospital: string, sha256: string, size: number): Promise<PartAnswer> {
    const partial = this.partialPath(hospital, sha256);
    const actual = await sha256OfFile(partial);
    if (actual !== sha256) {
      await unlinkCounting(partial);
      return { received: 0, stored: false, corrupt: true, error: `chunk ${sha256}: the ${size} bytes received hash to ${actual}; the relay discarded them, send the chunk again from offset 0` };
    }
    await fsyncPath(partial);
    const final = this.chunkPath(hospital, sha256);
    await mkdir(dirname(final), { recursive: true, mode: 0o700 });
    await rename(partial, final);
    await fsyncPath(dirname(final));
    this.statements.insertChunk.run(hospital, sha256, size, this.now());
    return { received: size, stored: true };
  }

  /** Marks the instance complete once every chunk is held and the bytes hash to its SHA-256; false otherwise. */
  private async completeIfWhole(hospital: string, instance: string): Promise<boolean> {
    const row = this.statements.instance.get(hospital, instance);
    if (!row) return false;
    if (row.complete === 1) return true;
    if ((this.statements.chunksLacking.get(hospital, instance)?.n ?? 1) > 0) return false;
    const hash = createHash('sha256');
    const paths = this.statements.instanceChunks.all(hospital, instance).map((c) => this.chunkPath(hospital, c.chunk_sha256));
    for await (const buffer of concatFiles(paths)) hash.update(buffer);
    if (hash.digest('hex') !== instance) return false;
    this.statements.completeInstance.run(hospital, instance);
    return true;
  }

  /** Unlinks partial files of the hospital no remaining instance names; returns their bytes. */
  private async dropUnneededPartials(hospital: string): Promise<number> {
    const dir = join(this.hospitalDir(hospital), 'partial');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return 0;
    }
    let bytes = 0;
    for (const name of names) {
      if (!this.statements.chunkNeeded.get(hospital, name)) {
        bytes += await this.withChunkLock(hospital, name, () => unlinkCounting(join(dir, name)));
      }
    }
    return bytes;
  }

  private async withChunkLock<T>(hospital: string, sha256: string, job: () => Promise<T>): Promise<T> {
    const key = `${hospital}/${sha256}`;
    const before = this.chunkLocks.get(key) ?? Promise.resolve();
    const run = before.then(job, job);
    const tail = run.catch(() => undefined);
    this.chunkLocks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.chunkLocks.get(key) === tail) this.chunkLocks.delete(key);
    }
  }

  private hospitalDir(hospital: string): string {
    return hospitalBlobDir(this.dir, hospital);
  }

  private chunkPath(hospital: string, sha256: string): string {
    return relayChunkFile(this.dir, hospital, sha256);
  }

  private partialPath(hospital: string, sha256: string): string {
    return join(this.hospitalDir(hospital), 'partial', sha256);
  }

  private assertOpen(): void {
    if (this.closed) throw new FeedStoreClosedError();
  }
}

async function* concatFiles(paths: readonly string[]): AsyncGenerator<Buffer> {
  for (const path of paths) {
    for await (const buffer of createReadStream(path, { highWaterMark: 256 * 1024 })) yield buffer as Buffer;
  }
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const buffer of createReadStream(path, { highWaterMark: 256 * 1024 })) hash.update(buffer as Buffer);
  return hash.digest('hex');
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Unlinks the file if it exists; returns the bytes it held (0 when absent). */
async function unlinkCounting(path: string): Promise<number> {
  const size = await fileSize(path);
  if (size === undefined) return 0;
  try {
    await unlink(path);
    return size;
  } catch {
    return 0;
  }
}
