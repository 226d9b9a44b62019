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
//     mark is the only truth about what the relay holds.

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

export class FeedWindow {
  private inFlight: InFlightBatch[] = [];
  private acked = 0;
  private sentUpTo = 0;

  constructor(
    readonly feed: string,
    private readonly maxInFlight: number,
  ) {}

  /** Starts a new stream from the relay's durable high-water mark. */
  reset(highWaterSeq: number): void {
    this.inFlight = [];
    this.acked = highWaterSeq;
    this.sentUpTo = highWaterSeq;
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
    return this.inFlight.length < this.maxInFlight;
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
