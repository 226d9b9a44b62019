// Per-feed send window: which journal range goes next, which batches are in
// flight, and what the relay has acknowledged. Pure: no I/O, no timers.
//
// Replies arrive one per batch, in the order the batches were sent (the relay
// processes a stream's batches sequentially). Failure modes handled:
//  1. Nack (gap): every batch in flight after the refused one is stale — the relay
//     will refuse those too — so they are marked stale, their nacks ignored, and
//     sending restarts at the relay's expected seq.
//  2. A reply with no batch in flight, or an ack above what was sent: the relay
//     misbehaves; the caller ends the stream (ProtocolViolation) and resumes from
//     the relay's Welcome.
//  3. Reconnect: reset() discards everything in flight; the Welcome's high-water
//     mark is the only truth about what the relay holds — unless it is beyond
//     the agent's own journal head (4).
//  4. A relay mark beyond the journal head (a tampered or foreign relay
//     database, a batch someone else sent with this hospital's credentials):
//     the relay would ack every later batch as a duplicate and drop it. The
//     window raises an integrity incident, keeps its acked seq where it was
//     (never past the head), and sends nothing. The incident is sticky: since
//     nothing was sent after it, a later mark is believed again only once it is
//     back at or below the head the incident saw — a mark that the journal has
//     merely grown up to would still skip the events committed since.

export interface InFlightBatch {
  firstSeq: number;
  lastSeq: number;
  events: number;
  bytes: number;
  /** When it was sent, ms since the epoch (ack timeouts). */
  sentAtMs: number;
  stale: boolean;
}

export type ReplyOutcome =
  | { kind: 'acked'; ackedSeq: number; batch: InFlightBatch }
  | { kind: 'resend-from'; expectedSeq: number }
  | { kind: 'ignored-stale' }
  | { kind: 'violation'; reason: string };

/** The relay holds a mark this agent's journal cannot account for. */
export interface MarkIncident {
  /** The relay's high-water mark for the feed. */
  relayMarkSeq: number;
  /** The agent's journal head when the incident was first seen. */
  journalHeadSeq: number;
  /** The acked seq the window keeps meanwhile. */
  ackedSeq: number;
  /** One line for the operator: what was seen and what it means. */
  reason: string;
}

export class FeedWindow {
  private inFlight: InFlightBatch[] = [];
  private acked = 0;
  private sentUpTo = 0;
  private markIncident: MarkIncident | null = null;

  constructor(
    readonly feed: string,
    private readonly maxInFlight: number,
  ) {}

  /**
   * Starts a new stream from the relay's durable high-water mark, if the journal
   * (head `journalHeadSeq`; default: not checked) accounts for it. Returns the
   * integrity incident when it does not (failure mode 4), else null.
   */
  reset(highWaterSeq: number, journalHeadSeq = Number.POSITIVE_INFINITY): MarkIncident | null {
    this.inFlight = [];
    const believable = Math.min(journalHeadSeq, this.markIncident?.journalHeadSeq ?? Number.POSITIVE_INFINITY);
    if (highWaterSeq > believable) {
      this.acked = Math.min(this.acked, believable);
      this.sentUpTo = this.acked;
      this.markIncident = {
        relayMarkSeq: highWaterSeq,
        journalHeadSeq: believable,
        ackedSeq: this.acked,
        reason:
          `the relay holds feed ${this.feed} up to seq ${highWaterSeq}, beyond this agent's journal head ${believable}: ` +
          `it would drop the feed's next events as duplicates. The feed is stopped and stays acknowledged at ${this.acked} ` +
          `until the relay's mark is back at or below ${believable} (check the relay's database and who holds this hospital's credentials)`,
      };
      return this.markIncident;
    }
    this.markIncident = null;
    this.acked = highWaterSeq;
    this.sentUpTo = highWaterSeq;
    return null;
  }

  /** The relay's mark is beyond the journal head (failure mode 4); null when it is not. */
  get incident(): MarkIncident | null {
    return this.markIncident;
  }

  /** The seq after which the next batch starts. */
  get nextAfter(): number {
    return this.sentUpTo;
  }

  get ackedSeq(): number {
    return this.acked;
  }

  get inFlightCount(): number {
    return this.inFlight.length;
  }

  get canSend(): boolean {
    return this.markIncident === null && this.inFlight.length < this.maxInFlight;
  }

  /** Send time of the newest batch still waiting for a reply, or undefined. */
  get newestSentAtMs(): number | undefined {
    return this.inFlight.at(-1)?.sentAtMs;
  }

  /** Send time of the oldest batch still waiting for a reply, or undefined. */
  get oldestSentAtMs(): number | undefined {
    return this.inFlight[0]?.sentAtMs;
  }

  sent(batch: Omit<InFlightBatch, 'stale'>): void {
    if (batch.firstSeq !== this.sentUpTo + 1) {
      throw new Error(`batch ${batch.firstSeq}..${batch.lastSeq} does not follow ${this.sentUpTo}`);
    }
    this.inFlight.push({ ...batch, stale: false });
    this.sentUpTo = batch.lastSeq;
  }

  onAck(highWaterSeq: number): ReplyOutcome {
    const batch = this.inFlight.shift();
    if (!batch) return { kind: 'violation', reason: `ack ${highWaterSeq} for feed ${this.feed} with no batch in flight` };
    if (highWaterSeq > this.sentUpTo) {
      return { kind: 'violation', reason: `ack ${highWaterSeq} for feed ${this.feed} is beyond what was sent (${this.sentUpTo})` };
    }
    if (highWaterSeq > this.acked) this.acked = highWaterSeq;
    return { kind: 'acked', ackedSeq: this.acked, batch };
  }

  onNack(expectedSeq: number): ReplyOutcome {
    const batch = this.inFlight.shift();
    if (!batch) return { kind: 'violation', reason: `nack for feed ${this.feed} with no batch in flight` };
    if (batch.stale) return { kind: 'ignored-stale' };
    if (expectedSeq < 1 || expectedSeq > this.sentUpTo + 1) {
      return { kind: 'violation', reason: `nack for feed ${this.feed} expects ${expectedSeq}, beyond what was sent (${this.sentUpTo})` };
    }
    for (const later of this.inFlight) later.stale = true;
    // The relay's word is the truth, even if it now holds less than it once acked.
    this.sentUpTo = expectedSeq - 1;
    this.acked = expectedSeq - 1;
    return { kind: 'resend-from', expectedSeq };
  }
}
