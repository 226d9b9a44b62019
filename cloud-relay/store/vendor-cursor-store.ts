// Where each vendor key has read each feed up to, kept durably so the status
// page of any relay process (and the agent's vendor-progress view) shows every
// vendor's cursor whichever process served it, and so a restart keeps them.
// SqliteVendorCursorStore (relay.db, migration 10) and PgVendorCursorStore
// (PostgreSQL, schema v5) implement it and run one contract suite
// (test/contract/vendor-cursor-store.contract.ts).
/** Which vendor API served the read (feeds/vendor-reads.ts FeedApi). */
export type VendorCursorApi = 'http' | 'grpc';

/** One vendor key's cursor in one feed, as stored. */
export interface StoredVendorCursor {
  vendor: string;
  hospital: string;
  feed: string;
  /** The seq of the last event handed to the vendor. */
  cursor: number;
  /** ms since the epoch. */
  lastReadAtMs: number;
  api: VendorCursorApi;
}

export interface VendorCursorStore {
  /**
   * Writes each cursor unless the stored one was read later (lastReadAtMs):
   * with several processes serving one vendor, the most recent read wins,
   * whichever process writes last.
   */
  save(cursors: readonly StoredVendorCursor[]): Promise<void>;
  /** Every stored cursor, ordered by vendor, hospital, feed. */
  all(): Promise<StoredVendorCursor[]>;
  /** Drops every vendor's cursor in a purged feed. */
  forgetFeed(hospital: string, feed: string): Promise<void>;
}
