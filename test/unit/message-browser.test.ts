// The message browser's store and answers on a real SQLite file: the time → seq
// search, lookups by control id / key / stream / time (and that they take their
// indexes), the ack history's bounds and trimming, the bounded rejection log,
// the query parameters, and "unknown" vs "not read" for vendors.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FeedAcks, Journal, MessageSearch, RejectionLog, openAgentDatabase, type EventInput, type SqliteDatabase } from '../../agent/store/index.js';
import { firstSeqAtOrAfter } from '../../agent/store/seq-for-time.js';
import { MessageBrowser } from '../../agent/operations/index.js';
import { VendorPositions } from '../../agent/replication/index.js';
import { parseMessageQuery } from '../../agent/http/message-routes.js';
import { MessageQueryError } from '../../agent/http/errors.js';
import { makeTempDir } from '../support/temp-dir.js';

const hl7 = (stream: string, key: string, controlId: string): EventInput => ({
  stream,
  key,
  op: 'upsert',
  contentType: 'hl7v2',
  body: Buffer.from(`MSH|^~\\&|LIS|H|WL|WL|20261202021000||ORU^R01|${controlId}|P|2.5\r`),
  headers: { controlId, messageType: 'ORU^R01', sendingApplication: 'LIS', sendingFacility: 'H', charset: 'UTF-8' },
});

describe('firstSeqAtOrAfter', () => {
  // seq -> ts; seqs 4..6 trimmed.
  const rows = new Map([[1, 100], [2, 200], [3, 200], [7, 300], [8, 400], [9, 500]]);
  const lookup = (seq: number) => {
    for (let s = seq; s <= 9; s++) if (rows.has(s)) return { seq: s, tsMs: rows.get(s)! };
    return undefined;
  };
  it('finds the first seq at or after a time, stepping over trimmed rows', () => {
    expect(firstSeqAtOrAfter(lookup, 1, 9, 0)).toBe(1);
    expect(firstSeqAtOrAfter(lookup, 1, 9, 150)).toBe(2);
    expect(firstSeqAtOrAfter(lookup, 1, 9, 200)).toBe(2);
    expect(firstSeqAtOrAfter(lookup, 1, 9, 250)).toBe(4); // 4..6 are gone: the next row is 7
    expect(firstSeqAtOrAfter(lookup, 1, 9, 500)).toBe(9);
    expect(firstSeqAtOrAfter(lookup, 1, 9, 501)).toBe(10);
    expect(firstSeqAtOrAfter(lookup, 3, 8, 450)).toBe(9); // none in range: hi + 1
  });
});

describe('message browser store (real SQLite file)', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let nowMs: number;
  const clock = () => nowMs;

  beforeEach(() => {
    dir = makeTempDir();
    db = openAgentDatabase(join(dir.path, 'agent.db'));
    nowMs = 1_800_000_000_000;
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  async function journalOf(messages: [stream: string, key: string, controlId: string][]): Promise<void> {
    const journal = new Journal(db, { clock });
    for (const [stream, key, controlId] of messages) {
      await journal.append({ source: 'lis', events: [hl7(stream, key, controlId)] });
      nowMs += 1_000;
    }
  }

  it('finds messages by control id, key, stream and time, newest first, through their indexes', async () => {
    const start = nowMs;
    await journalOf([['results', 'R1', 'C1'], ['adt', 'P1', 'C2'], ['results', 'R1', 'C3'], ['results', 'R2', 'C1'], ['orders', 'O1', 'C5']]);
    const search = new MessageSearch(db);
    const seqs = (q: Parameters<MessageSearch['search']>[0]) => search.search(q).map((m) => m.seq);
    expect(seqs({ controlId: 'C1', limit: 10 })).toEqual([4, 1]);
    expect(seqs({ controlId: 'C1', stream: 'results', key: 'R2', limit: 10 })).toEqual([4]);
    expect(seqs({ key: 'R1', limit: 10 })).toEqual([3, 1]);
    expect(seqs({ stream: 'results', limit: 2 })).toEqual([4, 3]);
    expect(seqs({ fromMs: start + 1_000, toMs: start + 3_000, limit: 10 })).toEqual([4, 3, 2]);
    expect(seqs({ controlId: 'C1', fromMs: start + 500, limit: 10 })).toEqual([4]);
    expect(seqs({ controlId: 'nope', limit: 10 })).toEqual([]);
    expect(search.search({ controlId: 'C3', limit: 1 })[0]).toMatchObject({ seq: 3, stream: 'results', key: 'R1', tsMs: start + 2_000, source: 'lis', headers: { controlId: 'C3' } });
    expect(search.body(3)?.toString()).toContain('|C3|');

    const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; ');
    expect(plan("SELECT seq FROM journal WHERE seq >= 1 AND seq <= 5 AND json_extract(headers, '$.controlId') = 'C1' AND content_type = 'hl7v2' ORDER BY seq DESC LIMIT 5")).toContain('journal_by_control_id');
    expect(plan("SELECT seq FROM journal WHERE seq >= 1 AND seq <= 5 AND key = 'R1' ORDER BY seq DESC LIMIT 5")).toContain('journal_by_key');
  });

  it('tells when a feed was acknowledged, bounded by the saves before and after, and trims the history with the journal', () => {
    const acks = new FeedAcks(db, clock);
    nowMs = 10_000;
    acks.record('clinical', 'cloud', 5);
    nowMs = 11_000;
    acks.record('clinical', 'cloud', 9);
    nowMs = 12_000;
    acks.record('clinical', 'cloud', 20);
    expect(acks.ackedAt('clinical', 3)).toEqual({ atMs: 10_000, afterMs: undefined });
    expect(acks.ackedAt('clinical', 9)).toEqual({ atMs: 11_000, afterMs: 10_000 });
    expect(acks.ackedAt('clinical', 10)).toEqual({ atMs: 12_000, afterMs: 11_000 });
    expect(acks.ackedAt('clinical', 21)).toBeUndefined();
    expect(acks.ackedAt('other', 1)).toBeUndefined();

    db.prepare('UPDATE journal_trim_floor SET trimmed_through = 10').run();
    nowMs = 13_000;
    acks.record('clinical', 'cloud', 25);
    expect(db.prepare("SELECT acked_seq FROM feed_ack_history WHERE feed = 'clinical' ORDER BY acked_seq").pluck().all()).toEqual([20, 25]);
  });

  it('keeps refusals bounded in memory and on disk, newest first, written at flush', () => {
    const log = new RejectionLog(db, { clock, maxBuffered: 3, maxRows: 4, retentionMs: 60_000 });
    const refuse = (n: number) => log.note({ atMs: nowMs, source: 'lis', peer: '10.0.0.9:4000', controlId: `B${n}`, ackCode: 'AE', reason: `reason ${n}` });
    for (let n = 1; n <= 5; n++) refuse(n);
    expect(log.dropped).toBe(2);
    expect(log.newest(10).map((r) => r.controlId)).toEqual(['B5', 'B4', 'B3']);
    expect(db.prepare('SELECT COUNT(*) FROM rejected_messages').pluck().get()).toBe(0);
    log.flush();
    for (let n = 6; n <= 8; n++) refuse(n);
    log.flush();
    expect(log.newest(10).map((r) => r.controlId)).toEqual(['B8', 'B7', 'B6', 'B5']);
    expect(log.newest(1)[0]).toEqual({ atMs: nowMs, source: 'lis', peer: '10.0.0.9:4000', controlId: 'B8', ackCode: 'AE', reason: 'reason 8' });
    nowMs += 120_000;
    log.note({ atMs: nowMs, source: 'lis', ackCode: 'AR', reason: 'disk full' });
    log.flush();
    expect(log.newest(10)).toEqual([{ atMs: nowMs, source: 'lis', ackCode: 'AR', reason: 'disk full' }]);
  });

  it('answers where a message went per feed: relay ack, and vendors unknown, not read, or read past it', async () => {
    await journalOf([['results', 'R1', 'C1'], ['results', 'R2', 'C2'], ['adt', 'P1', 'C3']]);
    const acks = new FeedAcks(db, clock);
    const vendors = new VendorPositions(clock);
    const browser = new MessageBrowser({
      search: new MessageSearch(db),
      feedAcks: acks,
      vendorPositions: vendors,
      rejections: new RejectionLog(db, { clock }),
      feeds: [{ name: 'clinical', relay: 'cloud', streams: ['results'] }],
      showMessages: false,
    });
    const feedOf = (controlId: string) => browser.find({ controlId, limit: 1 })[0]!.feeds[0]!;
    expect(feedOf('C1')).toEqual({ feed: 'clinical', relay: 'cloud', acked: false, ackedSeq: 0, vendors: 'unknown' });
    expect(browser.find({ controlId: 'C3', limit: 1 })[0]!.feeds).toEqual([]);

    nowMs = 50_000;
    acks.record('clinical', 'cloud', 1);
    vendors.update('cloud', []);
    expect(feedOf('C1')).toEqual({ feed: 'clinical', relay: 'cloud', acked: true, ackedSeq: 1, ackedAtMs: 50_000, vendors: [] });
    expect(feedOf('C2')).toMatchObject({ acked: false, ackedSeq: 1 });

    vendors.update('cloud', [{ feed: 'clinical', vendor: 'regional-platform', readThroughSeq: 1, readAtMs: 51_000 }, { feed: 'other', vendor: 'x', readThroughSeq: 9, readAtMs: 1 }]);
    expect(feedOf('C1').vendors).toEqual([{ vendor: 'regional-platform', readThroughSeq: 1, readAtMs: 51_000, readPast: true }]);
    expect(feedOf('C2').vendors).toEqual([{ vendor: 'regional-platform', readThroughSeq: 1, readAtMs: 51_000, readPast: false }]);

    const one = browser.get(1)!;
    expect(one).toMatchObject({ seq: 1, controlId: 'C1', ack: 'AA', messageType: 'ORU^R01', sendingApplication: 'LIS' });
    expect(one.body).toBeUndefined(); // showMessages off: metadata only
    expect(browser.get(99)).toBeUndefined();
  });

  it('shows the raw message only with showMessages', async () => {
    await journalOf([['results', 'R1', 'C1']]);
    const browser = new MessageBrowser({ search: new MessageSearch(db), feedAcks: new FeedAcks(db), vendorPositions: new VendorPositions(), rejections: new RejectionLog(db), feeds: [], showMessages: true });
    expect(browser.get(1)!.body).toContain('ORU^R01|C1|');
    expect(browser.find({ controlId: 'C1', limit: 1 })[0]!.body).toBeUndefined();
  });
});

describe('parseMessageQuery', () => {
  const parse = (qs: string) => parseMessageQuery(new URLSearchParams(qs));
  it('reads every filter, times as ISO 8601 or ms', () => {
    expect(parse('controlId=LIS-1&key=R1&stream=results&from=2026-12-02T02:10:00Z&to=1800000000000&limit=20')).toEqual({
      controlId: 'LIS-1',
      key: 'R1',
      stream: 'results',
      fromMs: Date.parse('2026-12-02T02:10:00Z'),
      toMs: 1_800_000_000_000,
      limit: 20,
    });
    expect(parse('controlId=%20&limit=100000')).toEqual({ limit: 500 });
    expect(parse('')).toEqual({ limit: 50 });
  });
  it('names the parameter it cannot use', () => {
    expect(() => parse('from=yesterday')).toThrow(MessageQueryError);
    expect(() => parse('from=yesterday')).toThrow(/^from: expected an ISO 8601 time/);
    expect(() => parse('limit=0')).toThrow(/^limit: expected a whole number/);
    expect(() => parse('from=2000&to=1000')).toThrow(/from \(2000\) is after to \(1000\)/);
  });
});
