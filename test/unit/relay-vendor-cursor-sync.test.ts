// Vendor cursors as every process shows them: this process's reads merged with
// the stored ones, the later read winning; a store that fails keeps what changed for the next flush.
import { describe, expect, it } from 'vitest';
import { VendorCursorSync, VendorReads } from '../../cloud-relay/feeds/index.js';
import type { StoredVendorCursor, VendorCursorStore } from '../../cloud-relay/store/index.js';

class MemoryCursors implements VendorCursorStore {
  rows = new Map<string, StoredVendorCursor>();
  failing = false;
  async save(cursors: readonly StoredVendorCursor[]) {
    if (this.failing) throw new Error('database down');
    for (const c of cursors) {
      const key = `${c.vendor}/${c.hospital}/${c.feed}`;
      if ((this.rows.get(key)?.lastReadAtMs ?? -1) <= c.lastReadAtMs) this.rows.set(key, { ...c });
    }
  }
  async all() {
    if (this.failing) throw new Error('database down');
    return [...this.rows.values()];
  }
  async forgetFeed(hospital: string, feed: string) {
    for (const [k, c] of this.rows) if (c.hospital === hospital && c.feed === feed) this.rows.delete(k);
  }
}

describe('vendor cursor sync', () => {
  it("merges another process's later read with this process's and its open subscriptions", async () => {
    let nowMs = 100;
    const reads = new VendorReads(() => nowMs);
    const store = new MemoryCursors();
    const sync = new VendorCursorSync({ reads, store });
    reads.record('platform', 'h1', 'adt', 10, 'http');
    reads.subscription('platform', 'h1', 'adt', 10, 1);
    // Another process served the same vendor later.
    await store.save([{ vendor: 'platform', hospital: 'h1', feed: 'adt', cursor: 25, lastReadAtMs: 200, api: 'grpc' }, { vendor: 'app', hospital: 'h1', feed: 'adt', cursor: 3, lastReadAtMs: 50, api: 'http' }]);
    await sync.flush();
    expect(sync.all()).toEqual([
      { vendor: 'app', hospital: 'h1', feed: 'adt', cursor: 3, lastReadAtMs: 50, api: 'http', openSubscriptions: 0 },
      { vendor: 'platform', hospital: 'h1', feed: 'adt', cursor: 25, lastReadAtMs: 200, api: 'grpc', openSubscriptions: 1 },
    ]);
    // This process reads on: its read is the newest, shown at once, stored at the next flush.
    nowMs = 300;
    reads.record('platform', 'h1', 'adt', 30, 'http');
    expect(sync.all().find((r) => r.vendor === 'platform')!.cursor).toBe(30);
    await sync.flush();
    expect(store.rows.get('platform/h1/adt')!.cursor).toBe(30);
  });

  it('keeps what changed while the store is down and writes it once it is back; a purge forgets everywhere', async () => {
    const reads = new VendorReads(() => 1);
    const store = new MemoryCursors();
    const sync = new VendorCursorSync({ reads, store });
    store.failing = true;
    reads.record('platform', 'h1', 'adt', 10, 'http');
    await sync.flush();
    expect(store.rows.size).toBe(0);
    expect(sync.all()).toHaveLength(1);
    store.failing = false;
    await sync.flush();
    expect(store.rows.get('platform/h1/adt')!.cursor).toBe(10);
    await sync.forgetFeed('h1', 'adt');
    expect(sync.all()).toEqual([]);
    expect(store.rows.size).toBe(0);
    await sync.stop();
  });
});
