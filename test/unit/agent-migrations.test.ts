import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Journal, JournalFootprint, LocalCopy, openAgentDatabase } from '../../agent/store/index.js';
import { AGENT_MIGRATIONS } from '../../agent/store/migrations.js';
import { makeTempDir } from '../support/temp-dir.js';

/** A database as an agent before migration 5 left it: bodies copied into records, the oldest journal rows trimmed. */
function writeVersion4Database(file: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  for (let version = 0; version < 4; version++) db.exec(AGENT_MIGRATIONS[version]!.sql);
  db.pragma('user_version = 4');
  const insertEvent = db.prepare(
    `INSERT INTO journal (stream, key, op, ts_ms, source, content_type, body, headers) VALUES ('adt', ?, 'upsert', ?, 'lis', 'hl7v2', ?, '{}')`,
  );
  const upsertRecord = db.prepare(
    `INSERT INTO records VALUES ('adt', ?, ?, ?, 'lis', 'hl7v2', ?, '{}')
     ON CONFLICT (stream, key) DO UPDATE SET seq = excluded.seq, ts_ms = excluded.ts_ms, body = excluded.body`,
  );
  for (let seq = 1; seq <= 10; seq++) {
    const key = `P${seq}`;
    const body = Buffer.from(`MSH|version of ${key}`);
    insertEvent.run(key, 1_000 + seq, body);
    upsertRecord.run(key, seq, 1_000 + seq, body);
  }
  db.prepare('DELETE FROM journal WHERE seq <= 4').run();
  db.close();
}

describe('agent database migrations (real SQLite file)', () => {
  let dir: ReturnType<typeof makeTempDir>;
  beforeEach(() => (dir = makeTempDir()));
  afterEach(() => dir.remove());

  it('keeps every local-copy version across migration 5, also those whose journal row was trimmed', async () => {
    const file = join(dir.path, 'agent.db');
    writeVersion4Database(file);
    const db = openAgentDatabase(file);
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(AGENT_MIGRATIONS.length);
      const local = new LocalCopy(db);
      for (let seq = 1; seq <= 10; seq++) {
        expect(local.get('adt', `P${seq}`)).toMatchObject({ seq, tsMs: 1_000 + seq, source: 'lis', body: Buffer.from(`MSH|version of P${seq}`) });
      }
      // The journal had been trimmed through seq 4: that is where its floor starts.
      expect(new JournalFootprint(db, file).read()).toMatchObject({ oldestSeq: 5, rows: 6, headSeq: 10 });
      const journal = new Journal(db);
      expect(() => journal.readRange(['adt'], 3, { maxEvents: 10, maxBytes: 1e6, maxScan: 10 })).toThrow(/trimmed up to seq 4/);
      // A new version replaces the migrated copy with a pointer to its journal row.
      await journal.append({ source: 'http', events: [{ stream: 'adt', key: 'P2', op: 'upsert', contentType: 'json', body: Buffer.from('{"v":2}'), headers: {} }] });
      expect(local.get('adt', 'P2')).toMatchObject({ seq: 11, source: 'http', contentType: 'json', body: Buffer.from('{"v":2}') });
      const stored = db.prepare("SELECT body FROM records WHERE key = 'P2'").get() as { body: Buffer | null };
      expect(stored.body).toBeNull();
    } finally {
      db.close();
    }
  });

  it('keeps retransmission protection for dedupe keys stored before digests: they match on the id alone until they age out', async () => {
    const file = join(dir.path, 'agent.db');
    const before = new Database(file);
    before.pragma('journal_mode = WAL');
    for (let version = 0; version < 6; version++) before.exec(AGENT_MIGRATIONS[version]!.sql);
    before.pragma('user_version = 6');
    before.prepare("INSERT INTO journal (stream, key, op, ts_ms, source, content_type, body, headers) VALUES ('results', 'R1', 'upsert', 1000, 'lis', 'hl7v2', ?, '{}')").run(Buffer.from('MSH|old'));
    before.prepare("INSERT INTO dedupe_keys VALUES ('LIS|LAB', 'MSG0001', 1, 1, 1000)").run();
    before.close();

    const db = openAgentDatabase(file);
    try {
      expect(db.prepare('SELECT scope, id, digest, first_seq FROM dedupe_keys').all()).toEqual([{ scope: 'LIS|LAB', id: 'MSG0001', digest: '', first_seq: 1 }]);
      const journal = new Journal(db);
      // The sender's retransmission after the upgrade now carries a digest; the old key still answers it.
      const resent = await journal.append({
        source: 'lis',
        events: [{ stream: 'results', key: 'R1', op: 'upsert', contentType: 'hl7v2', body: Buffer.from('MSH|old'), headers: {} }],
        dedupe: { scope: 'LIS|LAB', id: 'MSG0001', digest: 'f00d' },
      });
      expect(resent).toEqual({ seqs: [1], duplicate: true });
    } finally {
      db.close();
    }
  });
});
