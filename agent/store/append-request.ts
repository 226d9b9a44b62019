import type { EventOp } from '../../protocol/index.js';

/** An event as a source hands it to the store; the store assigns seq and ts at commit. */
export interface EventInput {
  stream: string;
  key: string;
  op: EventOp;
  /** "hl7v2", "json" or "blob-ref". */
  contentType: string;
  body: Buffer;
  headers: Record<string, string>;
}

/**
 * One unit of capture: every event in it, the dedupe key and the source position
 * are committed in one transaction, or none of them is.
 */
export interface AppendRequest {
  /** The source's name, recorded on every event (for example "lis-mllp", "http"). */
  source: string;
  events: EventInput[];
  /**
   * A retransmission key (HL7: sending application/facility + MSH-10). If the
   * store already holds it, nothing is appended and the earlier seqs are returned
   * with duplicate: true.
   *
   * With a `digest` (of the content, e.g. HL7 without MSH-7) the key matches only
   * the same content: the same id with another digest is appended as a new event
   * and reported as `idReused`. Without one, the id alone decides (HTTP
   * idempotency keys). Keys stored before digests existed match on the id alone.
   */
  dedupe?: { scope: string; id: string; digest?: string };
  /** The source's new position (CDC offset, file position), saved in the same transaction. */
  position?: string;
  /**
   * The caller's own bookkeeping, run inside the same transaction once the
   * events are inserted (not for a duplicate), with their seqs: the downlink
   * records an inbound event's delivery state, or a receipt's outbox row, so
   * the journal and that state never disagree after a crash. Synchronous, and
   * it must not throw: a throw rolls back every request of the group commit.
   */
  alsoInTransaction?: (seqs: readonly number[]) => void;
}

export interface AppendResult {
  /** The journal sequence numbers assigned, one per event, in order. */
  seqs: number[];
  /** True when the dedupe key was already held and nothing new was written. */
  duplicate: boolean;
  /**
   * True when the dedupe id was already held with other content (another digest):
   * the events were appended all the same, as new. Absent otherwise.
   */
  idReused?: boolean;
}

/** What a source needs from the store: append, resolved only once the events are durable. */
export interface JournalWriter {
  append(request: AppendRequest): Promise<AppendResult>;
}

/** What a staged transaction became once committed: its events' seqs are firstSeq..lastSeq. */
export interface StagedCommit {
  firstSeq: number;
  lastSeq: number;
  events: number;
}

/**
 * One source transaction too large to hold in memory, written in chunks and made
 * journal events all at once (staged-append.ts). Nothing added is visible to any
 * feed, the local copy or a reader until commit(); a crash before it discards all.
 */
export interface StagedAppend {
  /** Events added so far. */
  readonly events: number;
  /** Writes a chunk to the staging table (synchronous, bounded by the chunk). */
  add(events: readonly EventInput[]): void;
  /**
   * Moves every added event into the journal in one transaction, in the order
   * added, with the local copy and `position`; resolves once fsynced. A source
   * awaits its earlier appends before committing, so its events keep their order.
   */
  commit(position?: string): Promise<StagedCommit>;
  /** Drops what was added (the source transaction will be received again). */
  discard(): void;
}

/**
 * What a change-capture source (PostgreSQL, MySQL/MariaDB, SQL polling) is handed:
 * the journal's append, the position it last committed with its events (where to
 * resume after any crash), and staged appends for transactions too large for memory.
 */
export interface CaptureWriter extends JournalWriter {
  /** The position this source last committed (with its events), or undefined before its first. */
  savedPosition(source: string): string | undefined;
  /** Begins a staged append for `source`'s next transaction. */
  stage(source: string): StagedAppend;
}
