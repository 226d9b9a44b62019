// Every vendor's cursors as any relay process should show them: this process's
// reads (VendorReads, in memory, current to the last page) merged with the
// stored last reads of every process (VendorCursorStore), the most recent read
// winning per (vendor, hospital, feed, consumer); and every named consumer's
// committed cursor, as last stored by any process.
//
// Failure modes handled:
//  1. The store is unreachable at a flush (PostgreSQL down): the changed
//     cursors stay pending and are written at the next flush; the page keeps
//     showing this process's reads (and the committed cursors last read) meanwhile.
//  2. Two processes serve one vendor key: the store keeps the later read
//     (VendorCursorStore.save), and the merge here does the same, so a page
//     never shows a cursor moving back to an older read.
//  3. A feed is purged: its cursors and consumers leave memory, the snapshot
//     and the store at once, so no page shows a vendor position in a feed that
//     no longer exists.
//  4. A consumer is removed (ConsumerPositions.remove): it leaves memory, the
//     snapshot and the pending writes at once, so the next flush does not write
//     its last read back.
import type { Logger } from 'pino';
import type { CommittedConsumer, StoredVendorCursor, VendorCursorStore } from '../store/index.js';
import { compareVendorReads, vendorReadKey as key, type VendorRead, type VendorReads } from './vendor-reads.js';

/** How often changed cursors are written and the others' re-read, in milliseconds. */
export const DEFAULT_VENDOR_CURSOR_FLUSH_MS = 2_000;

export interface VendorCursorSyncOptions {
  reads: VendorReads;
  store: VendorCursorStore;
  /** Default DEFAULT_VENDOR_CURSOR_FLUSH_MS. */
  flushMs?: number;
  logger?: Logger;
}

export class VendorCursorSync {
  private stored: StoredVendorCursor[] = [];
  private commits = new Map<string, CommittedConsumer>();
  private readonly pending = new Map<string, StoredVendorCursor>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | null = null;
  private failing = false;

  constructor(private readonly options: VendorCursorSyncOptions) {}

  /** Reads the stored cursors once and starts the periodic flush. */
  async start(): Promise<void> {
    await this.flush();
    this.timer = setInterval(() => void this.flush(), this.options.flushMs ?? DEFAULT_VENDOR_CURSOR_FLUSH_MS);
    this.timer.unref();
  }

  /** Writes what changed and re-reads every process's cursors; never rejects (failure mode 1). */
  flush(): Promise<void> {
    this.flushing ??= this.writeAndRead().finally(() => (this.flushing = null));
    return this.flushing;
  }

  /** Every vendor position, this process's and the stored ones merged, ordered by vendor, hospital, feed, consumer (failure mode 2). */
  all(): VendorRead[] {
    const merged = new Map<string, VendorRead>();
    for (const c of this.stored) merged.set(key(c), { ...c, openSubscriptions: 0 });
    for (const read of this.options.reads.all()) {
      const seen = merged.get(key(read));
      // Open subscriptions are this process's: another's are not stored.
      merged.set(key(read), seen && seen.lastReadAtMs > read.lastReadAtMs ? { ...seen, openSubscriptions: read.openSubscriptions } : read);
    }
    return [...merged.values()].sort(compareVendorReads);
  }

  /** Every named consumer's committed cursor as last read from the store (and committed here since), ordered like all(). */
  committed(): CommittedConsumer[] {
    return [...this.commits.values()].map((c) => ({ ...c })).sort(compareVendorReads);
  }

  /** A commit this process stored: shown at once, not at the next flush. */
  noteCommitted(position: CommittedConsumer): void {
    this.commits.set(key(position), { ...position });
  }

  /** Failure mode 4 (the store's rows are removed by ConsumerPositions). */
  forgetConsumer(vendor: string, hospital: string, feed: string, consumer: string): boolean {
    const k = key({ vendor, hospital, feed, consumer });
    const held = this.options.reads.forgetConsumer(vendor, hospital, feed, consumer);
    const stored = this.stored.length;
    this.stored = this.stored.filter((c) => key(c) !== k);
    const committed = this.commits.delete(k);
    this.pending.delete(k);
    return held || committed || this.stored.length !== stored;
  }

  /** Failure mode 3. */
  async forgetFeed(hospital: string, feed: string): Promise<void> {
    this.options.reads.forgetFeed(hospital, feed);
    this.stored = this.stored.filter((c) => c.hospital !== hospital || c.feed !== feed);
    for (const [k, c] of this.commits) if (c.hospital === hospital && c.feed === feed) this.commits.delete(k);
    for (const [k, c] of this.pending) if (c.hospital === hospital && c.feed === feed) this.pending.delete(k);
    await this.options.store.forgetFeed(hospital, feed);
  }

  /** Stops the timer and writes what is left. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flushing;
    await this.flush();
  }

  private async writeAndRead(): Promise<void> {
    for (const read of this.options.reads.takeChanged()) {
      this.pending.set(key(read), { vendor: read.vendor, hospital: read.hospital, feed: read.feed, consumer: read.consumer, cursor: read.cursor, lastReadAtMs: read.lastReadAtMs, api: read.api });
    }
    try {
      const batch = [...this.pending.values()];
      if (batch.length > 0) await this.options.store.save(batch);
      for (const c of batch) if (this.pending.get(key(c)) === c) this.pending.delete(key(c));
      const [stored, commits] = await Promise.all([this.options.store.all(), this.options.store.committedConsumers()]);
      this.stored = stored;
      this.commits = new Map(commits.map((c) => [key(c), c]));
      if (this.failing) this.options.logger?.info('vendor cursors stored again');
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.options.logger?.warn({ err: (error as Error).message }, 'vendor cursors could not be stored; retried at the next flush');
      this.failing = true;
    }
  }
}
