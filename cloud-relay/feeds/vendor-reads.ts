// Where each vendor key has read each feed up to: the cursor of its last page
// (HTTP) or last event sent (gRPC), when, over which API, and how many live
// subscriptions it holds open, as this process served them. Kept in memory
// and pure apart from the injected clock; what changed is flushed to the
// VendorCursorStore by vendor-cursor-sync.ts, so every relay process (and a
// restart) sees every vendor's cursor. A vendor's durable cursor is still the
// vendor's to keep (it re-reads from any retained cursor).

export type FeedApi = 'http' | 'grpc';

/** One vendor's position in one hospital's feed. */
export interface VendorRead {
  vendor: string;
  hospital: string;
  feed: string;
  /** The seq of the last event handed to the vendor (its `after` for the next read). */
  cursor: number;
  /** ms since the epoch. */
  lastReadAtMs: number;
  api: FeedApi;
  /** gRPC subscriptions with follow open now. */
  openSubscriptions: number;
}

export class VendorReads {
  private readonly reads = new Map<string, VendorRead>();
  /** Keys recorded since the last takeChanged(). */
  private readonly changed = new Set<string>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** A page (HTTP) or a batch of events (gRPC) was handed over, ending at `cursor`. */
  record(vendor: string, hospital: string, feed: string, cursor: number, api: FeedApi): void {
    const read = this.entry(vendor, hospital, feed, api);
    read.cursor = cursor;
    read.lastReadAtMs = this.clock();
    read.api = api;
    this.changed.add(JSON.stringify([vendor, hospital, feed]));
  }

  /** The positions recorded since the last call (to be stored), and forgets that they changed. */
  takeChanged(): VendorRead[] {
    const taken: VendorRead[] = [];
    for (const key of this.changed) {
      const read = this.reads.get(key);
      if (read) taken.push({ ...read });
    }
    this.changed.clear();
    return taken;
  }

  /** A live subscription opened (+1) or ended (−1). */
  subscription(vendor: string, hospital: string, feed: string, cursor: number, delta: 1 | -1): void {
    const read = this.entry(vendor, hospital, feed, 'grpc', cursor);
    read.openSubscriptions = Math.max(0, read.openSubscriptions + delta);
  }

  /** Drops every vendor's position in a purged feed (cloud-relay/exit/feed-purge.ts): nothing of it is kept. */
  forgetFeed(hospital: string, feed: string): void {
    for (const [key, read] of this.reads) if (read.hospital === hospital && read.feed === feed) {
        this.reads.delete(key);
        this.changed.delete(key);
      }
  }

  /** Every vendor position, ordered by vendor, hospital, feed. */
  all(): VendorRead[] {
    return [...this.reads.values()]
      .map((r) => ({ ...r }))
      .sort((a, b) => a.vendor.localeCompare(b.vendor) || a.hospital.localeCompare(b.hospital) || a.feed.localeCompare(b.feed));
  }

  private entry(vendor: string, hospital: string, feed: string, api: FeedApi, cursor = 0): VendorRead {
    const key = JSON.stringify([vendor, hospital, feed]);
    let read = this.reads.get(key);
    if (!read) {
      read = { vendor, hospital, feed, cursor, lastReadAtMs: this.clock(), api, openSubscriptions: 0 };
      this.reads.set(key, read);
    }
    return read;
  }
}
