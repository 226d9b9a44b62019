// The vendors' read positions each relay last reported (VendorProgress on the
// replication stream), for the message browser's "has a vendor read past it?".
// In memory: the relay keeps them in memory too, and sends them again on every
// new stream. A relay that never sent any (one older than VendorProgress) leaves
// its feeds unknown, which is not the same as "not read".
import type { VendorReadPosition } from './relay-transport.js';

/** A vendor's position in a feed, and when the agent heard of it. */
export interface VendorPosition extends VendorReadPosition {
  relay: string;
  /** When the agent received the report, ms since the epoch (agent clock). */
  reportedAtMs: number;
}

export class VendorPositions {
  private readonly byRelay = new Map<string, VendorPosition[]>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** Replaces what `relay` reported before: the relay sends every position each time. */
  update(relay: string, reads: readonly VendorReadPosition[]): void {
    const reportedAtMs = this.clock();
    this.byRelay.set(relay, reads.map((r) => ({ ...r, relay, reportedAtMs })));
  }

  /**
   * The vendors' positions in `feed` at `relay`, or undefined when that relay has
   * not reported any since this agent started (unknown, not "none").
   */
  forFeed(relay: string, feed: string): VendorPosition[] | undefined {
    const reads = this.byRelay.get(relay);
    return reads?.filter((r) => r.feed === feed).map((r) => ({ ...r }));
  }
}
