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
});
