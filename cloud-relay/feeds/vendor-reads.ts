// Where each vendor key has read each feed up to, per consumer the reads named
// ('' when they named none): the cursor of its last page (HTTP) or last event
// sent (gRPC), when, over which API, and how many live subscriptions it holds
// open, as this process served them. Kept in memory and pure apart from the
// injected clock; what changed is flushed to the VendorCursorStore by
// vendor-cursor-sync.ts, so every relay process (and a restart) sees every
// vendor's cursor. A read never moves a consumer's committed cursor
// (consumer-positions.ts): only a commit does.

export type FeedApi = 'http' | 'grpc';

/** One vendor's position in one hospital's feed, as one consumer. */
export interface VendorRead {
  vendor: string;
  hospital: string;
  feed: string;
  /** The consumer the reads named; '' when they named none. */
  consumer: string;
  /** The seq of the last event handed to the vendor (its `after` for the next read). */
  cursor: number;
  /** ms since the epoch. */
  lastReadAtMs: number;
  api: FeedApi;
  /** gRPC subscriptions with follow open now. */
  openSubscriptions: number;
}

/** Orders positions by vendor, hospital, feed, consumer (the unnamed reads first). */
export function compareVendorReads(a: Pick<VendorRead, 'vendor' | 'hospital' | 'feed' | 'consumer'>, b: Pick<VendorRead, 'vendor' | 'hospital' | 'feed' | 'consumer'>): number {
  return a.vendor.localeCompare(b.vendor) || a.hospital.localeCompare(b.hospital) || a.feed.localeCompare(b.feed) || a.consumer.localeCompare(b.consumer);
}

/** The map key of one (vendor, hospital, feed, consumer). */
export function vendorReadKey(c: Pick<VendorRead, 'vendor' | 'hospital' | 'feed' | 'consumer'>): string {
  return JSON.stringify([c.vendor, c.hospital, c.feed, c.consumer]);
}

/**
 * One position per (vendor, hospital, feed), as the agent's VendorProgress
 * carries it (per vendor key, not per consumer): the furthest read of any of
 * the key's consumers (named or not), at the latest time any of them read —
 * how far the vendor has got with the feed, whichever of its readers got there.
 */
export function furthestReadPerKey(reads: readonly VendorRead[]): VendorRead[] {
  const furthest = new Map<string, VendorRead>();
  for (const read of reads) {
    const key = JSON.stringify([read.vendor, read.hospital, read.feed]);
    const seen = furthest.get(key);
    if (!seen) furthest.set(key, { ...read, consumer: '' });
    else {
      furthest.set(key, {
        ...seen,
        cursor: Math.max(seen.cursor, read.cursor),
        lastReadAtMs: Math.max(seen.lastReadAtMs, read.lastReadAtMs),
        api: read.lastReadAtMs > seen.lastReadAtMs ? read.api : seen.api,
        openSubscriptions: seen.openSubscriptions + read.openSubscriptions,
      });
    }
  }
  return [...furthest.values()].sort(compareVendorReads);
}

export class VendorReads {
  private readonly reads = new Map<string, VendorRead>();
  /** Keys recorded since the last takeChanged(). */
  private readonly changed = new Set<string>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** A page (HTTP) or a batch of events (gRPC) was handed over, ending at `cursor`, to reads naming `consumer` ('' = none). */
  record(vendor: string, hospital: string, feed: string, cursor: number, api: FeedApi, consumer = ''): void {
    const read = this.entry(vendor, hospital, feed, consumer, api);
    read.cursor = cursor;
    read.lastReadAtMs = this.clock();
    read.api = api;
    this.changed.add(vendorReadKey(read));
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
  subscription(vendor: string, hospital: string, feed: string, cursor: number, delta: 1 | -1, consumer = ''): void {
    const read = this.entry(vendor, hospital, feed, consumer, 'grpc', cursor);
    read.openSubscriptions = Math.max(0, read.openSubscriptions + delta);
  }

  /** Drops every vendor's position in a purged feed (cloud-relay/exit/feed-purge.ts): nothing of it is kept. */
  forgetFeed(hospital: string, feed: string): void {
    for (const [key, read] of this.reads) if (read.hospital === hospital && read.feed === feed) {
        this.reads.delete(key);
        this.changed.delete(key);
      }
  }

  /** Drops one consumer's position (the vendor removed the consumer); true when it was held. */
  forgetConsumer(vendor: string, hospital: string, feed: string, consumer: string): boolean {
    const key = vendorReadKey({ vendor, hospital, feed, consumer });
    this.changed.delete(key);
    return this.reads.delete(key);
  }

  /** Every vendor position, ordered by vendor, hospital, feed, consumer. */
  all(): VendorRead[] {
    return [...this.reads.values()].map((r) => ({ ...r })).sort(compareVendorReads);
  }

  private entry(vendor: string, hospital: string, feed: string, consumer: string, api: FeedApi, cursor = 0): VendorRead {
    const key = vendorReadKey({ vendor, hospital, feed, consumer });
    let read = this.reads.get(key);
    if (!read) {
      read = { vendor, hospital, feed, consumer, cursor, lastReadAtMs: this.clock(), api, openSubscriptions: 0 };
      this.reads.set(key, read);
    }
    return read;
  }
}
