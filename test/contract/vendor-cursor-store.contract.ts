// The VendorCursorStore contract, run against every implementation (relay.db,
// PostgreSQL): the most recent read wins whichever write comes last, cursors
// outlive a reopen, a purged feed's cursors are gone.
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredVendorCursor, VendorCursorStore } from '../../cloud-relay/store/index.js';

export interface VendorCursorStoreFixture {
  store: VendorCursorStore;
  /** Closes and opens the store again on the same data. */
  reopen(): Promise<VendorCursorStore>;
  cleanup(): Promise<void>;
}

const read = (vendor: string, feed: string, cursor: number, lastReadAtMs: number, api: 'http' | 'grpc' = 'http'): StoredVendorCursor => ({ vendor, hospital: 'h1', feed, cursor, lastReadAtMs, api });

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
  });
}
