// The InboundStore contract against SqliteInboundStore: the relay's SQLite file in a temp dir,
// plus what only SQLite can show: the pragmas a 202 relies on, and an id collision.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteInboundStore } from '../../cloud-relay/inbound/index.js';
import { SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { declaration, describeInboundStoreContract } from './inbound-store.contract.js';

describeInboundStoreContract('SqliteInboundStore', async () => {
  const dir = makeTempDir('wardline-inbound-store-contract-');
  const file = join(dir.path, 'relay-data', 'relay.db');
  let current = SqliteInboundStore.open({ file });
  return {
    store: current,
    reopen: async () => (current = SqliteInboundStore.open({ file })),
    cleanup: async () => {
      await current.close();
      dir.remove();
    },
  };
});

describe('SqliteInboundStore on SQLite', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) dir.remove();
  });

  it('shares relay.db with the feed store, in WAL with synchronous=FULL, and enforces one final receipt in SQL', async () => {
    const dir = makeTempDir('wardline-inbound-sqlite-');
    dirs.push(dir);
    const file = join(dir.path, 'relay.db');
    const feeds = SqliteFeedStore.open({ file });
    const store = SqliteInboundStore.open({ file });
    await store.declareChannels('h', [declaration('bookings')], 1);
    const written = await store.write({ hospital: 'h', channel: 'bookings', vendor: 'v', idempotencyKey: 'k', contentType: 'json', body: Buffer.from('{}'), key: 'p', receivedAtMs: 1, expiresAtMs: 100 });
    expect(written.kind).toBe('created');
    await store.close();
    await feeds.close();

    const db = new Database(file);
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const id = written.kind === 'created' ? written.record.id : '';
      const insert = db.prepare(
        `INSERT INTO inbound_receipts (hospital, channel, receipt_seq, id, vendor, key, outcome, final, code, reason, reference, attempts, decided_at_ms, stored_at_ms)
         VALUES ('h', 'bookings', ?, ?, 'v', 'p', ?, 1, '', '', '', ?, 1, 1)`,
      );
      insert.run(1, id, 'accepted', 1);
      expect(() => insert.run(2, id, 'refused', 2)).toThrow(/UNIQUE/);
    } finally {
      db.close();
    }
    // The store's own connection: synchronous=FULL (2) is what makes a resolved write durable.
    const reopened = SqliteInboundStore.open({ file });
    expect((reopened as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true })).toBe(2);
    await reopened.close();
  });

  it('draws another id when the first is taken at the hospital', async () => {
    const dir = makeTempDir('wardline-inbound-sqlite-');
    dirs.push(dir);
    const ids = ['ibaaaaaaaaaaaaaaaaaa', 'ibaaaaaaaaaaaaaaaaaa', 'ibbbbbbbbbbbbbbbbbbb'];
    const store = SqliteInboundStore.open({ file: join(dir.path, 'relay.db'), newId: () => ids.shift()! });
    await store.declareChannels('h', [declaration('bookings')], 1);
    const base = { hospital: 'h', channel: 'bookings', vendor: 'v', contentType: 'json', body: Buffer.from('{}'), key: 'p', receivedAtMs: 1, expiresAtMs: 100 };
    const a = await store.write({ ...base, idempotencyKey: 'a' });
    const b = await store.write({ ...base, idempotencyKey: 'b' });
    expect(a.kind === 'created' && a.record.id).toBe('ibaaaaaaaaaaaaaaaaaa');
    expect(b.kind === 'created' && b.record.id).toBe('ibbbbbbbbbbbbbbbbbbb');
    await store.close();
  });
});
