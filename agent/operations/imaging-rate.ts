// An imaging feed's recent chunk rate, from the chunk bytes its status has
// reported over the last half minute: what imaging-eta.ts walks through the
// timetable. While the class is held back nothing moves, and a rate measured then
// would say "never"; so the rate measured while it last sent is kept until it
// sends again. Pure: the caller hands in each reading with its instant.

/** The rate is measured over this much of the recent past, in ms. */
export const IMAGING_RATE_WINDOW_MS = 30_000;
/** Fewer ms of readings than this says nothing yet. */
export const MIN_IMAGING_RATE_SPAN_MS = 2_000;

interface Reading {
  atMs: number;
  bytes: number;
}

export class ImagingRate {
  private readonly readings = new Map<string, Reading[]>();
  private readonly whileSending = new Map<string, number>();

  constructor(private readonly windowMs = IMAGING_RATE_WINDOW_MS) {}

  /**
   * Records `chunkBytesSent` of `feed` at `atMs`; `maySend` says whether its class
   * may send now. Returns bytes per second, or null when not known.
   */
  observe(feed: string, chunkBytesSent: number, atMs: number, maySend: boolean): number | null {
    const readings = this.readings.get(feed) ?? [];
    this.readings.set(feed, readings);
    const last = readings[readings.length - 1];
    // The clock went back, or the counter did (a new pump): start again.
    if (last && (atMs < last.atMs || chunkBytesSent < last.bytes)) readings.length = 0;
    readings.push({ atMs, bytes: chunkBytesSent });
    while (readings.length > 2 && readings[1]!.atMs <= atMs - this.windowMs) readings.shift();
    const first = readings[0]!;
    const spanMs = atMs - first.atMs;
    if (spanMs >= MIN_IMAGING_RATE_SPAN_MS) {
      const rate = (chunkBytesSent - first.bytes) / (spanMs / 1000);
      if (rate > 0) this.whileSending.set(feed, rate);
      // Allowed to send for a whole window and nothing moved: the old rate is no longer true.
      else if (maySend && spanMs >= this.windowMs) this.whileSending.delete(feed);
    }
    return this.whileSending.get(feed) ?? null;
  }
}
