// Vendor cursors as every process shows them: this process's reads merged with
// the stored ones, the later read winning; a store that fails keeps what changed for the next flush.
import { describe, expect, it } from 'vitest';
import { VendorCursorSync, VendorReads } from '../../cloud-relay/feeds/index.js';
import type { CommittedConsumer, StoredVendorCursor, VendorCursorStore } from '../../cloud-relay/store/index.js';

// A stand-in for what cannot fail on demand here (a store going down); the
// real stores' behaviour is pinned by test/contract/vendor-cursor-store.contract.ts.
class MemoryCursors implements VendorCursorStore {
  rows = new Map<string, StoredVendorCursor>();
  commits = new Map<string, CommittedConsumer>();
  failing = false;
  async save(cursors: readonly StoredVendorCursor[]) {
    if (this.failing) throw new Error('database down');
    for (const c of cursors) {
      const key = `${c.vendor}/${c.hospital}/${c.feed}${c.consumer ? `/${c.consumer}` : ''}`;
      if ((this.rows.get(key)?.lastReadAtMs ?? -1) <= c.lastReadAtMs) this.rows.set(key, { ...c });
    }
  }
  async all() {
    if (this.failing) throw new Error('database down');
    return [...this.rows.values()];
  }
  async commit(p: CommittedConsumer) {
    this.commits.set(`${p.vendor}/${p.hospital}/${p.feed}/${p.consumer}`, { ...p });
  }
  async committed(vendor: string, hospital: string, feed: string, consumer: string) {
    return this.commits.get(`${vendor}/${hospital}/${feed}/${consumer}`) ?? null;
  }
  async committedConsumers() {
    if (this.failing) throw new Error('database down');
    return [...this.commits.values()];
  }
  async removeConsumer(vendor: string, hospital: string, feed: string, consumer: string) {
    const k = `${vendor}/${hospital}/${feed}/${consumer}`;
    return [this.commits.delete(k), this.rows.delete(k)].some(Boolean);
  }
  async forgetFeed(hospital: string, feed: string) {
    for (const [k, c] of this.rows) if (c.hospital === hospital && c.feed === feed) this.rows.delete(k);
    for (const [k, c] of this.commits) if (c.hospital === hospital && c.feed === feed) this.commits.delete(k);
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
    await store.save([{ vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: '', cursor: 25, lastReadAtMs: 200, api: 'grpc' }, { vendor: 'app', hospital: 'h1', feed: 'adt', consumer: '', cursor: 3, lastReadAtMs: 50, api: 'http' }]);
    await sync.flush();
    expect(sync.all()).toEqual([
      { vendor: 'app', hospital: 'h1', feed: 'adt', consumer: '', cursor: 3, lastReadAtMs: 50, api: 'http', openSubscriptions: 0 },
      { vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: '', cursor: 25, lastReadAtMs: 200, api: 'grpc', openSubscriptions: 1 },
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

  it("keeps each consumer's reads apart, shows commits at once and from the store, and forgets a removed consumer everywhere", async () => {
    let nowMs = 10;
    const reads = new VendorReads(() => nowMs);
    const store = new MemoryCursors();
    const sync = new VendorCursorSync({ reads, store });
    reads.record('platform', 'h1', 'adt', 5, 'http');
    reads.record('platform', 'h1', 'adt', 9, 'grpc', 'billing');
    nowMs = 20;
    reads.record('platform', 'h1', 'adt', 7, 'http', 'archive');
    expect(sync.all().map((r) => [r.consumer, r.cursor, r.api])).toEqual([['', 5, 'http'], ['archive', 7, 'http'], ['billing', 9, 'grpc']]);
    // Another process committed: shown after the flush; this process's commit at once.
    await store.commit({ vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: 'archive', cursor: 6, committedAtMs: 15 });
    await sync.flush();
    expect(store.rows.get('platform/h1/adt/billing')!.cursor).toBe(9);
    expect(sync.committed().map((c) => [c.consumer, c.cursor])).toEqual([['archive', 6]]);
    sync.noteCommitted({ vendor: 'platform', hospital: 'h1', feed: 'adt', consumer: 'billing', cursor: 8, committedAtMs: 21 });
    expect(sync.committed().map((c) => [c.consumer, c.cursor])).toEqual([['archive', 6], ['billing', 8]]);
    // A read recorded but not flushed yet is not written back after the removal.
    reads.record('platform', 'h1', 'adt', 10, 'grpc', 'billing');
    expect(sync.forgetConsumer('platform', 'h1', 'adt', 'billing')).toBe(true);
    await store.removeConsumer('platform', 'h1', 'adt', 'billing');
    await sync.flush();
    expect(store.rows.has('platform/h1/adt/billing')).toBe(false);
    expect(sync.all().map((r) => r.consumer)).toEqual(['', 'archive']);
    expect(sync.committed().map((c) => c.consumer)).toEqual(['archive']);
    expect(sync.forgetConsumer('platform', 'h1', 'adt', 'billing')).toBe(false);
    await sync.stop();
  });
});
