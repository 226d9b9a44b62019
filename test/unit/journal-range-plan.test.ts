import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { Journal, JournalTrimmedError, openAgentDatabase, type EventInput, type JournalRange, type ReadLimits, type SqliteDatabase } from '../../agent/store/index.js';
import { chooseRangePlan, journalRangeSql, SPARSE_FEED_DENSITY, type RangePlanChoice } from '../../agent/store/journal-range-plan.js';
import type { JournalEvent } from '../../protocol/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const SPARSE = ['adt', 'lab'];
const DENSE = ['img', 'ord', 'vit'];
const PLANS: readonly RangePlanChoice[] = ['seq-scan', 'stream-index', 'auto'];

/** A range with its bodies as hex: deep equality on Buffers goes byte by byte, and takes minutes here. */
type ReadRange = Omit<JournalRange, 'events'> & { events: (Omit<JournalEvent, 'body'> & { body: string })[] };

/** Every read a feed makes while draining from 0 with `limits`, as returned (or the error thrown). */
function drain(journal: Journal, streams: readonly string[], limits: ReadLimits, from = 0): (ReadRange | string)[] {
  const reads: (ReadRange | string)[] = [];
  let after = from;
  for (;;) {
    let range;
    try {
      range = journal.readRange(streams, after, limits);
    } catch (error) {
      if (!(error instanceof JournalTrimmedError)) throw error;
      reads.push(error.message);
      after = error.oldestRetainedSeq - 1;
      continue;
    }
    if (!range) return reads;
    reads.push({ ...range, events: range.events.map((event) => ({ ...event, body: event.body.toString('hex') })) });
    after = range.lastSeq;
  }
}

describe('chooseRangePlan', () => {
  it('reads a feed through journal_by_stream only once a read showed its streams sparse', () => {
    expect(chooseRangePlan(2, undefined)).toBe('seq-scan');
    expect(chooseRangePlan(2, { events: 50, positions: 1000 })).toBe('stream-index');
    expect(chooseRangePlan(2, { events: 0, positions: 20_000 })).toBe('stream-index');
    expect(chooseRangePlan(2, { events: SPARSE_FEED_DENSITY * 1000, positions: 1000 })).toBe('seq-scan');
    expect(chooseRangePlan(2, { events: 950, positions: 1000 })).toBe('seq-scan');
    // A backup feed carries every stream.
    expect(chooseRangePlan(0, { events: 0, positions: 1000 })).toBe('seq-scan');
  });
});

describe('Journal.readRange plans (real SQLite file)', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;

  beforeEach(async () => {
    dir = makeTempDir();
    db = openAgentDatabase(join(dir.path, 'agent.db'));
    // 4,000 rows, 5% of them the sparse feed's, bodies of 40..1,000 bytes.
    let x = 7;
    const random = (): number => (x = (x * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const writer = new Journal(db);
    for (let request = 0; request < 4; request++) {
      const events: EventInput[] = Array.from({ length: 1000 }, (_, i) => {
        const streams = random() < 0.05 ? SPARSE : DENSE;
        return {
          stream: streams[Math.floor(random() * streams.length)]!,
          key: `K${request}-${i}`,
          op: 'upsert',
          contentType: 'hl7',
          body: Buffer.alloc(40 + Math.floor(random() * 960), 65 + (i % 26)),
          headers: { i: String(i) },
        };
      });
      await writer.append({ source: 'pg', events });
    }
  });
  afterEach(() => {
    vi.restoreAllMocks();
    db.close();
    dir.remove();
  });

  it('plans the scan on the rowid range and the sparse read on journal_by_stream, without sorting the rows', () => {
    const plan = (sql: string): string[] =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(0, 100, 'adt', 'lab', 10) as { detail: string }[]).map((row) => row.detail);
    expect(plan(journalRangeSql(2, 'seq-scan'))).toEqual(['SEARCH journal USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)']);
    // The sort is the subquery's, over seqs; the rows themselves are read by rowid in seq order.
    expect(plan(journalRangeSql(2, 'stream-index'))).toEqual([
      'SEARCH journal USING INTEGER PRIMARY KEY (rowid=?)',
      'LIST SUBQUERY 1',
      'SEARCH journal USING COVERING INDEX journal_by_stream (stream=? AND seq>? AND seq<?)',
      'USE TEMP B-TREE FOR ORDER BY',
    ]);
  });

  it('returns the same ranges on either plan, sparse feed or dense, whichever limit ends a read', () => {
    const limitsList: ReadLimits[] = [
      { maxEvents: 1000, maxBytes: 1024 * 1024, maxScan: 20_000 },
      { maxEvents: 7, maxBytes: 1024 * 1024, maxScan: 20_000 },
      { maxEvents: 1000, maxBytes: 3_000, maxScan: 20_000 },
      { maxEvents: 1000, maxBytes: 1024 * 1024, maxScan: 97 },
      { maxEvents: 5, maxBytes: 2_500, maxScan: 61 },
    ];
    for (const streams of [SPARSE, DENSE, []]) {
      for (const limits of limitsList) {
        // Each plan's reads from a fresh Journal; 'auto' switches plan as it learns the density.
        const [scan, ...others] = PLANS.map((rangePlan) => drain(new Journal(db, { rangePlan }), streams, limits));
        expect(scan!.flatMap((read) => (typeof read === 'string' ? [] : read.events)).length).toBeGreaterThan(100);
        for (const reads of others) expect(reads).toEqual(scan);
      }
    }
  });

  it('refuses trimmed positions on either plan, and goes on from the floor alike', () => {
    // The floor alone decides what may be read (the rows under it are never reached).
    db.prepare('UPDATE journal_trim_floor SET trimmed_through = 1500').run();
    const limits = { maxEvents: 50, maxBytes: 20_000, maxScan: 400 };
    for (const streams of [SPARSE, DENSE]) {
      const [scan, ...others] = PLANS.map((rangePlan) => drain(new Journal(db, { rangePlan }), streams, limits));
      expect(scan![0]).toMatch(/events 1\.\.1500 can no longer be sent/);
      for (const reads of others) expect(reads).toEqual(scan);
    }
  });

  it('chooses the index for the sparse feed and keeps the scan for the dense one', () => {
    const journal = new Journal(db);
    const prepare = vi.spyOn(db, 'prepare');
    const limits = { maxEvents: 1000, maxBytes: 1024 * 1024, maxScan: 1000 };
    const prepared = (): string[] => prepare.mock.calls.map(([sql]) => (sql.includes('INDEXED BY journal_by_stream') ? 'stream-index' : 'seq-scan'));
    drain(journal, DENSE, limits);
    expect(prepared()).toEqual(['seq-scan']);
    prepare.mockClear();
    drain(journal, SPARSE, limits);
    // The first read learns the density; the others use the index.
    expect(prepared()).toEqual(['seq-scan', 'stream-index']);
  });
});
