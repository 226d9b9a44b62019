import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FeedStoreClosedError, SchemaTooNewError } from '../../cloud-relay/errors.js';
import { FeedStore } from '../../cloud-relay/store/feed-store.js';
import { SCHEMA_VERSION } from '../../cloud-relay/store/migrations.js';
import { makeTempDir } from '../support/temp-dir.js';
import { makeEvent, makeEvents } from './relay-harness.js';

describe('FeedStore (SQLite file)', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let file: string;
  let store: FeedStore;
  let advances: [string, string, number][];
  let clock: number;

  const open = () => FeedStore.open({ file, now: () => clock, onAdvance: (h, f, hw) => advances.push([h, f, hw]) });

  beforeEach(() => {
    dir = makeTempDir('wardline-feed-store-');
    file = join(dir.path, 'nested', 'relay.db');
    advances = [];
    clock = 1_700_000_000_000;
    store = open();
  });

  afterEach(() => {
    store.close();
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

  it('appends, ignores duplicates, stores only the new part of an overlap, refuses a gap', () => {
    expect(store.storeBatch('h1', 'adt', 1, 5, makeEvents(1, 5))).toEqual({ decision: { kind: 'append' }, highWater: 5, storedEvents: 5 });
    expect(store.storeBatch('h1', 'adt', 1, 5, makeEvents(1, 5))).toEqual({ decision: { kind: 'duplicate' }, highWater: 5, storedEvents: 0 });
    expect(store.storeBatch('h1', 'adt', 4, 8, makeEvents(4, 8))).toEqual({ decision: { kind: 'overlap' }, highWater: 8, storedEvents: 3 });
    expect(store.storeBatch('h1', 'adt', 10, 12, makeEvents(10, 12))).toEqual({
      decision: { kind: 'gap', expectedSeq: 9 },
      highWater: 8,
      storedEvents: 0,
    });
    expect(store.highWater('h1', 'adt')).toBe(8);
    expect(store.highWater('h1', 'results')).toBe(0);
    expect(store.highWater('h2', 'adt')).toBe(0);
    expect(advances).toEqual([
      ['h1', 'adt', 5],
      ['h1', 'adt', 8],
    ]);
    expect(store.feedSizes()).toEqual([{ hospital: 'h1', feed: 'adt', highWaterSeq: 8, events: 8, updatedAtMs: clock }]);
  });

  it('rolls back a batch whose events fall outside its range', () => {
    expect(() => store.storeBatch('h1', 'adt', 1, 3, makeEvents(1, 4))).toThrow(RangeError);
    expect(store.highWater('h1', 'adt')).toBe(0);
    expect(store.readEvents('h1', 'adt', 0, 100).events).toEqual([]);
  });

  it('reads pages by limit and by size, with the mark of the same snapshot', () => {
    store.storeBatch('h1', 'adt', 1, 10, makeEvents(1, 6));
    const all = store.readEvents('h1', 'adt', 0, 100);
    expect(all.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(all).toMatchObject({ highWater: 10, complete: true });
    expect(all.events[0]).toEqual(makeEvent(1));

    const limited = store.readEvents('h1', 'adt', 2, 3);
    expect(limited.events.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(limited.complete).toBe(false);
    expect(store.readEvents('h1', 'adt', 3, 3).complete).toBe(true);

    // A size cap still returns at least one event.
    const bodyBytes = makeEvent(1).body.length;
    expect(store.readEvents('h1', 'adt', 0, 100, 1).events).toHaveLength(1);
    const sized = store.readEvents('h1', 'adt', 0, 100, bodyBytes * 2);
    expect(sized.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(sized.complete).toBe(false);
  });

  it('keeps everything across a reopen, and refuses use after close', () => {
    store.storeBatch('h1', 'adt', 1, 3, makeEvents(1, 3));
    store.close();
    expect(() => store.highWater('h1', 'adt')).toThrow(FeedStoreClosedError);
    store = open();
    expect(store.highWater('h1', 'adt')).toBe(3);
    expect(store.readEvents('h1', 'adt', 0, 10).events).toHaveLength(3);
  });

  it('refuses a database written by a newer relay', () => {
    store.close();
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
});
