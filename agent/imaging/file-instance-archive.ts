// InstanceArchive on the local file system: chunks under <dir>/chunks/<first two
// hex>/<sha256>, and the book of what is held and who uses it in <dir>/archive.db
// (archive-database.ts).
//
// Failure modes handled:
//  1. A crash while a chunk is written: it is written under tmp/, fsynced,
//     renamed to its hash and its directory fsynced, so a chunk name holds the
//     whole chunk or nothing; tmp/ is emptied at open.
//  2. A crash between a chunk's rename and the commit of its reference, or
//     between a removal's commit and its unlink: the chunk was listed in
//     chunk_intents first, and open() unlinks every listed chunk no reference
//     names, so no file on disk escapes usage() (and the disk budget).
//  3. The same instance ingested again (a PACS re-send): its hash is in the book,
//     nothing is written, the same manifest comes back.
//  4. A chunk two instances share: removing one drops only its reference; the
//     chunk goes with the last reference.
//  5. Bit rot or a truncated file: every read re-hashes the chunk and rejects
//     with ArchiveCorruptError (WL_A026) instead of serving the bytes.
//  6. A large instance: read and written through fs/promises a chunk at a time,
//     so the event loop serves other associations and HTTP between chunks.
//  7. Retention removing while an ingest references a chunk it found held: the
//     two are kept apart (archive-lock.ts).
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { BLOB_CHUNK_BYTES, type BlobManifest } from '../../protocol/index.js';
import { fsyncDirectory } from '../../runtime/index.js';
import { openArchiveDatabase } from './archive-database.js';
import { ArchiveLock } from './archive-lock.js';
import { ArchiveCorruptError, type ArchiveUsage, type InstanceArchive } from './instance-archive.js';

export interface FileInstanceArchiveOptions {
  /** The archive's directory (the agent uses <dataDir>/archive). */
  dir: string;
  /** Milliseconds since the epoch; injected for tests. */
  clock?: () => number;
}

/** What this archive has written since it was opened (the contract suite checks re-ingest writes nothing). */
export interface ArchiveWriteCounters {
  chunksWritten: number;
  bytesWritten: number;
}

interface Book {
  db: Database.Database;
  chunkHeld: Statement;
  instanceHeld: Statement;
  insertIntent: Statement;
  commitIngest: (manifest: BlobManifest, atMs: number) => { instance: number; chunks: number; bytes: number };
  dropInstance: (sha256: string) => { held: boolean; freed: { sha256: string; size: number }[] };
  forgetIntents: (shas: readonly string[]) => void;
}

export class FileInstanceArchive implements InstanceArchive {
  private readonly chunksDir: string;
  private readonly tmpDir: string;
  private readonly clock: () => number;
  private readonly lock = new ArchiveLock();
  private book: Book | undefined;
  private held: ArchiveUsage = { chunks: 0, bytes: 0, instances: 0 };
  readonly written: ArchiveWriteCounters = { chunksWritten: 0, bytesWritten: 0 };

  constructor(private readonly options: FileInstanceArchiveOptions) {
    this.chunksDir = join(options.dir, 'chunks');
    this.tmpDir = join(options.dir, 'tmp');
    this.clock = options.clock ?? Date.now;
  }

  async open(): Promise<void> {
    mkdirSync(this.chunksDir, { recursive: true });
    rmSync(this.tmpDir, { recursive: true, force: true });
    mkdirSync(this.tmpDir, { recursive: true });
    const db = openArchiveDatabase(join(this.options.dir, 'archive.db'));
    const book = prepareBook(db);
    this.book = book;
    // Failure mode 2: chunks written or doomed when the last run stopped, that no instance names.
    const orphans = db
      .prepare('SELECT sha256 FROM chunk_intents i WHERE NOT EXISTS (SELECT 1 FROM chunk_refs r WHERE r.chunk = i.sha256)')
      .pluck()
      .all() as string[];
    for (const sha256 of orphans) rmSync(this.chunkPath(sha256), { force: true });
    db.transaction(() => {
      const drop = db.prepare('DELETE FROM chunks WHERE sha256 = ? AND NOT EXISTS (SELECT 1 FROM chunk_refs WHERE chunk = ?)');
      for (const sha256 of orphans) drop.run(sha256, sha256);
      db.prepare('DELETE FROM chunk_intents').run();
    })();
    const totals = db.prepare('SELECT COUNT(*) AS chunks, COALESCE(SUM(size), 0) AS bytes FROM chunks').get() as { chunks: number; bytes: number };
    const instances = (db.prepare('SELECT COUNT(*) FROM instances').pluck().get() as number) ?? 0;
    this.held = { chunks: totals.chunks, bytes: totals.bytes, instances };
  }

  ingestFile(path: string): Promise<BlobManifest> {
    return this.lock.withShared(() => this.ingest(path));
  }

  holds(manifest: BlobManifest): boolean {
    const book = this.opened();
    return manifest.chunks.every((chunk) => (book.chunkHeld.get(chunk.sha256) as { size: number } | undefined)?.size === chunk.size);
  }

  async readChunk(sha256: string): Promise<Buffer> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.chunkPath(sha256));
    } catch (error) {
      throw new ArchiveCorruptError(sha256, `cannot be read: ${(error as Error).message}`);
    }
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== sha256) throw new ArchiveCorruptError(sha256, `its bytes hash to ${actual}`);
    return bytes;
  }

  createInstanceStream(manifest: BlobManifest): Readable {
    const archive = this;
    // One chunk in memory at a time; a corrupt chunk errors the stream before any of its bytes are pushed.
    return Readable.from(
      (async function* () {
        for (const chunk of manifest.chunks) yield await archive.readChunk(chunk.sha256);
      })(),
      { objectMode: false, highWaterMark: 1 },
    );
  }

  usage(): ArchiveUsage {
    return { ...this.held };
  }

  remove(manifest: BlobManifest): Promise<void> {
    return this.lock.withExclusive(async () => {
      const book = this.opened();
      const { held, freed } = book.dropInstance(manifest.sha256);
      if (held) this.held.instances--;
      for (const chunk of freed) await rm(this.chunkPath(chunk.sha256), { force: true });
      book.forgetIntents(freed.map((c) => c.sha256));
      this.held.chunks -= freed.length;
      this.held.bytes -= freed.reduce((sum, c) => sum + c.size, 0);
    });
  }

  async close(): Promise<void> {
    await this.lock.withExclusive(async () => {
      this.book?.db.close();
      this.book = undefined;
    });
  }

  private opened(): Book {
    if (!this.book) throw new Error('the instance archive is not open');
    return this.book;
  }

  private chunkPath(sha256: string): string {
    return join(this.chunksDir, sha256.slice(0, 2), sha256);
  }

  private async ingest(path: string): Promise<BlobManifest> {
    const book = this.opened();
    const whole = createHash('sha256');
    const chunks: BlobManifest['chunks'] = [];
    const pending: { sha256: string; temp: string }[] = [];
    const file = await open(path, 'r');
    const buffer = Buffer.allocUnsafe(BLOB_CHUNK_BYTES);
    try {
      for (;;) {
        let filled = 0;
        while (filled < BLOB_CHUNK_BYTES) {
          const { bytesRead } = await file.read(buffer, filled, BLOB_CHUNK_BYTES - filled, null);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        if (filled === 0) break;
        const bytes = buffer.subarray(0, filled);
        whole.update(bytes);
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        chunks.push({ sha256, size: filled });
        // Failure mode 3: a chunk in the book is on disk; a chunk met twice in one instance is written once.
        if (!book.chunkHeld.get(sha256) && !pending.some((p) => p.sha256 === sha256)) {
          pending.push({ sha256, temp: await this.writeTemp(bytes) });
        }
        if (filled < BLOB_CHUNK_BYTES) break;
      }
    } catch (error) {
      await Promise.all(pending.map((p) => rm(p.temp, { force: true })));
      throw error;
    } finally {
      await file.close();
    }
    if (chunks.length === 0) throw new Error(`${path} is empty: an instance has at least one byte`);
    const manifest: BlobManifest = { sha256: whole.digest('hex'), size: chunks.reduce((sum, c) => sum + c.size, 0), chunks };
    if (pending.length > 0) {
      // Listed before any becomes visible under its name (failure mode 2).
      book.db.transaction(() => {
        for (const p of pending) book.insertIntent.run(p.sha256);
      })();
      const dirs = new Set<string>();
      for (const p of pending) {
        const dir = join(this.chunksDir, p.sha256.slice(0, 2));
        if (!dirs.has(dir)) await mkdir(dir, { recursive: true });
        dirs.add(dir);
        await rename(p.temp, this.chunkPath(p.sha256));
      }
      for (const dir of dirs) await fsyncDirectory(dir);
    }
    // Failure mode 3: an instance already in the book costs no write at all, not even to archive.db.
    if (pending.length === 0 && book.instanceHeld.get(manifest.sha256)) return manifest;
    const added = book.commitIngest(manifest, this.clock());
    this.held.instances += added.instance;
    this.held.chunks += added.chunks;
    this.held.bytes += added.bytes;
    return manifest;
  }

  /** Writes a chunk under tmp/ and fsyncs it; returns its temporary path. */
  private async writeTemp(bytes: Buffer): Promise<string> {
    const temp = join(this.tmpDir, `${randomBytes(8).toString('hex')}.partial`);
    const handle = await open(temp, 'w');
    try {
      let written = 0;
      while (written < bytes.length) written += (await handle.write(bytes, written, bytes.length - written)).bytesWritten;
      await handle.sync();
    } finally {
      await handle.close();
    }
    this.written.chunksWritten++;
    this.written.bytesWritten += bytes.length;
    return temp;
  }
}

function prepareBook(db: Database.Database): Book {
  const chunkHeld = db.prepare('SELECT size FROM chunks WHERE sha256 = ?');
  const instanceHeld = db.prepare('SELECT 1 FROM instances WHERE sha256 = ?');
  const insertIntent = db.prepare('INSERT OR IGNORE INTO chunk_intents (sha256) VALUES (?)');
  const insertChunk = db.prepare('INSERT OR IGNORE INTO chunks (sha256, size) VALUES (?, ?)');
  const insertInstance = db.prepare('INSERT OR IGNORE INTO instances (sha256, size, chunks, ingested_at_ms) VALUES (?, ?, ?, ?)');
  const insertRef = db.prepare('INSERT OR IGNORE INTO chunk_refs (chunk, instance) VALUES (?, ?)');
  const deleteIntent = db.prepare('DELETE FROM chunk_intents WHERE sha256 = ?');
  const deleteInstance = db.prepare('DELETE FROM instances WHERE sha256 = ?');
  const refsOf = db.prepare('SELECT chunk FROM chunk_refs WHERE instance = ?').pluck();
  const deleteRefs = db.prepare('DELETE FROM chunk_refs WHERE instance = ?');
  const stillUsed = db.prepare('SELECT 1 FROM chunk_refs WHERE chunk = ? LIMIT 1');
  const deleteChunk = db.prepare('DELETE FROM chunks WHERE sha256 = ? RETURNING size');
  return {
    db,
    chunkHeld,
    instanceHeld,
    insertIntent,
    /** Registers the instance and its chunks; returns what the book did not hold before. */
    commitIngest: db.transaction((manifest: BlobManifest, atMs: number) => {
      const added = { instance: insertInstance.run(manifest.sha256, manifest.size, JSON.stringify(manifest.chunks), atMs).changes, chunks: 0, bytes: 0 };
      for (const chunk of manifest.chunks) {
        if (insertChunk.run(chunk.sha256, chunk.size).changes > 0) {
          added.chunks++;
          added.bytes += chunk.size;
        }
        insertRef.run(chunk.sha256, manifest.sha256);
        deleteIntent.run(chunk.sha256);
      }
      return added;
    }),
    /** Drops the instance's references; returns the chunks no instance uses any more (listed as intents, to unlink). */
    dropInstance: db.transaction((sha256: string) => {
      const chunks = refsOf.all(sha256) as string[];
      deleteRefs.run(sha256);
      const held = deleteInstance.run(sha256).changes > 0;
      const freed: { sha256: string; size: number }[] = [];
      for (const chunk of chunks) {
        if (stillUsed.get(chunk)) continue;
        const row = deleteChunk.get(chunk) as { size: number } | undefined;
        if (!row) continue;
        insertIntent.run(chunk);
        freed.push({ sha256: chunk, size: row.size });
      }
      return { held, freed };
    }),
    forgetIntents: db.transaction((shas: readonly string[]) => {
      for (const sha256 of shas) deleteIntent.run(sha256);
    }),
  };
}

/** Chunk files present under a chunks directory (for checks and tests): every name but temporaries. */
export function listChunkFiles(chunksDir: string): string[] {
  const names: string[] = [];
  for (const prefix of readdirSync(chunksDir)) {
    for (const name of readdirSync(join(chunksDir, prefix))) {
      if (statSync(join(chunksDir, prefix, name)).isFile()) names.push(name);
    }
  }
  return names;
}
