// What is SQLite's own in SqliteFeedStore: the file's pragmas and the schema
// guard. The store's behaviour (decisions, pages, reopen, close) is the FeedStore
// contract, test/contract/feed-store.contract.ts, run against it in
// test/contract/feed-store.sqlite.contract.test.ts.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SchemaTooNewError } from '../../cloud-relay/errors.js';
import { SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { SCHEMA_VERSION } from '../../cloud-relay/store/migrations.js';
import { makeTempDir } from '../support/temp-dir.js';

describe('SqliteFeedStore (SQLite file)', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let file: string;
  let store: SqliteFeedStore;

  const open = () => SqliteFeedStore.open({ file });

  beforeEach(() => {
    dir = makeTempDir('wardline-feed-store-');
    file = join(dir.path, 'nested', 'relay.db');
    store = open();
  });

  afterEach(async () => {
    await store.close();
    dir.remove();
  });

  it('creates the schema with durable pragmas', () => {
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  it('refuses a database written by a newer relay', async () => {
    await store.close();
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => open()).toThrow(SchemaTooNewError);
    // Through the runner both programs share: the file, both versions and what to do.
    expect(() => open()).toThrow(
      `${file} has schema version ${SCHEMA_VERSION + 1}, but this Wardline relay knows only up to version ${SCHEMA_VERSION}`,
    );
    expect(() => open()).toThrow(/Install the newer Wardline again, or restore the backup of .* taken before the upgrade/);
  });

  it('brings a relay.db of schema 10 to migration 11: floor 0, body bytes counted, events by time', async () => {
    await store.close();
    const old = join(dir.path, 'v10', 'relay.db');
    SqliteFeedStore.open({ file: old }).close();
    // A relay.db as schema 10 left it (this build's file with migrations 12 and 11 undone), holding a feed.
    {
      const db = new Database(old);
      db.exec('DROP TABLE vendor_consumers');
      db.exec('DROP INDEX feed_events_by_time; ALTER TABLE feed_positions DROP COLUMN body_bytes; ALTER TABLE feed_positions DROP COLUMN retention_floor_seq');
      db.pragma('user_version = 10');
      const insert = db.prepare(
        `INSERT INTO feed_events (hospital, feed, seq, stream, key, op, ts_ms, source, content_type, body, headers, received_at_ms)
         VALUES ('h1', 'adt', ?, 'adt', ?, 'upsert', ?, 'lis', 'hl7v2', ?, '{"messageType":"ADT^A01"}', 1000)`,
      );
      for (let seq = 1; seq <= 5; seq++) insert.run(seq, `P${seq}`, 10_000 + seq, Buffer.alloc(100 * seq, 1));
      db.prepare("INSERT INTO feed_positions (hospital, feed, high_water_seq, event_count, updated_at_ms) VALUES ('h1', 'adt', 5, 5, 1000)").run();
      db.close();
    }
    store = SqliteFeedStore.open({ file: old });
    const db = new Database(old, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(db.prepare('SELECT retention_floor_seq, body_bytes FROM feed_positions').get()).toEqual({ retention_floor_seq: 0, body_bytes: 1500 });
      expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'feed_events_by_time'").get()).toEqual({ name: 'feed_events_by_time' });
    } finally {
      db.close();
    }
    expect(await store.feedRange('h1', 'adt')).toEqual({ highWater: 5, retentionFloorSeq: 0, oldestSeq: 1 });
    expect(await store.cursorAtTime('h1', 'adt', 10_003)).toBe(2);
    expect((await store.readEvents('h1', 'adt', 0, 10, undefined, undefined, { messageTypes: ['ADT'] })).events).toHaveLength(5);
    // The counted bytes drive the size rule: keeping 900 bytes keeps seqs 4 and 5.
    expect(await store.applyRetention('h1', 'adt', { maxBytes: 900 })).toEqual({ removedEvents: 3, removedBytes: 600, retentionFloorSeq: 3 });
  });
});
