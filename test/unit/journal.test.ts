import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { BacklogCounter, FeedAcks, Journal, JournalTrimmedError, LocalCopy, openAgentDatabase, type EventInput, type SqliteDatabase } from '../../agent/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const row = (stream: string, key: string, text: string, op: 'upsert' | 'delete' = 'upsert'): EventInput => ({
  stream,
  key,
  op,
  contentType: 'json',
  body: Buffer.from(JSON.stringify({ key, text })),
  headers: {},
});

describe('Journal (real SQLite file)', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let journal: Journal;

  beforeEach(() => {
    dir = makeTempDir();
    db = openAgentDatabase(join(dir.path, 'agent.db'));
    journal = new Journal(db, { clock: () => 1_700_000_000_000 });
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  it('uses WAL with synchronous=FULL, so an acknowledgement means fsynced', () => {
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
  });

  it('records the range of every append of several events and of a staged commit, so a cut inside one is found', async () => {
    // One group commit of three requests: a single event, a transaction of three, another single.
    await Promise.all([
      journal.append({ source: 'http', events: [row('adt', 'A', 'alone')] }),
      journal.append({ source: 'pg', events: [row('adt', 'B', '1'), row('lab', 'C', '2'), row('adt', 'D', '3')] }),
      journal.append({ source: 'http', events: [row('adt', 'E', 'alone')] }),
    ]);
    const staged = journal.stage('pg');
    staged.add([row('adt', 'F', '1'), row('adt', 'G', '2')]);
    staged.add([row('lab', 'H', '3')]);
    expect(await staged.commit('0/10')).toMatchObject({ firstSeq: 6, lastSeq: 8 });
    const single = journal.stage('pg');
    single.add([row('adt', 'I', 'alone')]);
    await single.commit('0/11');
    expect(db.prepare('SELECT first_seq, last_seq FROM journal_transactions ORDER BY first_seq').all()).toEqual([
      { first_seq: 2, last_seq: 4 },
      { first_seq: 6, last_seq: 8 },
    ]);
    // A batch ending at a transaction's last seq, or outside any, splits nothing.
    expect([1, 4, 5, 8, 9, 10].map((seq) => journal.transactionSpanning(seq))).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
    expect([2, 3, 6, 7].map((seq) => journal.transactionSpanning(seq))).toEqual([2, 2, 6, 6]);
    // Recorded in the append's own transaction: a reopened journal still knows.
    db.close();
    db = openAgentDatabase(join(dir.path, 'agent.db'));
    journal = new Journal(db);
    expect(journal.transactionSpanning(3)).toBe(2);
  });

  it('records no range for a duplicate append', async () => {
    const request = { source: 'http', dedupe: { scope: 's', id: 'm1' }, events: [row('adt', 'A', '1'), row('adt', 'B', '2')] };
    await journal.append(request);
    expect((await journal.append(request)).duplicate).toBe(true);
    expect(db.prepare('SELECT first_seq, last_seq FROM journal_transactions').all()).toEqual([{ first_seq: 1, last_seq: 2 }]);
  });

  it('assigns increasing seqs, keeps the latest version per key in the local copy, and survives reopening', async () => {
    const results = await Promise.all([
      journal.append({ source: 'http', events: [row('his.patient', 'P1', 'first')] }),
      journal.append({ source: 'http', events: [row('his.patient', 'P2', 'other'), row('his.patient', 'P1', 'second')] }),
    ]);
    expect(results.map((r) => r.seqs)).toEqual([[1], [2, 3]]);
    expect(journal.groupCommitStats).toEqual({ groups: 1, requests: 2 });
    db.close();
    db = openAgentDatabase(join(dir.path, 'agent.db'));
    journal = new Journal(db);
    expect(journal.head).toBe(3);
    const record = new LocalCopy(db).get('his.patient', 'P1');
    expect(record?.seq).toBe(3);
    expect(JSON.parse(record!.body.toString()).text).toBe('second');
  });

  it('journals a retransmission once and answers it with the original seqs', async () => {
    const dedupe = { scope: 'LIS|HOSP', id: 'MSG0001' };
    const [a, b] = await Promise.all([
      journal.append({ source: 'lis', events: [row('results', 'R1', 'x')], dedupe }),
      journal.append({ source: 'lis', events: [row('results', 'R1', 'x')], dedupe }),
    ]);
    const c = await journal.append({ source: 'lis', events: [row('results', 'R1', 'x')], dedupe });
    expect(a).toEqual({ seqs: [1], duplicate: false });
    expect(b).toEqual({ seqs: [1], duplicate: true });
    expect(c).toEqual({ seqs: [1], duplicate: true });
    expect(journal.head).toBe(1);
  });

  it('dedupes on the digest with the id: the same id with other content is appended and reported as reused', async () => {
    const key = (digest: string) => ({ scope: 'LIS|LAB', id: 'MSG0101', digest });
    const first = await journal.append({ source: 'lis', events: [row('results', 'R1', 'spoofed')], dedupe: key('aaaa') });
    const other = await journal.append({ source: 'lis', events: [row('results', 'R1', 'real')], dedupe: key('bbbb') });
    expect(first).toEqual({ seqs: [1], duplicate: false });
    expect(other).toEqual({ seqs: [2], duplicate: false, idReused: true });
    // Each content's retransmission is recognised, whichever came first.
    expect(await journal.append({ source: 'lis', events: [row('results', 'R1', 'real')], dedupe: key('bbbb') })).toEqual({ seqs: [2], duplicate: true });
    expect(await journal.append({ source: 'lis', events: [row('results', 'R1', 'spoofed')], dedupe: key('aaaa') })).toEqual({ seqs: [1], duplicate: true });
    expect(new LocalCopy(db).get('results', 'R1')?.body.toString()).toContain('"real"');
    // A key without a digest (HTTP idempotency) matches on the id alone, as before.
    expect(await journal.append({ source: 'http', events: [row('results', 'R1', 'x')], dedupe: { scope: 'LIS|LAB', id: 'MSG0101' } })).toMatchObject({ duplicate: true });
  });

  it('removes a deleted key from the local copy but keeps the delete in the journal', async () => {
    await journal.append({ source: 'http', events: [row('adt', 'P9', 'v1')] });
    await journal.append({ source: 'http', events: [row('adt', 'P9', '', 'delete')] });
    expect(new LocalCopy(db).get('adt', 'P9')).toBeUndefined();
    const range = journal.readRange(['adt'], 0, { maxEvents: 10, maxBytes: 1e6, maxScan: 100 });
    expect(range?.events.map((e) => e.op)).toEqual(['upsert', 'delete']);
  });

  it('reads a feed as contiguous ranges holding only its streams', async () => {
    for (let i = 1; i <= 10; i++) await journal.append({ source: 'http', events: [row(i % 2 ? 'results' : 'local-only', `K${i}`, 'v')] });
    const all = journal.readRange(['results'], 0, { maxEvents: 100, maxBytes: 1e6, maxScan: 100 });
    expect(all).toMatchObject({ firstSeq: 1, lastSeq: 10 });
    expect(all!.events.map((e) => e.seq)).toEqual([1, 3, 5, 7, 9]);
    const limited = journal.readRange(['results'], 0, { maxEvents: 2, maxBytes: 1e6, maxScan: 100 });
    expect(limited).toMatchObject({ firstSeq: 1, lastSeq: 3 });
    const scanned = journal.readRange(['results'], 3, { maxEvents: 100, maxBytes: 1e6, maxScan: 4 });
    expect(scanned).toMatchObject({ firstSeq: 4, lastSeq: 7 });
    expect(journal.readRange(['results'], 10, { maxEvents: 100, maxBytes: 1e6, maxScan: 100 })).toBeUndefined();
  });

  it('refuses to read across trimmed positions instead of silently skipping them', async () => {
    for (let i = 1; i <= 6; i++) await journal.append({ source: 'http', events: [row('results', `K${i}`, 'v')] });
    // What the trimmer does: delete, and raise the floor in the same transaction.
    db.prepare('DELETE FROM journal WHERE seq <= 4').run();
    db.prepare('UPDATE journal_trim_floor SET trimmed_through = 4').run();
    const limits = { maxEvents: 100, maxBytes: 1e6, maxScan: 100 };
    expect(() => journal.readRange(['results'], 2, limits)).toThrow(JournalTrimmedError);
    expect(() => journal.readRange(['results'], 2, limits)).toThrow(/events 3\.\.4 can no longer be sent/);
    expect(journal.readRange(['results'], 4, limits)?.events.map((e) => e.seq)).toEqual([5, 6]);
    db.prepare('DELETE FROM journal').run();
    db.prepare('UPDATE journal_trim_floor SET trimmed_through = 6').run();
    expect(() => journal.readRange(['results'], 5, limits)).toThrow(JournalTrimmedError);
  });

  it('reports a feed backlog from the acked seq', async () => {
    for (let i = 1; i <= 5; i++) await journal.append({ source: 'http', events: [row('results', `K${i}`, 'v')] });
    const acks = new FeedAcks(db);
    acks.record('clinical', 'cloud', 2);
    expect(acks.all().get('clinical')).toBe(2);
    const counter = new BacklogCounter(db, journal);
    expect(counter.backlog('clinical', ['results'], 2)).toMatchObject({ events: 3, oldestTsMs: 1_700_000_000_000 });
    // Counted incrementally from here on, and always equal to a full count.
    for (let i = 6; i <= 9; i++) await journal.append({ source: 'http', events: [row(i % 3 ? 'results' : 'other', `K${i}`, 'v')] });
    // results now at seqs 1-5, 7 and 8; acked 4 leaves 5, 7, 8.
    const incremental = counter.backlog('clinical', ['results'], 4);
    expect(incremental).toMatchObject({ events: 3 });
    expect(new BacklogCounter(db, journal).backlog('clinical', ['results'], 4)).toEqual(incremental);
    // The flow since the first count: 7 and 8 journaled, 3 and 4 acknowledged.
    expect(counter.flow('clinical')).toEqual({ journaled: 2, acknowledged: 2 });
    expect(counter.backlog('clinical', ['results'], 9)).toEqual({ events: 0, bytes: 0, oldestTsMs: null });
    expect(counter.flow('clinical')).toEqual({ journaled: 2, acknowledged: 5 });
    // A relay that now holds less than it acked: counted afresh.
    expect(counter.backlog('clinical', ['results'], 0)).toMatchObject({ events: 7 });
  });
});
