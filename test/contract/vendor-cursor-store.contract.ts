// The VendorCursorStore contract, run against every implementation (relay.db,
// PostgreSQL): the most recent read wins whichever write comes last, per
// consumer; a committed cursor moves only by a commit and outlives a reopen;
// removing a consumer drops its commit and its last read; a purged feed's
// cursors and consumers are gone.
import { afterEach, describe, expect, it } from 'vitest';
import type { CommittedConsumer, StoredVendorCursor, VendorCursorStore } from '../../cloud-relay/store/index.js';

export interface VendorCursorStoreFixture {
  store: VendorCursorStore;
  /** Closes and opens the store again on the same data. */
  reopen(): Promise<VendorCursorStore>;
  cleanup(): Promise<void>;
}

const read = (vendor: string, feed: string, cursor: number, lastReadAtMs: number, api: 'http' | 'grpc' = 'http', consumer = ''): StoredVendorCursor => ({ vendor, hospital: 'h1', feed, consumer, cursor, lastReadAtMs, api });
const commit = (vendor: string, feed: string, consumer: string, cursor: number, committedAtMs: number, hospital = 'h1'): CommittedConsumer => ({ vendor, hospital, feed, consumer, cursor, committedAtMs });

export function describeVendorCursorStoreContract(name: string, open: () => Promise<VendorCursorStoreFixture>): void {
  describe(`VendorCursorStore contract: ${name}`, () => {
    let fixture: VendorCursorStoreFixture | undefined;
    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    it('stores cursors, ordered by vendor, hospital and feed, and keeps them across a reopen', async () => {
      fixture = await open();
      expect(await fixture.store.all()).toEqual([]);
      await fixture.store.save([read('platform', 'results', 7, 1_000), read('app', 'adt', 3, 1_001, 'grpc'), read('platform', 'adt', 12, 1_002)]);
      const expected = [read('app', 'adt', 3, 1_001, 'grpc'), read('platform', 'adt', 12, 1_002), read('platform', 'results', 7, 1_000)];
      expect(await fixture.store.all()).toEqual(expected);
      const reopened = await fixture.reopen();
      expect(await reopened.all()).toEqual(expected);
    });

    it('keeps the most recent read when an older one is written after it (two processes serving one vendor)', async () => {
      fixture = await open();
      await fixture.store.save([read('platform', 'adt', 50, 2_000, 'grpc')]);
      await fixture.store.save([read('platform', 'adt', 40, 1_500)]);
      expect(await fixture.store.all()).toEqual([read('platform', 'adt', 50, 2_000, 'grpc')]);
      // A later read moves it, also backwards (the vendor re-read from an older cursor).
      await fixture.store.save([read('platform', 'adt', 10, 2_500)]);
      expect(await fixture.store.all()).toEqual([read('platform', 'adt', 10, 2_500)]);
      // Two of one key in one save: the later read.
      await fixture.store.save([read('platform', 'adt', 30, 3_100), read('platform', 'adt', 20, 3_000)]);
      expect(await fixture.store.all()).toEqual([read('platform', 'adt', 30, 3_100)]);
    });

    it("forgets a purged feed's cursors and nothing else", async () => {
      fixture = await open();
      await fixture.store.save([read('platform', 'adt', 5, 1), read('app', 'adt', 6, 2), read('platform', 'results', 7, 3)]);
      await fixture.store.forgetFeed('h1', 'adt');
      expect(await fixture.store.all()).toEqual([read('platform', 'results', 7, 3)]);
      await fixture.store.save([]);
      expect(await fixture.store.all()).toHaveLength(1);
    });

    it('keeps one last read per consumer, the unnamed reads apart, ordered by consumer', async () => {
      fixture = await open();
      await fixture.store.save([read('platform', 'adt', 9, 1_000, 'http', 'billing'), read('platform', 'adt', 4, 1_001), read('platform', 'adt', 7, 1_002, 'grpc', 'archive')]);
      await fixture.store.save([read('platform', 'adt', 5, 900, 'http', 'billing')]);
      expect(await fixture.store.all()).toEqual([read('platform', 'adt', 4, 1_001), read('platform', 'adt', 7, 1_002, 'grpc', 'archive'), read('platform', 'adt', 9, 1_000, 'http', 'billing')]);
      // Two of one (vendor, hospital, feed, consumer) in one save: the later read; other consumers untouched.
      await fixture.store.save([read('platform', 'adt', 11, 2_000, 'http', 'billing'), read('platform', 'adt', 10, 1_900, 'http', 'billing')]);
      expect((await fixture.store.all()).map((c) => [c.consumer, c.cursor])).toEqual([['', 4], ['archive', 7], ['billing', 11]]);
    });

    it('moves a committed cursor only by a commit (forwards or back), never by a read, and keeps it across a reopen', async () => {
      fixture = await open();
      expect(await fixture.store.committed('platform', 'h1', 'adt', 'billing')).toBeNull();
      await fixture.store.commit(commit('platform', 'adt', 'billing', 40, 1_000));
      await fixture.store.save([read('platform', 'adt', 90, 2_000, 'grpc', 'billing')]);
      expect(await fixture.store.committed('platform', 'h1', 'adt', 'billing')).toEqual(commit('platform', 'adt', 'billing', 40, 1_000));
      expect((await fixture.store.all())[0]).toEqual(read('platform', 'adt', 90, 2_000, 'grpc', 'billing'));
      // The last commit wins, also a rewind (the vendor re-processes from an older cursor).
      await fixture.store.commit(commit('platform', 'adt', 'billing', 12, 3_000));
      const reopened = await fixture.reopen();
      expect(await reopened.committed('platform', 'h1', 'adt', 'billing')).toEqual(commit('platform', 'adt', 'billing', 12, 3_000));
      // Another key's, hospital's or feed's consumer of that name is another consumer.
      expect(await reopened.committed('app', 'h1', 'adt', 'billing')).toBeNull();
      expect(await reopened.committed('platform', 'h2', 'adt', 'billing')).toBeNull();
      expect(await reopened.committed('platform', 'h1', 'results', 'billing')).toBeNull();
    });

    it('lists committed consumers ordered by vendor, hospital, feed and consumer', async () => {
      fixture = await open();
      await fixture.store.commit(commit('platform', 'results', 'b', 3, 1));
      await fixture.store.commit(commit('platform', 'adt', 'z', 2, 2));
      await fixture.store.commit(commit('app', 'adt', 'a', 1, 3));
      await fixture.store.commit(commit('platform', 'adt', 'a', 5, 4));
      await fixture.store.commit(commit('platform', 'adt', 'a', 6, 5, 'h0'));
      expect(await fixture.store.committedConsumers()).toEqual([
        commit('app', 'adt', 'a', 1, 3),
        commit('platform', 'adt', 'a', 6, 5, 'h0'),
        commit('platform', 'adt', 'a', 5, 4),
        commit('platform', 'adt', 'z', 2, 2),
        commit('platform', 'results', 'b', 3, 1),
      ]);
    });

    it("removes one consumer's commit and last read, and says whether there was any", async () => {
      fixture = await open();
      await fixture.store.commit(commit('platform', 'adt', 'billing', 4, 1));
      await fixture.store.commit(commit('platform', 'adt', 'archive', 5, 1));
      await fixture.store.save([read('platform', 'adt', 6, 2, 'http', 'billing'), read('platform', 'adt', 7, 2), read('platform', 'adt', 8, 2, 'http', 'reader')]);
      expect(await fixture.store.removeConsumer('platform', 'h1', 'adt', 'billing')).toBe(true);
      expect(await fixture.store.removeConsumer('platform', 'h1', 'adt', 'billing')).toBe(false);
      expect(await fixture.store.committed('platform', 'h1', 'adt', 'billing')).toBeNull();
      expect((await fixture.store.committedConsumers()).map((c) => c.consumer)).toEqual(['archive']);
      expect((await fixture.store.all()).map((c) => c.consumer)).toEqual(['', 'reader']);
      // A consumer that only read (never committed) is removed too.
      expect(await fixture.store.removeConsumer('platform', 'h1', 'adt', 'reader')).toBe(true);
      expect(await fixture.store.removeConsumer('platform', 'h1', 'adt', 'nobody')).toBe(false);
    });

    it("forgets a purged feed's committed consumers with its reads, and nothing else", async () => {
      fixture = await open();
      await fixture.store.commit(commit('platform', 'adt', 'billing', 4, 1));
      await fixture.store.commit(commit('platform', 'results', 'billing', 5, 1));
      await fixture.store.save([read('platform', 'adt', 6, 2, 'http', 'billing')]);
      await fixture.store.forgetFeed('h1', 'adt');
      expect(await fixture.store.all()).toEqual([]);
      expect(await fixture.store.committedConsumers()).toEqual([commit('platform', 'results', 'billing', 5, 1)]);
    });
  });
}
