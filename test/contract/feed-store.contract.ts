// The FeedStore contract (cloud-relay/store/feed-store.ts), run against every
// backend: SQLite now (feed-store.sqlite.contract.test.ts), PostgreSQL next.
// Nothing here knows how a backend keeps its data: a backend hands the suite a
// store, a way to reopen the same storage after close(), and a cleanup.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FeedRevokedError, FeedStoreClosedError } from '../../cloud-relay/errors.js';
import type { BatchToStore, FeedFilter, FeedStore, FeedStoreListeners, LedgerHeadInput } from '../../cloud-relay/store/index.js';
import { cursorOutOfRange, nextCursor } from '../../cloud-relay/feeds/index.js';
import { createHash } from 'node:crypto';
import { treeHeadText, type JournalEvent } from '../../protocol/index.js';
import { makeEvent, makeEvents } from '../integration/relay-harness.js';

/** What the suite gives a backend to open with: its listeners, its clock (ms since the epoch) and a small retention chunk. */
export interface FeedStoreHooks extends Required<FeedStoreListeners> {
  now: () => number;
  /** Events applyRetention examines per transaction: small here, so every sweep of the suite runs in several chunks. */
  retentionChunkRows: number;
}

export interface FeedStoreFixture {
  store: FeedStore;
  /** Opens the same storage again, with the same hooks (the previous store is closed first by the suite). */
  reopen(): Promise<FeedStore>;
  /** Closes whatever is open and removes the storage. */
  cleanup(): Promise<void>;
}

/** A batch of (hospital, feed) with its events (default: one per seq; null: sent without events, not decoded). */
function batch(hospital: string, feed: string, firstSeq: number, lastSeq: number, events: readonly JournalEvent[] | null = makeEvents(firstSeq, lastSeq), extra: Partial<BatchToStore> = {}): BatchToStore {
  return { hospital, feed, firstSeq, lastSeq, ...(events ? { events } : {}), ...extra };
}

/** An event of `stream` with headers.messageType `messageType` (none when undefined). */
function typed(seq: number, stream: string, messageType?: string): JournalEvent {
  return makeEvent(seq, { stream, headers: messageType === undefined ? { controlId: `MSG${seq}` } : { controlId: `MSG${seq}`, messageType } });
}

/** Twelve events over two streams and several message types, one without a type. */
const MIXED: readonly JournalEvent[] = [
  typed(1, 'adt', 'ADT^A01'),
  typed(2, 'results', 'ORU^R01'),
  typed(3, 'adt', 'ADT^A08'),
  typed(4, 'adt'),
  typed(5, 'results', 'ORU^R01'),
  typed(6, 'adt', 'ADT'),
  typed(7, 'adt', 'ADT^A01'),
  typed(8, 'results', 'ORU^R01'),
  typed(9, 'results', 'ORU^R01'),
  typed(10, 'results', 'ORU^R01'),
  typed(11, 'adt', 'ADT^A04'),
  typed(12, 'results', 'ORU^R01'),
];

function bodyBytes(events: readonly JournalEvent[]): number {
  return events.reduce((sum, e) => sum + e.body.length, 0);
}

const HEAD_A: LedgerHeadInput = { index: 7, hash: new Uint8Array(32).fill(0xab) };
const HEAD_B: LedgerHeadInput = { index: 9, hash: new Uint8Array(32).fill(0xcd) };

export function describeFeedStoreContract(label: string, open: (hooks: FeedStoreHooks) => Promise<FeedStoreFixture>): void {
  describe(`FeedStore contract: ${label}`, () => {
    let fixture: FeedStoreFixture;
    let store: FeedStore;
    let advances: [string, string, number][];
    let revokes: [string, string][];
    let clock: number;

    beforeEach(async () => {
      advances = [];
      revokes = [];
      clock = 1_700_000_000_000;
      fixture = await open({ now: () => clock, onAdvance: (h, f, hw) => advances.push([h, f, hw]), onRevoke: (h, f) => revokes.push([h, f]), retentionChunkRows: 4 });
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    async function reopen(): Promise<void> {
      await store.close();
      store = await fixture.reopen();
    }

    it('appends, ignores duplicates, stores only the new part of an overlap, refuses a gap', async () => {
      expect(await store.storeBatch(batch('h1', 'adt', 1, 5))).toEqual({ decision: { kind: 'append' }, highWater: 5, storedEvents: 5 });
      expect(await store.storeBatch(batch('h1', 'adt', 1, 5))).toEqual({ decision: { kind: 'duplicate' }, highWater: 5, storedEvents: 0 });
      expect(await store.storeBatch(batch('h1', 'adt', 4, 8))).toEqual({ decision: { kind: 'overlap' }, highWater: 8, storedEvents: 3 });
      expect(await store.storeBatch(batch('h1', 'adt', 10, 12))).toEqual({
        decision: { kind: 'gap', expectedSeq: 9 },
        highWater: 8,
        storedEvents: 0,
      });
      expect(store.position('h1', 'adt').highWaterSeq).toBe(8);
      expect(store.position('h1', 'results').highWaterSeq).toBe(0);
      expect(store.position('h2', 'adt').highWaterSeq).toBe(0);
      expect(advances).toEqual([
        ['h1', 'adt', 5],
        ['h1', 'adt', 8],
      ]);
      expect(await store.feedSizes()).toEqual([{ hospital: 'h1', feed: 'adt', highWaterSeq: 8, events: 8, updatedAtMs: clock, retentionFloorSeq: 0, oldestSeq: 1 }]);
    });

    it('is idempotent on (hospital, feed, seq): the same batch stored again leaves one copy of each event', async () => {
      await store.storeBatch(batch('h1', 'adt', 1, 3));
      for (let i = 0; i < 3; i++) expect(await store.storeBatch(batch('h1', 'adt', 1, 3))).toEqual({ decision: { kind: 'duplicate' }, highWater: 3, storedEvents: 0 });
      // An overlap whose old part differs stores only the new seqs; the held events stay as they were.
      await store.storeBatch(batch('h1', 'adt', 2, 4, [makeEvent(2, { key: 'CHANGED' }), makeEvent(3), makeEvent(4)]));
      const page = await store.readEvents('h1', 'adt', 0, 100);
      expect(page.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(page.events[1]).toEqual(makeEvent(2));
      expect((await store.feedSizes())[0]).toMatchObject({ highWaterSeq: 4, events: 4 });
    });

    it('refuses a gap with the seq to resend from, storing nothing and keeping the mark', async () => {
      expect(await store.storeBatch(batch('h1', 'adt', 3, 4))).toEqual({ decision: { kind: 'gap', expectedSeq: 1 }, highWater: 0, storedEvents: 0 });
      expect(store.position('h1', 'adt')).toEqual({ highWaterSeq: 0, revoked: false });
      expect((await store.readEvents('h1', 'adt', 0, 100)).events).toEqual([]);
      expect(advances).toEqual([]);
    });

    it('answers an invalid range without storing it', async () => {
      expect((await store.storeBatch(batch('h1', 'adt', 0, 2, []))).decision.kind).toBe('invalid');
      expect((await store.storeBatch(batch('h1', 'adt', 5, 4, []))).decision.kind).toBe('invalid');
      expect(store.position('h1', 'adt').highWaterSeq).toBe(0);
    });

    it('keeps the high-water mark contiguous: it moves to lastSeq even where policy left seqs without events', async () => {
      await store.storeBatch(batch('h1', 'adt', 1, 10, [makeEvent(2), makeEvent(9)]));
      expect(store.position('h1', 'adt').highWaterSeq).toBe(10);
      expect(await store.storeBatch(batch('h1', 'adt', 11, 11))).toMatchObject({ decision: { kind: 'append' }, highWater: 11 });
      const page = await store.readEvents('h1', 'adt', 0, 100);
      expect(page).toMatchObject({ highWater: 11, complete: true });
      expect(page.events.map((e) => e.seq)).toEqual([2, 9, 11]);
    });

    it('shows vendors a transaction cut into several batches only once its last batch is stored', async () => {
      // Seqs 1..3 stand alone, 4..12 are one source transaction sent in three batches.
      await store.storeBatch(batch('h1', 'adt', 1, 6, makeEvents(1, 6), { completeThroughSeq: 3 }));
      expect(store.position('h1', 'adt').highWaterSeq).toBe(6);
      const first = await store.readEvents('h1', 'adt', 0, 100);
      expect(first).toMatchObject({ highWater: 3, complete: true });
      expect(first.events.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(await store.pageExtent('h1', 'adt', 0, 100)).toEqual({ highWater: 3, lastSeq: 3, events: 3, complete: true, prevSeq: 0, retentionFloorSeq: 0 });

      await store.storeBatch(batch('h1', 'adt', 7, 9, makeEvents(7, 9), { completeThroughSeq: 3 }));
      expect(store.position('h1', 'adt').highWaterSeq).toBe(9);
      expect((await store.readEvents('h1', 'adt', 3, 100)).events).toEqual([]);
      // Vendors are woken only for what they may read.
      expect(advances.map(([, , seq]) => seq)).toEqual([3, 3]);

      // A closed store forgets nothing: the hidden part stays hidden after a reopen.
      await reopen();
      expect(await store.readEvents('h1', 'adt', 0, 100)).toMatchObject({ highWater: 3 });

      await store.storeBatch(batch('h1', 'adt', 10, 12, makeEvents(10, 12), { completeThroughSeq: 12 }));
      const whole = await store.readEvents('h1', 'adt', 3, 100);
      expect(whole).toMatchObject({ highWater: 12, complete: true });
      expect(whole.events.map((e) => e.seq)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12]);
    });

    it('never moves the visible seq backward nor past the high-water mark; an older agent is shown each batch whole', async () => {
      await store.storeBatch(batch('h1', 'adt', 1, 5, makeEvents(1, 5), { completeThroughSeq: 5 }));
      // A later batch complete through less than is already shown hides nothing again.
      await store.storeBatch(batch('h1', 'adt', 6, 8, makeEvents(6, 8), { completeThroughSeq: 2 }));
      expect((await store.readEvents('h1', 'adt', 0, 100)).highWater).toBe(5);
      // A claim past the batch's own range shows no more than is stored.
      await store.storeBatch(batch('h1', 'adt', 9, 10, makeEvents(9, 10), { completeThroughSeq: 50 }));
      expect((await store.readEvents('h1', 'adt', 0, 100)).highWater).toBe(10);
      // 0 (or absent): an agent older than complete_through_seq, shown as it comes.
      await store.storeBatch(batch('h1', 'adt', 11, 12, makeEvents(11, 12), { completeThroughSeq: 0 }));
      await store.storeBatch(batch('h1', 'adt', 13, 14));
      expect((await store.readEvents('h1', 'adt', 0, 100)).highWater).toBe(14);
      expect(store.position('h1', 'adt').highWaterSeq).toBe(14);
      // A duplicate or a gap leaves it where it is.
      await store.storeBatch(batch('h1', 'adt', 13, 14, makeEvents(13, 14), { completeThroughSeq: 13 }));
      await store.storeBatch(batch('h1', 'adt', 20, 21, makeEvents(20, 21), { completeThroughSeq: 21 }));
      expect((await store.readEvents('h1', 'adt', 0, 100)).highWater).toBe(14);
    });

    it('rolls back a batch whose events fall outside its range', async () => {
      await expect(store.storeBatch(batch('h1', 'adt', 1, 3, makeEvents(1, 4)))).rejects.toThrow(RangeError);
      expect(store.position('h1', 'adt').highWaterSeq).toBe(0);
      expect((await store.readEvents('h1', 'adt', 0, 100)).events).toEqual([]);
    });

    it('refuses a range beyond what its events and the announced journal head justify, keeping nothing', async () => {
      const claimed = Number.MAX_SAFE_INTEGER;
      const refused = await store.storeBatch(batch('h1', 'adt', 1, claimed, makeEvents(1, 3), { ledgerHead: HEAD_A }));
      expect(refused.decision.kind).toBe('beyond-head');
      expect(refused).toMatchObject({ highWater: 0, storedEvents: 0 });
      expect(store.position('h1', 'adt').highWaterSeq).toBe(0);
      expect(await store.ledgerHeads()).toEqual([]);
      // The agent's announced head justifies a range past its last event.
      expect(await store.storeBatch(batch('h1', 'adt', 1, 20, makeEvents(1, 3), { journalHeadSeq: 20 }))).toEqual({ decision: { kind: 'append' }, highWater: 20, storedEvents: 3 });
      expect((await store.storeBatch(batch('h1', 'adt', 21, 30, makeEvents(21, 22), { journalHeadSeq: 25 }))).decision).toEqual({ kind: 'beyond-head', ceilingSeq: 25 });
      expect(store.position('h1', 'adt').highWaterSeq).toBe(20);
    });

    it('asks for the events of a batch it would store, and answers one it would not without them', async () => {
      expect(await store.storeBatch(batch('h1', 'adt', 1, 3, null))).toEqual({ decision: { kind: 'needs-events' }, highWater: 0, storedEvents: 0 });
      expect(await store.ledgerHeads()).toEqual([]);
      await store.storeBatch(batch('h1', 'adt', 1, 3));
      expect(await store.storeBatch(batch('h1', 'adt', 2, 3, null))).toEqual({ decision: { kind: 'duplicate' }, highWater: 3, storedEvents: 0 });
      expect(await store.storeBatch(batch('h1', 'adt', 8, 9, null))).toEqual({ decision: { kind: 'gap', expectedSeq: 4 }, highWater: 3, storedEvents: 0 });
      expect((await store.ledgerHeads())[0]).toMatchObject({ batches: 3 });
    });

    it('keeps the newest ledger head per feed and counts every batch received, stored or refused', async () => {
      await store.storeBatch(batch('h1', 'adt', 1, 2, makeEvents(1, 2), { ledgerHead: HEAD_B }));
      clock += 1_000;
      await store.storeBatch(batch('h1', 'adt', 1, 2, makeEvents(1, 2), { ledgerHead: HEAD_A })); // older head: not kept
      await store.storeBatch(batch('h1', 'adt', 9, 9)); // a gap, without a head
      expect(await store.ledgerHeads()).toEqual([
        { hospital: 'h1', feed: 'adt', ledgerIndex: 9, ledgerHead: 'cd'.repeat(32), receivedAtMs: clock - 1_000, batches: 3, lastBatchAtMs: clock },
      ]);
      // Feed control keeps a head too but is not a batch.
      await store.reinstateFeed({ hospital: 'h1', feed: 'lab', ledgerHead: HEAD_A });
      expect((await store.ledgerHeads()).find((h) => h.feed === 'lab')).toMatchObject({ ledgerIndex: 7, batches: 0, lastBatchAtMs: null });
    });

    it('reads pages by limit and by size, with the mark of the same snapshot', async () => {
      await store.storeBatch(batch('h1', 'adt', 1, 10, makeEvents(1, 6)));
      const all = await store.readEvents('h1', 'adt', 0, 100);
      expect(all.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(all).toMatchObject({ highWater: 10, complete: true });
      expect(all.events[0]).toEqual(makeEvent(1));

      const limited = await store.readEvents('h1', 'adt', 2, 3);
      expect(limited.events.map((e) => e.seq)).toEqual([3, 4, 5]);
      expect(limited.complete).toBe(false);
      expect((await store.readEvents('h1', 'adt', 3, 3)).complete).toBe(true);

      // A size cap still returns at least one event.
      const bodyBytes = makeEvent(1).body.length;
      expect((await store.readEvents('h1', 'adt', 0, 100, 1)).events).toHaveLength(1);
      const sized = await store.readEvents('h1', 'adt', 0, 100, bodyBytes * 2);
      expect(sized.events.map((e) => e.seq)).toEqual([1, 2]);
      expect(sized.complete).toBe(false);
    });

    it('gives the extent of the page readEvents would give, and reads no further than untilSeq', async () => {
      await store.storeBatch(batch('h1', 'adt', 1, 12, makeEvents(1, 8)));
      for (const [after, limit, maxBytes] of [[0, 100, 1_000_000], [2, 3, 1_000_000], [0, 100, 1], [8, 10, 1_000_000]] as const) {
        const page = await store.readEvents('h1', 'adt', after, limit, maxBytes);
        expect(await store.pageExtent('h1', 'adt', after, limit, maxBytes)).toEqual({ highWater: 12, lastSeq: page.events.at(-1)?.seq, events: page.events.length, complete: page.complete, prevSeq: page.prevSeq, retentionFloorSeq: 0 });
      }
      const chunk = await store.readEvents('h1', 'adt', 0, 100, 1_000_000, 4);
      expect(chunk.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(chunk).toMatchObject({ highWater: 12, complete: true });
    });

    it('counts unread events after a cursor up to a cap, with when the oldest was stored', async () => {
      await store.storeBatch(batch('h1', 'adt', 1, 5));
      clock += 5_000;
      await store.storeBatch(batch('h1', 'adt', 6, 8));
      expect(await store.unreadAfter('h1', 'adt', 0, 100)).toEqual({ events: 8, capped: false, oldestStoredAtMs: clock - 5_000 });
      expect(await store.unreadAfter('h1', 'adt', 5, 100)).toEqual({ events: 3, capped: false, oldestStoredAtMs: clock });
      expect(await store.unreadAfter('h1', 'adt', 0, 4)).toMatchObject({ events: 4, capped: true });
      expect(await store.unreadAfter('h1', 'adt', 8, 100)).toEqual({ events: 0, capped: false, oldestStoredAtMs: null });
      expect(await store.unreadAfter('h2', 'adt', 0, 100)).toEqual({ events: 0, capped: false, oldestStoredAtMs: null });
    });

    it('keeps hospitals and feeds apart', async () => {
      await store.storeBatch(batch('h1', 'adt', 1, 3));
      await store.storeBatch(batch('h2', 'adt', 1, 1));
      await store.storeBatch(batch('h1', 'lab', 1, 2));
      expect((await store.readEvents('h2', 'adt', 0, 100)).events.map((e) => e.seq)).toEqual([1]);
      expect((await store.feedSizes()).map((f) => [f.hospital, f.feed, f.highWaterSeq])).toEqual([
        ['h1', 'adt', 3],
        ['h1', 'lab', 2],
        ['h2', 'adt', 1],
      ]);
    });

    it('refuses a revoked feed, erases its events, and continues from its mark once reinstated', async () => {
      await store.storeBatch(batch('h1', 'adt', 1, 5));
      await store.storeBatch(batch('h1', 'lab', 1, 2));
      const bytes = makeEvents(1, 5).reduce((sum, e) => sum + e.body.length, 0);
      const outcome = await store.revokeFeed({ hospital: 'h1', feed: 'adt', reason: 'consent withdrawn', ledgerHead: HEAD_A });
      expect(outcome).toMatchObject({ eventsDeleted: 5, bytesDeleted: bytes, alreadyRevoked: false });
      expect(outcome.revocation).toEqual({ hospital: 'h1', feed: 'adt', highWaterSeq: 5, eventsDeleted: 5, bytesDeleted: bytes, reason: 'consent withdrawn', revokedAtMs: clock });
      expect(revokes).toEqual([['h1', 'adt']]);
      expect(store.position('h1', 'adt')).toEqual({ highWaterSeq: 5, revoked: true });

      // Nothing of it is stored or served; the other feed goes on.
      expect(await store.storeBatch(batch('h1', 'adt', 6, 7))).toEqual({ decision: { kind: 'revoked', revokedAtMs: clock }, highWater: 5, storedEvents: 0 });
      expect(await store.storeBatch(batch('h1', 'adt', 6, 7, null))).toEqual({ decision: { kind: 'revoked', revokedAtMs: clock }, highWater: 5, storedEvents: 0 });
      await expect(store.readEvents('h1', 'adt', 0, 100)).rejects.toThrow(FeedRevokedError);
      await expect(store.pageExtent('h1', 'adt', 0, 100)).rejects.toThrow(FeedRevokedError);
      expect(await store.unreadAfter('h1', 'adt', 0, 100)).toMatchObject({ events: 0 });
      expect((await store.feedSizes()).map((f) => f.feed)).toEqual(['lab']);
      expect((await store.revocations()).map((r) => [r.hospital, r.feed, r.highWaterSeq])).toEqual([['h1', 'adt', 5]]);
      expect((await store.ledgerHeads()).find((h) => h.feed === 'adt')).toMatchObject({ ledgerIndex: 7, batches: 3 });

      // A repeat deletes what is left (nothing) and says so.
      expect(await store.revokeFeed({ hospital: 'h1', feed: 'adt', reason: 'again' })).toMatchObject({ eventsDeleted: 0, bytesDeleted: 0, alreadyRevoked: true });

      expect(await store.reinstateFeed({ hospital: 'h1', feed: 'adt' })).toEqual({ wasRevoked: true, highWaterSeq: 5 });
      expect(await store.reinstateFeed({ hospital: 'h1', feed: 'adt' })).toEqual({ wasRevoked: false, highWaterSeq: 5 });
      expect(store.position('h1', 'adt')).toEqual({ highWaterSeq: 5, revoked: false });
      expect(await store.revocations()).toEqual([]);
      expect(await store.storeBatch(batch('h1', 'adt', 1, 5))).toMatchObject({ decision: { kind: 'duplicate' }, storedEvents: 0 });
      expect(await store.storeBatch(batch('h1', 'adt', 6, 7))).toEqual({ decision: { kind: 'append' }, highWater: 7, storedEvents: 2 });
      // Erased events stay gone.
      expect((await store.readEvents('h1', 'adt', 0, 100)).events.map((e) => e.seq)).toEqual([6, 7]);
    });

    it('lists completeness leaves from the stored bodies, through the mark, in seq order', async () => {
      const events = makeEvents(1, 6).filter((e) => e.seq !== 4); // a policy-filtered position
      await store.storeBatch(batch('h1', 'adt', 1, 6, events, { completeThroughSeq: 3 }));
      const sha = (body: Buffer): Buffer => createHash('sha256').update(body).digest();
      // Stored, not visible: seqs 5 and 6 are past the visible seq yet acknowledged.
      expect(await store.feedLeaves('h1', 'adt', 2, 99)).toEqual(events.slice(1).map((e) => ({ seq: e.seq, bodySha256: sha(e.body) })));
      expect(await store.feedLeaves('h1', 'adt', 4, 4)).toEqual([]);
      expect(await store.feedLeaves('h1', 'lab', 1, 10)).toEqual([]);
      await store.revokeFeed({ hospital: 'h1', feed: 'adt', reason: 'test' });
      await expect(store.feedLeaves('h1', 'adt', 1, 6)).rejects.toThrow(FeedRevokedError);
    });

    it('stores a repair only where an event is missing below the mark, moving no mark', async () => {
      await store.storeBatch(batch('h1', 'adt', 1, 5, makeEvents(1, 5).filter((e) => e.seq !== 3)));
      const before = (await store.readEvents('h1', 'adt', 0, 10)).highWater;
      const altered = { ...makeEvent(2), body: Buffer.from('not what was stored') };
      expect(await store.storeBatch(batch('h1', 'adt', 2, 7, [altered, makeEvent(3), makeEvent(7)], { repair: true }))).toEqual({
        decision: { kind: 'repaired' },
        highWater: 5,
        storedEvents: 1,
      });
      expect(store.position('h1', 'adt').highWaterSeq).toBe(5);
      const page = await store.readEvents('h1', 'adt', 0, 10);
      expect(page.highWater).toBe(before);
      expect(page.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(page.events[1]!.body).toEqual(makeEvent(2).body); // a held event is never overwritten
      expect((await store.feedSizes())[0]).toMatchObject({ events: 5 });
    });

    it('keeps signed tree heads per feed, replacing a head for the same window', async () => {
      const head = (fromSeq: number, toSeq: number, signature: string) => {
        const fields = { hospital: 'h1', feed: 'adt', fromSeq, toSeq, treeSize: toSeq - fromSeq + 1, root: Buffer.alloc(32, fromSeq), signedAtMs: clock };
        return { ...fields, signedText: treeHeadText(fields), signature };
      };
      expect(await store.treeHeads('h1', 'adt')).toEqual([]);
      await store.recordTreeHead(head(11, 20, 'b'));
      await store.recordTreeHead(head(1, 10, 'a'));
      await store.recordTreeHead(head(11, 20, 'c'));
      await reopen();
      expect(await store.treeHeads('h1', 'adt')).toEqual([head(1, 10, 'a'), head(11, 20, 'c')]);
      expect(await store.treeHeads('h1', 'lab')).toEqual([]);
      // A purge takes the feed's tree heads with its events: nothing signed about it is served afterwards.
      const purged = await store.purgeFeed({ hospital: 'h1', feed: 'adt', reason: 'test' });
      expect(purged.treeHeadsDeleted).toBe(2);
      expect(await store.treeHeads('h1', 'adt')).toEqual([]);
    });

    it('keeps everything it acknowledged across a reopen', async () => {
      await store.storeBatch(batch('h1', 'adt', 1, 3, makeEvents(1, 3), { ledgerHead: HEAD_A }));
      await store.storeBatch(batch('h1', 'lab', 1, 2));
      await store.revokeFeed({ hospital: 'h1', feed: 'lab', reason: 'test' });
      await reopen();
      expect(store.position('h1', 'adt')).toEqual({ highWaterSeq: 3, revoked: false });
      expect(store.position('h1', 'lab')).toEqual({ highWaterSeq: 2, revoked: true });
      expect((await store.readEvents('h1', 'adt', 0, 10)).events).toEqual(makeEvents(1, 3));
      expect((await store.ledgerHeads()).find((h) => h.feed === 'adt')).toMatchObject({ ledgerIndex: 7, batches: 1 });
      expect(await store.storeBatch(batch('h1', 'adt', 1, 3))).toMatchObject({ decision: { kind: 'duplicate' } });
      expect(await store.storeBatch(batch('h1', 'lab', 3, 3))).toMatchObject({ decision: { kind: 'revoked' } });
    });

    describe('filters', () => {
      const seqs = async (afterSeq: number, filter: FeedFilter, limit = 100) => (await store.readEvents('h1', 'mixed', afterSeq, limit, undefined, undefined, filter)).events.map((e) => e.seq);

      beforeEach(async () => {
        await store.storeBatch(batch('h1', 'mixed', 1, 12, [...MIXED]));
      });

      it('passes only the streams asked for, in the query, with the mark of the same snapshot', async () => {
        const page = await store.readEvents('h1', 'mixed', 0, 100, undefined, undefined, { streams: ['adt'] });
        expect(page.events.map((e) => e.seq)).toEqual([1, 3, 4, 6, 7, 11]);
        expect(page.events[0]).toEqual(MIXED[0]);
        expect(page).toMatchObject({ highWater: 12, complete: true, prevSeq: 0, retentionFloorSeq: 0 });
        expect(await seqs(0, { streams: ['adt', 'results'] })).toEqual(MIXED.map((e) => e.seq));
        expect(await seqs(0, { streams: ['orders'] })).toEqual([]);
        // Empty lists pass everything, as no filter does.
        expect(await seqs(0, { streams: [], messageTypes: [] })).toEqual(MIXED.map((e) => e.seq));
      });

      it('matches a message type exactly, and a code against every trigger of it; an event without a type never passes', async () => {
        expect(await seqs(0, { messageTypes: ['ADT^A01'] })).toEqual([1, 7]);
        expect(await seqs(0, { messageTypes: ['ADT'] })).toEqual([1, 3, 6, 7, 11]);
        expect(await seqs(0, { messageTypes: ['ADT^A08', 'ORU'] })).toEqual([2, 3, 5, 8, 9, 10, 12]);
        expect(await seqs(0, { messageTypes: ['AD'] })).toEqual([]); // a code is the whole part before "^", not a prefix
        expect(await seqs(0, { messageTypes: ['ADT^A0'] })).toEqual([]);
        expect(await seqs(0, { streams: ['results'], messageTypes: ['ADT'] })).toEqual([]);
        expect(await seqs(0, { streams: ['adt'], messageTypes: ['ADT^A01', 'ADT^A04'] })).toEqual([1, 7, 11]);
      });

      it('counts only matching events against the limit, and the cursor moves through what the filter leaves out', async () => {
        const filter = { messageTypes: ['ADT'] };
        const first = await store.readEvents('h1', 'mixed', 0, 2, undefined, undefined, filter);
        expect(first.events.map((e) => e.seq)).toEqual([1, 3]);
        expect(first).toMatchObject({ complete: false, highWater: 12, prevSeq: 0 });
        expect(nextCursor(0, first)).toBe(3);
        expect(await store.pageExtent('h1', 'mixed', 0, 2, undefined, filter)).toEqual({ highWater: 12, lastSeq: 3, events: 2, complete: false, prevSeq: 0, retentionFloorSeq: 0 });
        const second = await store.readEvents('h1', 'mixed', 3, 2, undefined, undefined, filter);
        expect(second.events.map((e) => e.seq)).toEqual([6, 7]);
        expect(second).toMatchObject({ complete: false, prevSeq: 3 });
        const third = await store.readEvents('h1', 'mixed', 7, 2, undefined, undefined, filter);
        expect(third.events.map((e) => e.seq)).toEqual([11]);
        expect(third).toMatchObject({ complete: true, prevSeq: 7 });
        // Complete: the cursor goes to the mark, past seq 12 that the filter left out.
        expect(nextCursor(7, third)).toBe(12);
        // A range holding nothing that matches: an empty, complete page whose cursor still advances.
        const none = await store.readEvents('h1', 'mixed', 0, 5, undefined, undefined, { messageTypes: ['ADT^A31'] });
        expect(none).toMatchObject({ events: [], complete: true, highWater: 12, prevSeq: 0 });
        expect(nextCursor(0, none)).toBe(12);
        const extent = await store.pageExtent('h1', 'mixed', 11, 5, undefined, filter);
        expect(extent).toEqual({ highWater: 12, lastSeq: undefined, events: 0, complete: true, prevSeq: 11, retentionFloorSeq: 0 });
        expect(nextCursor(11, extent)).toBe(12);
        // The size cut counts matching bodies only, and untilSeq still bounds the page.
        const sized = await store.readEvents('h1', 'mixed', 0, 100, MIXED[0]!.body.length + MIXED[2]!.body.length, undefined, filter);
        expect(sized.events.map((e) => e.seq)).toEqual([1, 3]);
        expect(sized.complete).toBe(false);
        expect(await store.pageExtent('h1', 'mixed', 0, 100, MIXED[0]!.body.length + MIXED[2]!.body.length, filter)).toMatchObject({ lastSeq: 3, events: 2, complete: false });
        expect((await store.readEvents('h1', 'mixed', 0, 100, undefined, 7, filter)).events.map((e) => e.seq)).toEqual([1, 3, 6, 7]);
      });

      it('gives as prevSeq the last matching event at or before the cursor', async () => {
        const prev = async (afterSeq: number, filter?: FeedFilter) => (await store.readEvents('h1', 'mixed', afterSeq, 1, undefined, undefined, filter)).prevSeq;
        expect(await prev(10)).toBe(10);
        expect(await prev(10, { messageTypes: ['ADT'] })).toBe(7);
        expect(await prev(7, { messageTypes: ['ADT'] })).toBe(7); // at the cursor counts
        expect(await prev(6, { messageTypes: ['ADT^A01'] })).toBe(1);
        expect(await prev(10, { streams: ['adt'], messageTypes: ['ADT^A08'] })).toBe(3);
        expect(await prev(1, { streams: ['results'] })).toBe(0);
        expect((await store.pageExtent('h1', 'mixed', 10, 1, undefined, { streams: ['adt'] })).prevSeq).toBe(7);
        // Chained: each page's prevSeq is the previous page's last matching event.
        let after = 0;
        let last = 0;
        for (;;) {
          const page = await store.readEvents('h1', 'mixed', after, 1, undefined, undefined, { streams: ['results'] });
          if (page.events.length === 0) break;
          expect(page.prevSeq).toBe(last);
          last = page.events[0]!.seq;
          after = nextCursor(after, page);
        }
        expect(last).toBe(12);
      });
    });

    describe('cursorAtTime', () => {
      const at = (seq: number) => makeEvent(seq).tsMs;

      it('finds the cursor before the first event at or after an instant, and the visible seq past the last', async () => {
        await store.storeBatch(batch('h1', 'adt', 1, 10, [makeEvent(2), makeEvent(5), makeEvent(9)]));
        expect(await store.cursorAtTime('h1', 'adt', 0)).toBe(1);
        expect(await store.cursorAtTime('h1', 'adt', at(2))).toBe(1);
        expect(await store.cursorAtTime('h1', 'adt', at(2) + 1)).toBe(4);
        expect(await store.cursorAtTime('h1', 'adt', at(5))).toBe(4);
        expect(await store.cursorAtTime('h1', 'adt', at(9))).toBe(8);
        expect(await store.cursorAtTime('h1', 'adt', at(9) + 1)).toBe(10);
        expect(await store.cursorAtTime('h1', 'never-written', 0)).toBe(0);
      });

      it('never starts beyond the visible seq, orders by the agent clock, and refuses a revoked feed', async () => {
        await store.storeBatch(batch('h1', 'adt', 1, 6, makeEvents(1, 6), { completeThroughSeq: 3 }));
        expect(await store.cursorAtTime('h1', 'adt', at(5))).toBe(3);
        // The agent's clock stepped back at seq 8: the first event by time at or after at(7) - 500 is seq 8.
        await store.storeBatch(batch('h1', 'adt', 7, 8, [makeEvent(7), makeEvent(8, { tsMs: at(7) - 400 })]));
        expect(await store.cursorAtTime('h1', 'adt', at(7) - 500)).toBe(7);
        await store.revokeFeed({ hospital: 'h1', feed: 'adt', reason: 'test' });
        await expect(store.cursorAtTime('h1', 'adt', 0)).rejects.toThrow(FeedRevokedError);
      });

      it('answers below the retention floor for an instant before the oldest event kept', async () => {
        await store.storeBatch(batch('h1', 'adt', 1, 8));
        await store.applyRetention('h1', 'adt', { maxBytes: bodyBytes(makeEvents(5, 8)) });
        expect((await store.feedRange('h1', 'adt')).retentionFloorSeq).toBe(4);
        const early = await store.cursorAtTime('h1', 'adt', 0);
        expect(early).toBe(3);
        expect(cursorOutOfRange(early, await store.readEvents('h1', 'adt', early, 1))).toBe(true);
        expect(await store.cursorAtTime('h1', 'adt', at(5))).toBe(4);
        expect(await store.cursorAtTime('h1', 'adt', at(6))).toBe(5);
      });
    });

    describe('applyRetention', () => {
      const T = 1_700_000_000_000;

      /** Seqs 1..4 received at T, 5..8 at T + 1000, 9..10 at T + 2000. */
      async function threeArrivals(feed = 'adt'): Promise<void> {
        clock = T;
        await store.storeBatch(batch('h1', feed, 1, 4));
        clock = T + 1_000;
        await store.storeBatch(batch('h1', feed, 5, 8));
        clock = T + 2_000;
        await store.storeBatch(batch('h1', feed, 9, 10));
      }

      it('removes by age, raises the floor, and the first event kept has the floor as prevSeq', async () => {
        await threeArrivals();
        expect(await store.applyRetention('h1', 'adt', { receivedBeforeMs: T + 1_000 })).toEqual({ removedEvents: 4, removedBytes: bodyBytes(makeEvents(1, 4)), retentionFloorSeq: 4 });
        expect(await store.feedRange('h1', 'adt')).toEqual({ highWater: 10, retentionFloorSeq: 4, oldestSeq: 5 });
        expect(await store.feedSizes()).toEqual([{ hospital: 'h1', feed: 'adt', highWaterSeq: 10, events: 6, updatedAtMs: T + 2_000, retentionFloorSeq: 4, oldestSeq: 5 }]);
        const page = await store.readEvents('h1', 'adt', 4, 100);
        expect(page.events.map((e) => e.seq)).toEqual([5, 6, 7, 8, 9, 10]);
        expect(page).toMatchObject({ prevSeq: 4, retentionFloorSeq: 4, complete: true });
        expect(await store.pageExtent('h1', 'adt', 4, 100)).toEqual({ highWater: 10, lastSeq: 10, events: 6, complete: true, prevSeq: 4, retentionFloorSeq: 4 });
        // With a filter matching nothing kept before the cursor, prevSeq is the floor too.
        expect((await store.readEvents('h1', 'adt', 7, 100, undefined, undefined, { streams: ['results'] })).prevSeq).toBe(4);
        // A cursor below the floor is out of range; at the floor it is not.
        const below = await store.readEvents('h1', 'adt', 2, 100);
        expect(below.events.map((e) => e.seq)).toEqual([5, 6, 7, 8, 9, 10]);
        expect(cursorOutOfRange(2, below)).toBe(true);
        expect(cursorOutOfRange(4, page)).toBe(false);
        // Idempotent: the same rule again removes nothing and keeps the floor.
        expect(await store.applyRetention('h1', 'adt', { receivedBeforeMs: T + 1_000 })).toEqual({ removedEvents: 0, removedBytes: 0, retentionFloorSeq: 4 });
        // A rule that keeps more never lowers the floor.
        expect(await store.applyRetention('h1', 'adt', { receivedBeforeMs: T })).toEqual({ removedEvents: 0, removedBytes: 0, retentionFloorSeq: 4 });
        expect(await store.applyRetention('h1', 'adt', {})).toEqual({ removedEvents: 0, removedBytes: 0, retentionFloorSeq: 4 });
        // Everything received before now goes; the floor is the newest seq removed, and the feed goes on from its mark.
        expect(await store.applyRetention('h1', 'adt', { receivedBeforeMs: T + 10_000 })).toMatchObject({ removedEvents: 6, retentionFloorSeq: 10 });
        expect(await store.feedRange('h1', 'adt')).toEqual({ highWater: 10, retentionFloorSeq: 10, oldestSeq: undefined });
        expect((await store.feedSizes())[0]).toMatchObject({ events: 0, retentionFloorSeq: 10, oldestSeq: undefined });
        await store.storeBatch(batch('h1', 'adt', 11, 11));
        expect(await store.readEvents('h1', 'adt', 10, 10)).toMatchObject({ prevSeq: 10, retentionFloorSeq: 10, events: [makeEvent(11)] });
        await reopen();
        expect(await store.feedRange('h1', 'adt')).toEqual({ highWater: 11, retentionFloorSeq: 10, oldestSeq: 11 });
      });

      it('removes the oldest events while the bodies take more than maxBytes', async () => {
        await threeArrivals();
        const keep = bodyBytes(makeEvents(8, 10));
        expect(await store.applyRetention('h1', 'adt', { maxBytes: keep })).toEqual({ removedEvents: 7, removedBytes: bodyBytes(makeEvents(1, 7)), retentionFloorSeq: 7 });
        expect((await store.readEvents('h1', 'adt', 7, 100)).events.map((e) => e.seq)).toEqual([8, 9, 10]);
        // One byte less than three events: the oldest of them goes too.
        expect(await store.applyRetention('h1', 'adt', { maxBytes: keep - 1 })).toMatchObject({ removedEvents: 1, retentionFloorSeq: 8 });
        expect(await store.applyRetention('h1', 'adt', { maxBytes: keep - 1 })).toMatchObject({ removedEvents: 0, retentionFloorSeq: 8 });
        // Age and size together: the further cut wins.
        await threeArrivals('lab');
        expect(await store.applyRetention('h1', 'lab', { receivedBeforeMs: T + 1_000, maxBytes: bodyBytes(makeEvents(3, 10)) })).toMatchObject({ removedEvents: 4, retentionFloorSeq: 4 });
        expect(await store.applyRetention('h1', 'lab', { receivedBeforeMs: T + 1_000, maxBytes: bodyBytes(makeEvents(7, 10)) })).toMatchObject({ removedEvents: 2, retentionFloorSeq: 6 });
        expect((await store.feedSizes()).map((f) => [f.feed, f.events, f.retentionFloorSeq, f.oldestSeq])).toEqual([
          ['adt', 2, 8, 9],
          ['lab', 4, 6, 7],
        ]);
      });

      it('never removes above the visible seq', async () => {
        await store.storeBatch(batch('h1', 'adt', 1, 6, makeEvents(1, 6), { completeThroughSeq: 3 }));
        expect(await store.applyRetention('h1', 'adt', { maxBytes: 0 })).toMatchObject({ removedEvents: 3, retentionFloorSeq: 3 });
        expect((await store.feedLeaves('h1', 'adt', 1, 6)).map((l) => l.seq)).toEqual([4, 5, 6]);
        await store.storeBatch(batch('h1', 'adt', 7, 7));
        expect((await store.readEvents('h1', 'adt', 3, 10)).events.map((e) => e.seq)).toEqual([4, 5, 6, 7]);
      });

      it('works in chunks, takes a repair stored later with its old neighbours, and leaves other feeds alone', async () => {
        // Chunks of 4 (the suite's hooks): 9 events over three chunks.
        clock = T;
        await store.storeBatch(batch('h1', 'adt', 1, 10, makeEvents(1, 10).filter((e) => e.seq !== 4)));
        await store.storeBatch(batch('h1', 'lab', 1, 3));
        clock = T + 5_000;
        expect(await store.storeBatch(batch('h1', 'adt', 4, 4, [makeEvent(4)], { repair: true }))).toMatchObject({ decision: { kind: 'repaired' }, storedEvents: 1 });
        expect(await store.applyRetention('h1', 'adt', { receivedBeforeMs: T + 1 })).toEqual({ removedEvents: 10, removedBytes: bodyBytes(makeEvents(1, 10)), retentionFloorSeq: 10 });
        expect((await store.feedSizes()).map((f) => [f.feed, f.events, f.retentionFloorSeq])).toEqual([
          ['adt', 0, 10],
          ['lab', 3, 0],
        ]);
        expect((await store.readEvents('h1', 'lab', 0, 10)).events).toHaveLength(3);
      });

      it('gives the same outcome to sweeps run at once, removing each event once', async () => {
        await threeArrivals();
        const outcomes = await Promise.all([1, 2, 3].map(() => store.applyRetention('h1', 'adt', { receivedBeforeMs: T + 2_000 })));
        expect(outcomes.reduce((n, o) => n + o.removedEvents, 0)).toBe(8);
        expect(outcomes.reduce((n, o) => n + o.removedBytes, 0)).toBe(bodyBytes(makeEvents(1, 8)));
        expect(outcomes.every((o) => o.retentionFloorSeq === 8)).toBe(true);
        expect((await store.feedSizes())[0]).toMatchObject({ events: 2, retentionFloorSeq: 8, oldestSeq: 9 });
      });

      it('removes nothing of a revoked or unknown feed, and refuses a rule that is not one', async () => {
        await threeArrivals();
        await store.revokeFeed({ hospital: 'h1', feed: 'adt', reason: 'test' });
        expect(await store.applyRetention('h1', 'adt', { maxBytes: 0 })).toEqual({ removedEvents: 0, removedBytes: 0, retentionFloorSeq: 0 });
        expect(await store.applyRetention('h1', 'nowhere', { maxBytes: 0 })).toEqual({ removedEvents: 0, removedBytes: 0, retentionFloorSeq: 0 });
        await expect(store.applyRetention('h1', 'adt', { maxBytes: -1 })).rejects.toThrow('retention rule maxBytes: expected a finite number >= 0, got -1');
        await expect(store.applyRetention('h1', 'adt', { receivedBeforeMs: Number.NaN })).rejects.toThrow(RangeError);
      });

      it('never stores a repaired event at or below the floor again', async () => {
        await store.storeBatch(batch('h1', 'adt', 1, 8, makeEvents(1, 8).filter((e) => e.seq !== 2 && e.seq !== 6)));
        expect(await store.applyRetention('h1', 'adt', { maxBytes: bodyBytes(makeEvents(5, 8)) - makeEvent(6).body.length })).toMatchObject({ removedEvents: 3, retentionFloorSeq: 4 });
        expect(await store.storeBatch(batch('h1', 'adt', 2, 6, [makeEvent(2), makeEvent(4), makeEvent(6)], { repair: true }))).toEqual({
          decision: { kind: 'repaired' },
          highWater: 8,
          storedEvents: 1,
        });
        const page = await store.readEvents('h1', 'adt', 4, 10);
        expect(page.events.map((e) => e.seq)).toEqual([5, 6, 7, 8]);
        expect(page.prevSeq).toBe(4);
        expect((await store.feedSizes())[0]).toMatchObject({ events: 4, retentionFloorSeq: 4, oldestSeq: 5 });
        // The counts stay right for the next size sweep: only what the repair added is above the limit.
        expect(await store.applyRetention('h1', 'adt', { maxBytes: bodyBytes(makeEvents(5, 8)) })).toMatchObject({ removedEvents: 0 });
        expect(await store.applyRetention('h1', 'adt', { maxBytes: bodyBytes(makeEvents(6, 8)) })).toMatchObject({ removedEvents: 1, retentionFloorSeq: 5 });
      });
    });

    it('refuses use after close, and closing twice is harmless', async () => {
      await store.storeBatch(batch('h1', 'adt', 1, 3));
      expect(store.open).toBe(true);
      await store.close();
      await store.close();
      expect(store.open).toBe(false);
      expect(() => store.position('h1', 'adt')).toThrow(FeedStoreClosedError);
      await expect(store.storeBatch(batch('h1', 'adt', 4, 4))).rejects.toThrow(FeedStoreClosedError);
      await expect(store.readEvents('h1', 'adt', 0, 10)).rejects.toThrow(FeedStoreClosedError);
      await expect(store.pageExtent('h1', 'adt', 0, 10)).rejects.toThrow(FeedStoreClosedError);
      await expect(store.feedSizes()).rejects.toThrow(FeedStoreClosedError);
      await expect(store.unreadAfter('h1', 'adt', 0, 10)).rejects.toThrow(FeedStoreClosedError);
      await expect(store.revokeFeed({ hospital: 'h1', feed: 'adt', reason: 'x' })).rejects.toThrow(FeedStoreClosedError);
      await expect(store.reinstateFeed({ hospital: 'h1', feed: 'adt' })).rejects.toThrow(FeedStoreClosedError);
      await expect(store.revocations()).rejects.toThrow(FeedStoreClosedError);
      await expect(store.ledgerHeads()).rejects.toThrow(FeedStoreClosedError);
      store = await fixture.reopen();
      expect(store.position('h1', 'adt').highWaterSeq).toBe(3);
      expect((await store.readEvents('h1', 'adt', 0, 10)).events).toHaveLength(3);
    });
  });
}
