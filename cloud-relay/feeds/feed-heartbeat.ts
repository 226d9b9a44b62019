// When a follow subscription sends a FeedHeartbeat, and what it says. Pure apart
// from the injected clock: the service asks after each read whether a
// heartbeat is due and how long it may wait for new events before one is.
//
// Failure modes handled:
//  1. A vendor that cannot tell a quiet feed from a dead link: with nothing to
//     send, a heartbeat goes out every heartbeatMs (the wait before the next
//     one counts from the last message of any kind, so a busy stream sends none).
//  2. A vendor that must know when it has seen everything (to commit, to switch
//     from backfill to live): one caught-up heartbeat each time the stream
//     reaches the feed's head after sending events, and once after the initial
//     replay even when it sent nothing, never one per empty wake-up.
import type { FeedPage } from '../store/index.js';

/** What a FeedHeartbeat carries (protocol FeedHeartbeat). */
export interface FeedHeartbeatView {
  /** The feed's visible seq. */
  highWater: number;
  /** Everything through this seq has been sent on this stream. */
  cursor: number;
  caughtUp: boolean;
  /** ms since the epoch. */
  sentAtMs: number;
  retentionFloorSeq: number;
}

export class HeartbeatSchedule {
  private lastSentAtMs: number;
  /** True until the first caught-up heartbeat, and again after each event sent. */
  private catchUpOwed = true;

  /** `intervalMs`: the longest the stream stays silent, in milliseconds. */
  constructor(
    readonly intervalMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.lastSentAtMs = clock();
  }

  /** An event went out. */
  eventSent(): void {
    this.lastSentAtMs = this.clock();
    this.catchUpOwed = true;
  }

  /**
   * The heartbeat to send after a read that reached the head (a complete page)
   * at `cursor`, or undefined when none is due: the caught-up one when owed,
   * else an idle one when nothing went out for intervalMs. Counts it as sent.
   */
  afterRead(cursor: number, page: Pick<FeedPage, 'highWater' | 'retentionFloorSeq'>): FeedHeartbeatView | undefined {
    const now = this.clock();
    if (!this.catchUpOwed && now - this.lastSentAtMs < this.intervalMs) return undefined;
    this.catchUpOwed = false;
    this.lastSentAtMs = now;
    return { highWater: page.highWater, cursor, caughtUp: cursor >= page.highWater, sentAtMs: now, retentionFloorSeq: page.retentionFloorSeq };
  }

  /** How long to wait for the feed to advance before the next idle heartbeat is due, in milliseconds (≥ 0). */
  waitMs(): number {
    return Math.max(0, this.lastSentAtMs + this.intervalMs - this.clock());
  }
}
