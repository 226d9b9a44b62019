// The InstanceArchive contract against FileInstanceArchive on real files in a
// temp dir, plus what only the file layout can show: the crash windows around a
// chunk's rename (failure modes 1 and 2 of file-instance-archive.ts).
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readdirSync, readSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileInstanceArchive } from '../../agent/imaging/index.js';
import { BLOB_CHUNK_BYTES } from '../../protocol/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { describeInstanceArchiveContract, type InstanceArchiveHarness } from './instance-archive.contract.js';

function chunkPath(dir: string, sha256: string): string {
  return join(dir, 'chunks', sha256.slice(0, 2), sha256);
}

/** Every file under dir with its size, mtime and inode: any write changes it. */
function stampOf(dir: string): string {
  const lines: string[] = [];
  const walk = (at: string): void => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      const stat = statSync(path, { bigint: true });
      if (stat.isDirectory()) walk(path);
      else if (!name.endsWith('-shm')) lines.push(`${path} ${stat.size} ${stat.mtimeNs} ${stat.ino}`);
    }
  };
  walk(dir);
  return lines.join('\n');
}

function flipByte(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  try {
    const one = Buffer.alloc(1);
    readSync(fd, one, 0, 1, offset);
    one[0] = one[0]! ^ 0xff;
    writeSync(fd, one, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

async function fileHarness(): Promise<InstanceArchiveHarness> {
  const temp = makeTempDir('wardline-archive-contract-');
  const dir = join(temp.path, 'archive');
  const scratch = join(temp.path, 'scratch');
  mkdirSync(scratch);
  const archive = new FileInstanceArchive({ dir });
  await archive.open();
  return {
    archive,
    scratch,
    reopen: async () => {
      const again = new FileInstanceArchive({ dir });
      await again.open();
      return again;
    },
    corruptChunk: (sha256) => flipByte(chunkPath(dir, sha256), 17),
    storageStamp: () => stampOf(dir),
    leaveCrashDebris: () => {
      // A chunk cut off mid-write under tmp/ (failure mode 1) ...
      writeFileSync(join(dir, 'tmp', 'deadbeef.partial'), randomBytes(1000));
      // ... and one renamed under its name whose reference never committed (failure mode 2).
      const orphan = 'ab'.padEnd(64, '0');
      mkdirSync(join(dir, 'chunks', 'ab'), { recursive: true });
      writeFileSync(chunkPath(dir, orphan), randomBytes(2000));
      const db = new Database(join(dir, 'archive.db'));
      db.prepare('INSERT INTO chunk_intents (sha256) VALUES (?)').run(orphan);
      db.close();
    },
    dispose: async () => {
      await archive.close();
      temp.remove();
    },
  };
}

describeInstanceArchiveContract('FileInstanceArchive', fileHarness);

describe('FileInstanceArchive on disk', () => {
  it('removes crash debris at open: the half-written temporary and the chunk no reference names', async () => {
    const h = await fileHarness();
    try {
      const dir = join(h.scratch, '..', 'archive');
      h.leaveCrashDebris();
      const orphan = chunkPath(dir, 'ab'.padEnd(64, '0'));
      expect(existsSync(orphan)).toBe(true);
      const again = await h.reopen();
      await again.close();
      expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
      expect(existsSync(orphan)).toBe(false);
    } finally {
      await h.dispose();
    }
  });

  it('writes each new chunk once and none for a re-ingest (write counters)', async () => {
    const temp = makeTempDir('wardline-archive-writes-');
    const archive = new FileInstanceArchive({ dir: join(temp.path, 'archive') });
    await archive.open();
    try {
      const path = join(temp.path, 'x.bin');
      writeFileSync(path, randomBytes(2 * BLOB_CHUNK_BYTES + 1));
      await archive.ingestFile(path);
      expect(archive.written).toEqual({ chunksWritten: 3, bytesWritten: 2 * BLOB_CHUNK_BYTES + 1 });
      await archive.ingestFile(path);
      expect(archive.written).toEqual({ chunksWritten: 3, bytesWritten: 2 * BLOB_CHUNK_BYTES + 1 });
    } finally {
      await archive.close();
      temp.remove();
    }
  });

  it('keeps serving other work while a large instance is ingested (yields between chunks)', async () => {
    const temp = makeTempDir('wardline-archive-yield-');
    const archive = new FileInstanceArchive({ dir: join(temp.path, 'archive') });
    await archive.open();
    try {
      const path = join(temp.path, 'big.bin');
      writeFileSync(path, randomBytes(12 * BLOB_CHUNK_BYTES));
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      await archive.ingestFile(path);
      clearInterval(timer);
      // 12 chunks, each with async reads, writes and fsyncs: timers ran in between.
      expect(ticks).toBeGreaterThan(3);
    } finally {
      await archive.close();
      temp.remove();
    }
  });
});
