import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  FeedAcks,
  Journal,
  JournalFootprint,
  JournalTrimmer,
  LocalCopy,
  openAgentDatabase,
  trimBoundSeq,
  type EventInput,
  type JournalTrimmerOptions,
  type SqliteDatabase,
} from '../../agent/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const DAY_MS = 86_400_000;
const T0 = 1_700_000_000_000;

const row = (key: string, stream = 'adt'): EventInput => ({
  stream,
  key,
  op: 'upsert',
  contentType: 'json',
  body: Buffer.from(JSON.stringify({ key, note: 'x'.repeat(200) })),
  headers: {},
});

describe('trimBoundSeq', () => {
  it('is the lowest acked seq over the configured feeds; a feed never acked holds everything', () => {
    expect(trimBoundSeq(['a', 'b'], new Map([['a', 100], ['b', 40]]), 120)).toBe(40);
    expect(trimBoundSeq(['a', 'b'], new Map([['a', 100]]), 120)).toBe(0);
    // A feed no longer configured does not hold the journal.
    expect(trimBoundSeq(['a'], new Map([['a', 100], ['removed', 3]]), 120)).toBe(100);
  });

  it('with no feeds is the head: only the retention applies', () => {
    expect(trimBoundSeq([], new Map(), 120)).toBe(120);
  });
});

describe('JournalTrimmer (real SQLite file)', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let file: string;
  let db: SqliteDatabase;
  let now: number;
  let journal: Journal;
  let feedAcks: FeedAcks;

  const open = (): void => {
    db = openAgentDatabase(file);
    journal = new Journal(db, { clock: () => now });
    feedAcks = new FeedAcks(db, () => now);
  };
  const trimmer = (options: Partial<JournalTrimmerOptions> = {}): JournalTrimmer =>
    new JournalTrimmer({ db, feedAcks, feeds: ['clinical'], retentionMs: 7 * DAY_MS, clock: () => now, ...options });
  /**
   * Appends `count` versions of one record, one per request, committed at the
   * current clock: every row but the newest is superseded, so trimmable.
   */
  const appendMany = async (count: number): Promise<number[]> => {
    const results = await Promise.all(Array.from({ length: count }, () => journal.append({ source: 'test', events: [row('P')] })));
    return results.flatMap((r) => r.seqs);
  };
  const journalSeqs = (): number[] => (db.prepare('SELECT seq FROM journal ORDER BY seq').all() as { seq: number }[]).map((r) => r.seq);

  beforeEach(() => {
    dir = makeTempDir();
    file = join(dir.path, 'agent.db');
    now = T0;
    open();
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  it('never deletes what a feed has not acknowledged, however old', async () => {
    await appendMany(100);
    feedAcks.record('clinical', 'cloud', 40);
    now += 30 * DAY_MS;
    const result = await trimmer().trim();
    expect(result).toMatchObject({ events: 40, upToSeq: 40, ackedBoundSeq: 40 });
    expect(journalSeqs()[0]).toBe(41);
    expect(journalSeqs()).toHaveLength(60);
  });

  it('keeps what a feed acknowledged but its completeness proofs have not compared yet', async () => {
    await appendMany(100);
    feedAcks.record('clinical', 'cloud', 80);
    now += 30 * DAY_MS;
    const result = await trimmer({ proofHolds: () => new Map([['clinical', 30]]) }).trim();
    expect(result).toMatchObject({ events: 30, upToSeq: 30, ackedBoundSeq: 30 });
    // Proofs never trim past the acknowledgement.
    expect(await trimmer({ proofHolds: () => new Map([['clinical', 90]]) }).trim()).toMatchObject({ upToSeq: 80 });
  });

  it('keeps an inbound event not yet delivered and everything after it, whatever the feeds acknowledged', async () => {
    await appendMany(100);
    feedAcks.record('clinical', 'cloud', 100);
    now += 30 * DAY_MS;
    const result = await trimmer({ heldFromSeq: () => 61 }).trim();
    expect(result).toMatchObject({ events: 60, upToSeq: 60, ackedBoundSeq: 60 });
    expect(journalSeqs()[0]).toBe(61);
    // Once it is final (no hold), the rest may go.
    expect(await trimmer({ heldFromSeq: () => undefined }).trim()).toMatchObject({ upToSeq: 100 });
  });

  it('forgets a transaction range once the floor is past its last seq, and keeps one the floor cuts', async () => {
    const tx = (first: string): EventInput[] => Array.from({ length: 5 }, (_, i) => row(`${first}${i}`));
    await journal.append({ source: 'pg', events: tx('A') }); // 1..5
    await journal.append({ source: 'pg', events: tx('B') }); // 6..10
    await journal.append({ source: 'pg', events: tx('C') }); // 11..15
    feedAcks.record('clinical', 'cloud', 12);
    now += 30 * DAY_MS;
    expect(await trimmer().trim()).toMatchObject({ upToSeq: 12 });
    expect(db.prepare('SELECT first_seq, last_seq FROM journal_transactions ORDER BY first_seq').all()).toEqual([{ first_seq: 11, last_seq: 15 }]);
    expect(journal.transactionSpanning(13)).toBe(11);
  });

  it('holds everything for a configured feed the relay has never acknowledged', async () => {
    await appendMany(50);
    feedAcks.record('clinical', 'cloud', 50);
    now += 30 * DAY_MS;
    const result = await trimmer({ feeds: ['clinical', 'backup'] }).trim();
    expect(result.events).toBe(0);
    expect(journalSeqs()).toHaveLength(50);
  });

  it('keeps acknowledged events until they are older than the retention', async () => {
    await appendMany(30);
    now += 5 * DAY_MS;
    await appendMany(20);
    feedAcks.record('clinical', 'cloud', 50);
    now += 2 * DAY_MS + 1; // the first 30 are now just past 7 days, the other 20 are 2 days old
    expect((await trimmer().trim()).events).toBe(30);
    expect(journalSeqs()).toEqual(Array.from({ length: 20 }, (_, i) => 31 + i));
  });

  it('with no feeds, trims by retention alone', async () => {
    await appendMany(10);
    now += 8 * DAY_MS;
    // Seq 10 stays: it is the record's current version, which the local copy reads.
    expect((await trimmer({ feeds: [] }).trim()).events).toBe(9);
  });

  it('only ever trims the oldest rows: after a clock step backwards it stops at the first row too young to go', async () => {
    await appendMany(10); // seqs 1..10 at T0
    now = T0 + 6 * DAY_MS;
    await appendMany(5); // seqs 11..15, 6 days later
    now = T0; // the clock is stepped back
    await appendMany(5); // seqs 16..20 carry T0 again
    feedAcks.record('clinical', 'cloud', 20);
    now = T0 + 7 * DAY_MS + 1;
    const result = await trimmer().trim();
    // 16..20 are "old" too, but deleting them would leave a hole after 11..15.
    expect(result).toMatchObject({ events: 10, upToSeq: 10 });
    expect(journalSeqs()).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    const footprint = new JournalFootprint(db, file).read();
    expect(footprint).toMatchObject({ rows: 10, oldestSeq: 11, headSeq: 20 });
  });

  it('keeps every record\'s current version: the local copy reads it from the journal', async () => {
    for (let i = 0; i < 20; i++) await journal.append({ source: 'test', events: [row(`P${i}`)] }); // seqs 1..20
    for (let i = 0; i < 10; i++) await journal.append({ source: 'test', events: [row(`P${i}`)] }); // 21..30 supersede 1..10
    feedAcks.record('clinical', 'cloud', 30);
    now += 8 * DAY_MS;
    expect((await trimmer().trim())).toMatchObject({ events: 10, upToSeq: 30 });
    expect(journalSeqs()).toEqual(Array.from({ length: 20 }, (_, i) => 11 + i));
    const local = new LocalCopy(db);
    expect(local.counts()).toEqual([{ stream: 'adt', records: 20 }]);
    expect(local.get('adt', 'P7')).toMatchObject({ seq: 28, source: 'test', contentType: 'json' });
    expect(JSON.parse(local.get('adt', 'P15')!.body.toString())).toMatchObject({ key: 'P15' });
    // Trimmed through 30: a feed can no longer be sent anything at or below it.
    expect(new JournalFootprint(db, file).read()).toMatchObject({ rows: 0, oldestSeq: null, headSeq: 30 });
    expect(() => journal.readRange(['adt'], 20, { maxEvents: 10, maxBytes: 1e6, maxScan: 10 })).toThrow(/trimmed up to seq 30/);
  });

  it('never hands out a trimmed seq again, also after reopening the database', async () => {
    await appendMany(25);
    feedAcks.record('clinical', 'cloud', 25);
    now += 8 * DAY_MS;
    expect((await trimmer().trim()).events).toBe(24);
    expect(journalSeqs()).toEqual([25]);
    db.close();
    open();
    expect(journal.head).toBe(25);
    const next = await journal.append({ source: 'test', events: [row('AFTER')] });
    expect(next.seqs).toEqual([26]);
    expect(new JournalFootprint(db, file).read()).toMatchObject({ rows: 1, oldestSeq: 26, headSeq: 26 });
  });

  it('deletes in bounded chunks and lets appends commit between them', async () => {
    await appendMany(1_050);
    feedAcks.record('clinical', 'cloud', 1_050);
    now += 8 * DAY_MS;
    const committedBetweenChunks: number[] = [];
    let yields = 0;
    const t = trimmer({
      chunkRows: 100,
      yieldBetweenChunks: async () => {
        yields++;
        // A sender's message arriving mid-trim: it commits before the next chunk.
        if (yields === 3) committedBetweenChunks.push(...(await journal.append({ source: 'test', events: [row('LIVE')] })).seqs);
      },
    });
    const result = await t.trim();
    // Seq 1 050 stays: the record's current version.
    expect(result.events).toBe(1_049);
    // 10 full chunks of 100, then one of 50; then one pass over the dedupe keys.
    expect(result.chunks).toBe(12);
    expect(yields).toBe(10);
    expect(committedBetweenChunks).toEqual([1_051]);
    // The live event is young: it stays, beside the record's current version.
    expect(journalSeqs()).toEqual([1_050, 1_051]);
    expect(t.totals).toEqual({ events: 1_049, dedupeKeys: 0, passes: 1 });
    expect(t.lastTrim).toEqual(result);
  });

  it('trims dedupe keys past their retention: a retransmission is recognised until then, not after', async () => {
    const request = { source: 'lis', events: [row('P1')], dedupe: { scope: 'LIS|H', id: 'MSG-1' } };
    expect((await journal.append(request)).duplicate).toBe(false);
    now += 3 * DAY_MS;
    const t = trimmer({ dedupeRetentionMs: 7 * DAY_MS });
    expect((await t.trim()).dedupeKeys).toBe(0);
    expect((await journal.append(request)).duplicate).toBe(true);
    now += 5 * DAY_MS;
    expect((await t.trim()).dedupeKeys).toBe(1);
    expect((await journal.append(request)).duplicate).toBe(false);
  });

  it('counts rows from the retained range without scanning, and gives the WAL back after a trim', async () => {
    await appendMany(500);
    feedAcks.record('clinical', 'cloud', 300);
    const footprint = new JournalFootprint(db, file);
    expect(footprint.read()).toMatchObject({ rows: 500, oldestSeq: 1, headSeq: 500 });
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
    now += 8 * DAY_MS;
    await trimmer().trim();
    const after = footprint.read();
    const counted = (db.prepare('SELECT COUNT(*) AS n FROM journal').get() as { n: number }).n;
    expect(after).toMatchObject({ rows: counted, oldestSeq: 301, headSeq: 500 });
    expect(counted).toBe(200);
    expect(statSync(`${file}-wal`).size).toBe(0);
    // The deleted rows' pages are free inside the file, for the next events.
    expect(after.reusableBytes).toBeGreaterThan(0);
  });

  it('serialises passes: a second request joins the one under way', async () => {
    await appendMany(300);
    feedAcks.record('clinical', 'cloud', 300);
    now += 8 * DAY_MS;
    const t = trimmer({ chunkRows: 100 });
    const [a, b] = await Promise.all([t.trim(), t.trim()]);
    expect(a).toBe(b);
    expect(t.totals.passes).toBe(1);
  });
});
