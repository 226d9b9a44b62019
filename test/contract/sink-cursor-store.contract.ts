// The SinkCursorStore contract (cloud-relay/sinks/sink-cursor-store.ts), run
// against relay.db and PostgreSQL: cursors never move back and move only for
// the lease's live holder; a lease is taken by one holder at a time, renewed by
// it, free again once expired or released; the state outlives a reopen.
import { afterEach, describe, expect, it } from 'vitest';
import type { SinkCursorStore } from '../../cloud-relay/sinks/sink-cursor-store.js';

export interface SinkCursorStoreFixture {
  store: SinkCursorStore;
  /** A second store on the same data (another process). */
  other(): Promise<SinkCursorStore>;
  /** Closes the store and opens it again on the same data. */
  reopen(): Promise<SinkCursorStore>;
  /** Moves the stores' clock forward. */
  advanceClock(ms: number): void;
  cleanup(): Promise<void>;
}

const key = { sink: 'nats-a', hospital: 'h.zj.1', feed: 'adt' };

export function describeSinkCursorStoreContract(name: string, makeFixture: () => Promise<SinkCursorStoreFixture>): void {
  describe(`SinkCursorStore contract: ${name}`, () => {
    let fixture: SinkCursorStoreFixture | undefined;
    const open = async () => (fixture = await makeFixture());
    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    it('answers a zero cursor for a feed never published', async () => {
      const { store } = await open();
      expect(await store.cursor(key)).toEqual({ ...key, publishedSeq: 0, subjectSeq: 0, updatedAtMs: 0 });
      expect(await store.cursors()).toEqual([]);
    });

    it('moves the cursor for the lease holder only, and never back', async () => {
      const { store } = await open();
      expect(await store.advance(key, 'p1', 5, 12)).toBe(false);
      expect(await store.takeLease(key, 'p1', 10_000)).toBe(true);
      expect(await store.advance(key, 'p2', 5, 12)).toBe(false);
      expect(await store.advance(key, 'p1', 5, 12)).toBe(true);
      expect(await store.advance(key, 'p1', 3, 9)).toBe(false);
      expect(await store.advance(key, 'p1', 5, 12)).toBe(false);
      expect(await store.cursor(key)).toMatchObject({ publishedSeq: 5, subjectSeq: 12 });
      expect(await store.advance(key, 'p1', 9, 20)).toBe(true);
      expect(await store.cursors('nats-a')).toMatchObject([{ ...key, publishedSeq: 9, subjectSeq: 20 }]);
      expect(await store.cursors('other-sink')).toEqual([]);
    });

    it('keeps cursors apart per sink and feed', async () => {
      const { store } = await open();
      const other = { ...key, feed: 'orm' };
      const otherSink = { ...key, sink: 'nats-b' };
      for (const k of [key, other, otherSink]) expect(await store.takeLease(k, 'p1', 10_000)).toBe(true);
      await store.advance(key, 'p1', 1, 1);
      await store.advance(other, 'p1', 2, 2);
      await store.advance(otherSink, 'p1', 3, 3);
      expect((await store.cursors()).map((c) => [c.sink, c.feed, c.publishedSeq])).toEqual([
        ['nats-a', 'adt', 1],
        ['nats-a', 'orm', 2],
        ['nats-b', 'adt', 3],
      ]);
    });

    it('gives a lease to one holder until it expires or is released', async () => {
      const f = await open();
      const { store } = f;
      expect(await store.takeLease(key, 'p1', 1_000)).toBe(true);
      expect(await store.takeLease(key, 'p2', 1_000)).toBe(false);
      // Renewal by the holder.
      f.advanceClock(900);
      expect(await store.takeLease(key, 'p1', 1_000)).toBe(true);
      f.advanceClock(900);
      expect(await store.takeLease(key, 'p2', 1_000)).toBe(false);
      f.advanceClock(200);
      // p1's lease ran out: p2 takes it, and p1's cursor writes stop.
      expect(await store.takeLease(key, 'p2', 1_000)).toBe(true);
      expect(await store.advance(key, 'p1', 1, 1)).toBe(false);
      expect(await store.leases('nats-a')).toMatchObject([{ ...key, holder: 'p2' }]);
      await store.releaseLease(key, 'p1');
      expect(await store.takeLease(key, 'p1', 1_000)).toBe(false);
      await store.releaseLease(key, 'p2');
      expect(await store.takeLease(key, 'p1', 1_000)).toBe(true);
    });

    it('lets one of two stores racing for a free lease win', async () => {
      const f = await open();
      const other = await f.other();
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? f.store : other).takeLease(key, `p${i}`, 10_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('keeps cursors and leases across a reopen', async () => {
      const f = await open();
      await f.store.takeLease(key, 'p1', 10_000);
      await f.store.advance(key, 'p1', 7, 70);
      const reopened = await f.reopen();
      expect(await reopened.cursor(key)).toMatchObject({ publishedSeq: 7, subjectSeq: 70 });
      expect(await reopened.takeLease(key, 'p2', 10_000)).toBe(false);
    });
  });
}
