// Where each vendor key has read each feed up to, and where each of its named
// consumers has committed, kept durably so the status page of any relay
// process (and the agent's vendor-progress view) shows every vendor's cursors
// whichever process served them, and so a restart keeps them.
// SqliteVendorCursorStore (relay.db, migrations 10 and 12) and
// PgVendorCursorStore (PostgreSQL, schemas v5 and v9) implement it and run one
// contract suite (test/contract/vendor-cursor-store.contract.ts).
//
// Two records per (vendor, hospital, feed, consumer), in two tables:
//  - the last read (vendor_cursors): moved by every read, the most recent read winning;
//  - the committed cursor (vendor_consumers): moved only by a commit, the last commit
//    winning; it is where a read naming the consumer and no cursor starts.
// A read naming no consumer is kept under consumer '' and can never be committed.
/** Which vendor API served the read (feeds/vendor-reads.ts FeedApi). */
export type VendorCursorApi = 'http' | 'grpc';

/** The consumer name of reads that named none. */
export const UNNAMED_CONSUMER = '';

/** One vendor key's last read of one feed as one consumer, as stored. */
export interface StoredVendorCursor {
  vendor: string;
  hospital: string;
  feed: string;
  /** The consumer the read named; '' (UNNAMED_CONSUMER) when it named none. */
  consumer: string;
  /** The seq of the last event handed to the vendor. */
  cursor: number;
  /** ms since the epoch. */
  lastReadAtMs: number;
  api: VendorCursorApi;
}

/** A named consumer's committed cursor, as stored. */
export interface CommittedConsumer {
  vendor: string;
  hospital: string;
  feed: string;
  /** Never '' (a read naming no consumer has nothing to commit). */
  consumer: string;
  /** The seq of the last event the vendor says it has processed. */
  cursor: number;
  /** ms since the epoch. */
  committedAtMs: number;
}

export interface VendorCursorStore {
  /**
   * Writes each last read unless the stored one was read later (lastReadAtMs):
   * with several processes serving one vendor, the most recent read wins,
   * whichever process writes last. Never touches a committed cursor.
   */
  save(cursors: readonly StoredVendorCursor[]): Promise<void>;
  /** Every stored last read, ordered by vendor, hospital, feed, consumer. */
  all(): Promise<StoredVendorCursor[]>;
  /** Sets the consumer's committed cursor (forwards or back: the last commit wins). */
  commit(position: CommittedConsumer): Promise<void>;
  /** The consumer's committed cursor; null when it was never committed (or was removed). */
  committed(vendor: string, hospital: string, feed: string, consumer: string): Promise<CommittedConsumer | null>;
  /** Every committed consumer, ordered by vendor, hospital, feed, consumer. */
  committedConsumers(): Promise<CommittedConsumer[]>;
  /** Drops the consumer's committed cursor and its last read; false when it had neither. */
  removeConsumer(vendor: string, hospital: string, feed: string, consumer: string): Promise<boolean>;
  /** Drops every vendor's last reads and committed consumers in a purged feed. */
  forgetFeed(hospital: string, feed: string): Promise<void>;
}
