// The sink's durable state as a port: per (sink, hospital, feed) the cursor
// (the last seq published and the stream sequence its message got on the
// subject) and the lease (which relay process publishes the feed, until when).
// SqliteSinkCursorStore keeps it in relay.db (migration 9), PgSinkCursorStore in
// the relay's PostgreSQL database (schema v6); one contract suite runs against
// both (test/contract/sink-cursor-store.contract.ts).
//
// The cursor may lag what the stream holds (it is written after the publish
// acks, once per page); it never runs ahead. The sink reconciles against the
// subject's last message before publishing, so a lagging cursor costs a read,
// never a duplicate. The lease keeps two processes from publishing one feed at
// once; the stream's expected-last-subject-sequence check is what makes a
// second publisher harmless if the lease is ever wrong (a paused process).

export interface SinkFeedKey {
  sink: string;
  hospital: string;
  feed: string;
}

export interface SinkCursor extends SinkFeedKey {
  /** The last seq of the feed published and acked (0: none). */
  publishedSeq: number;
  /** The stream sequence of that message (0: none); the next publish expects it as the subject's last. */
  subjectSeq: number;
  /** Milliseconds since the epoch. */
  updatedAtMs: number;
}

export interface SinkLease extends SinkFeedKey {
  holder: string;
  /** Milliseconds since the epoch. */
  expiresAtMs: number;
}

export interface SinkCursorStore {
  /** The feed's cursor; publishedSeq 0 and subjectSeq 0 for a feed never published. */
  cursor(key: SinkFeedKey): Promise<SinkCursor>;

  /** Every cursor of the sink (every sink when absent), ordered by sink, hospital, feed. */
  cursors(sink?: string): Promise<SinkCursor[]>;

  /**
   * Moves the cursor to (publishedSeq, subjectSeq) if `holder` holds the feed's
   * unexpired lease and publishedSeq is past the stored one (a cursor never
   * moves back). Resolves true when stored, false when the lease is not held
   * (the caller stops publishing the feed) or the cursor is already there or past.
   */
  advance(key: SinkFeedKey, holder: string, publishedSeq: number, subjectSeq: number): Promise<boolean>;

  /**
   * Takes the feed's lease for `holder` until now + ttlMs, or renews it: true
   * when holder now holds it, false when another holder's lease has not expired.
   * Decided in one statement (two processes racing: one wins).
   */
  takeLease(key: SinkFeedKey, holder: string, ttlMs: number): Promise<boolean>;

  /** Lets the lease go if holder holds it (a clean stop: another process may take it at once). */
  releaseLease(key: SinkFeedKey, holder: string): Promise<void>;

  /** Every lease of the sink (every sink when absent), expired ones included, for the status page. */
  leases(sink?: string): Promise<SinkLease[]>;

  close(): Promise<void>;
}
