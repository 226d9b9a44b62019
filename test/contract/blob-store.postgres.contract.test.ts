// The BlobStore contract against PostgresBlobStore on a database of its own on the
// machine's PostgreSQL (chunk bytes in the database), plus what only several relay
// processes on one database can show: a chunk sent to one is read at the other, and
// two processes writing the same chunk at once never interleave its bytes.
import { afterEach, describe, expect, it } from 'vitest';
import { migratePostgres, PG_MIGRATIONS, PostgresBlobStore, RelayDatabase } from '../../cloud-relay/store/postgres/index.js';
import { makeInstance } from '../support/blob-instance.js';
import { createRelayTestDatabase } from '../support/relay-test-database.js';
import { describeBlobStoreContract } from './blob-store.contract.js';

async function connect(url: string): Promise<RelayDatabase> {
  return RelayDatabase.connect({ url, poolMax: 4, connectTimeoutMs: 5_000, applicationName: 'wardline-test' });
}

describeBlobStoreContract('PostgresBlobStore', async (hooks) => {
  const db = await createRelayTestDatabase('blobs');
  const database = await connect(db.url);
  await migratePostgres(database, PG_MIGRATIONS);
  let current = await PostgresBlobStore.open({ database, ...hooks });
  return {
    store: current,
    reopen: async () => (current = await PostgresBlobStore.open({ database, ...hooks })),
    cleanup: async () => {
      await current.close();
      await database.close();
      await db.drop();
    },
  };
});

describe('PostgresBlobStore across relay processes', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function twoProcesses(): Promise<[PostgresBlobStore, PostgresBlobStore]> {
    const db = await createRelayTestDatabase('blobs_two');
    cleanups.push(() => db.drop());
    const databases = [await connect(db.url), await connect(db.url)];
    cleanups.push(async () => void (await Promise.all(databases.map((d) => d.close()))));
    await migratePostgres(databases[0]!, PG_MIGRATIONS);
    return [await PostgresBlobStore.open({ database: databases[0]! }), await PostgresBlobStore.open({ database: databases[1]! })];
  }

  it('a transfer cut at one process resumes at the other, and a vendor there reads the exact bytes', async () => {
    const [a, b] = await twoProcesses();
    const instance = makeInstance(300_000, 'hop');
    const chunk = instance.manifest.chunks[0]!;
    await a.offer('h', 'imaging', instance.manifest);
    expect((await a.writePart('h', chunk.sha256, chunk.size, 0, instance.chunks[0]!.subarray(0, 100_000))).received).toBe(100_000);
    expect(await b.offer('h', 'imaging', instance.manifest)).toEqual({ complete: false, missing: [{ index: 0, partialBytes: 100_000 }], dedupedBytes: 0 });
    expect((await b.writePart('h', chunk.sha256, chunk.size, 100_000, instance.chunks[0]!.subarray(100_000))).stored).toBe(true);
    expect(await a.isComplete('h', instance.manifest.sha256)).toBe(true);
    const opened = await a.openInstance('h', instance.manifest.sha256);
    const pieces: Buffer[] = [];
    for await (const piece of opened!.stream) pieces.push(piece as Buffer);
    expect(Buffer.concat(pieces).equals(instance.bytes)).toBe(true);
  });

  it('the same parts written by two processes at once: each offset taken once, the chunk stored whole', async () => {
    const [a, b] = await twoProcesses();
    const instance = makeInstance(200_000, 'race');
    const chunk = instance.manifest.chunks[0]!;
    await a.offer('h', 'imaging', instance.manifest);
    for (let offset = 0; offset < chunk.size; offset += 50_000) {
      const part = instance.chunks[0]!.subarray(offset, offset + 50_000);
      const answers = await Promise.all([a.writePart('h', chunk.sha256, chunk.size, offset, part), b.writePart('h', chunk.sha256, chunk.size, offset, part)]);
      // One takes the part; the other is refused with what is held now (or told the chunk is stored).
      expect(answers.filter((x) => x.error === undefined).length).toBeGreaterThanOrEqual(1);
      expect(answers.every((x) => x.received === offset + part.length)).toBe(true);
    }
    expect(await b.isComplete('h', instance.manifest.sha256)).toBe(true);
  });

  it('a revoke racing offers of the same hospital at another process never leaves an offer without its instance', async () => {
    const [a, b] = await twoProcesses();
    const kept = makeInstance(10_000, 'revoke-race-kept');
    const gone = makeInstance(10_000, 'revoke-race-gone');
    await a.offer('h', 'old', gone.manifest);
    for (let round = 0; round < 10; round++) {
      const [offered] = await Promise.all([b.offer('h', `new-${round}`, kept.manifest), a.deleteFeed('h', 'old'), a.deleteFeed('h', `new-${round - 1}`)]);
      expect('error' in offered).toBe(false);
      // The instance just offered is still recorded: its chunk is still asked for, at either process.
      expect(await a.offer('h', `new-${round}`, kept.manifest)).toEqual({ complete: false, missing: [{ index: 0, partialBytes: 0 }], dedupedBytes: 0 });
    }
    const chunk = kept.manifest.chunks[0]!;
    expect((await a.writePart('h', chunk.sha256, chunk.size, 0, kept.chunks[0]!)).stored).toBe(true);
    expect(await b.isComplete('h', kept.manifest.sha256)).toBe(true);
  });
});
