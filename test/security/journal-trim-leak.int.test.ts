// The journal trimmer must not leak superseded versions: a row that was a record's
// current version when a pass went past it has to go once the record is updated or
// deleted, also across restarts, and a database that leaked such rows before is
// cleaned by the next passes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { FeedAcks, Journal, JournalFootprint, JournalTrimmer, LocalCopy, openAgentDatabase, type EventInput, type SqliteDatabase } from '../../agent/store/index.js';
import { AGENT_MIGRATIONS } from '../../agent/store/migrations.js';
import { makeTempDir } from '../support/temp-dir.js';

const RETENTION_MS = 10_000;
const T0 = 1_700_000_000_000;
const RECORDS = 12;

const version = (key: string, op: 'upsert' | 'delete', n: number): EventInput => ({
  stream: 'adt',
  key,
  op,
  contentType: 'json',
  body: Buffer.from(JSON.stringify({ key, version: n, note: 'x'.repeat(100) })),
  headers: {},
});

/** Journal rows no record points at and older than the retention: what the trimmer must not keep. */
function leakedRows(db: SqliteDatabase, nowMs: number): number {
  return (
    db
      .prepare(
        `SELECT COUNT(*) AS n FROM journal j WHERE j.ts_ms < ?
           AND NOT EXISTS (SELECT 1 FROM records r WHERE r.stream = j.stream AND r.key = j.key AND r.seq = j.seq)`,
      )
      .get(nowMs - RETENTION_MS) as { n: number }
  ).n;
}

const journalRows = (db: SqliteDatabase): number => (db.prepare('SELECT COUNT(*) AS n FROM journal').get() as { n: number }).n;

describe('journal trimmer and superseded versions (real SQLite file)', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let file: string;
  let now: number;
  beforeEach(() => {
    dir = makeTempDir();
    file = join(dir.path, 'agent.db');
    now = T0;
  });
  afterEach(() => dir.remove());

  it('deletes every version no record points at once past retention, across passes, deletes and a restart', async () => {
    let db = openAgentDatabase(file);
    let journal = new Journal(db, { clock: () => now });
    let feedAcks = new FeedAcks(db, () => now);
    const trimmer = (): JournalTrimmer => new JournalTrimmer({ db, feedAcks, feeds: ['clinical'], retentionMs: RETENTION_MS, clock: () => now });
    let t = trimmer();
    let n = 0;
    // One second per step: 10 events (updates, and a delete every third step), the
    // relay acknowledges everything, a trim pass runs; a restart half way.
    for (let step = 0; step < 12; step++) {
      const events: EventInput[] = [];
      for (let i = 0; i < 10; i++) {
        // Step 0 writes records nobody changes for a while (C*); the others (P*) change all the time.
        const key = step === 0 ? `C${i}` : `P${(step * 7 + i) % RECORDS}`;
        events.push(version(key, step % 3 === 2 && i === 9 ? 'delete' : 'upsert', n++));
      }
      for (const event of events) await journal.append({ source: 'test', events: [event] });
      feedAcks.record('clinical', 'cloud', journal.head);
      await t.trim();
      now += 1_000;
      if (step === 6) {
        await t.stop();
        db.close();
        db = openAgentDatabase(file);
        journal = new Journal(db, { clock: () => now });
        feedAcks = new FeedAcks(db, () => now);
        t = trimmer();
      }
    }
    expect(journal.head).toBe(120);
    // Later passes, every row now past retention; the records change some more in between.
    for (let pass = 0; pass < 15; pass++) {
      now += 1_000;
      if (pass === 3) {
        // The quiet records change after the trim floor has long gone past their versions.
        const events = [0, 1, 2, 3, 4].map((i) => version(`C${i}`, 'upsert', n++));
        events.push(...[5, 6, 7, 8, 9].map((i) => version(`C${i}`, 'delete', n++)));
        await journal.append({ source: 'test', events });
        feedAcks.record('clinical', 'cloud', journal.head);
      }
      await t.trim();
    }
    await t.stop();
    db.close();
    // And after one more restart and pass.
    db = openAgentDatabase(file);
    feedAcks = new FeedAcks(db, () => now);
    now += 1_000;
    t = trimmer();
    await t.trim();

    const records = (db.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: number }).n;
    expect(leakedRows(db, now)).toBe(0);
    // What is left is exactly the local copy.
    expect(journalRows(db)).toBe(records);
    // And the status tells: none sendable, every record's version kept.
    expect(new JournalFootprint(db, file).read()).toMatchObject({ rows: 0, keptRows: records, headSeq: 130 });
    // A deleted record's body is gone from agent.db.
    expect(new LocalCopy(db).get('adt', 'C7')).toBeUndefined();
    expect((db.prepare("SELECT COUNT(*) AS n FROM journal WHERE key = 'C7'").get() as { n: number }).n).toBe(0);
    db.close();
  });

  it('cleans a database that leaked superseded versions before, on the next pass', async () => {
    // As an agent before the fix left it: floor at 20, rows 1..20 kept below it,
    // of which only 5 are still some record's current version.
    const raw = new Database(file);
    raw.pragma('journal_mode = WAL');
    for (let v = 0; v < 6; v++) raw.exec(AGENT_MIGRATIONS[v]!.sql);
    raw.pragma('user_version = 6');
    const insert = raw.prepare(
      `INSERT INTO journal (stream, key, op, ts_ms, source, content_type, body, headers) VALUES ('adt', ?, 'upsert', ?, 'lis', 'json', x'7b7d', '{}')`,
    );
    const point = raw.prepare(`INSERT INTO records (stream, key, seq) VALUES ('adt', ?, ?) ON CONFLICT (stream, key) DO UPDATE SET seq = excluded.seq`);
    for (let seq = 1; seq <= 30; seq++) {
      const key = `P${seq % 5}`;
      insert.run(key, T0);
      point.run(key, seq);
    }
    // Versions 26..30 are current; rows 1..20 sit below the floor, 21..25 above it.
    raw.prepare('UPDATE journal_trim_floor SET trimmed_through = 20').run();
    raw.close();

    const db = openAgentDatabase(file);
    try {
      now = T0 + RETENTION_MS + 1;
      const feedAcks = new FeedAcks(db, () => now);
      feedAcks.record('clinical', 'cloud', 30);
      expect(journalRows(db)).toBe(30);
      const result = await new JournalTrimmer({ db, feedAcks, feeds: ['clinical'], retentionMs: RETENTION_MS, clock: () => now }).trim();
      expect(result.events).toBe(25);
      expect(leakedRows(db, now)).toBe(0);
      expect(journalRows(db)).toBe(5);
      expect(new JournalFootprint(db, file).read()).toMatchObject({ rows: 0, keptRows: 5, headSeq: 30 });
    } finally {
      db.close();
    }
  });
});
