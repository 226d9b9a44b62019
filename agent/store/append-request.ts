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
