// How fast each feed's backlog is shrinking, from the backlog sizes the status
// has seen over the last half minute: the "about N s" of "catching up". The
// achieved send rate alone would promise too early while the hospital keeps
// adding, so this is the net rate, what actually empties the backlog. Pure.

/** The drain rate is measured over this much of the recent past, in ms. */
export const DRAIN_WINDOW_MS = 30_000;
/** Fewer ms of samples than this says nothing yet about the rate. */
export const MIN_DRAIN_SPAN_MS = 2_000;

export interface DrainEstimate {
  /** Events per second the backlog shrank by over the window; null while it is not shrinking or not yet measured. */
  eventsPerSecond: number | null;
  /** Seconds until the backlog is empty at that rate; 0 when empty, null when it is not shrinking. */
  etaSeconds: number | null;
}

export class BacklogDrain {
  private readonly samples = new Map<string, { atMs: number; events: number }[]>();

  constructor(private readonly windowMs = DRAIN_WINDOW_MS) {}

  /** Records `events` waiting in `feed` at `atMs` and returns the estimate with it. */
  observe(feed: string, events: number, atMs: number): DrainEstimate {
    const samples = this.samples.get(feed) ?? [];
    this.samples.set(feed, samples);
    const last = samples[samples.length - 1];
    if (last && atMs < last.atMs) samples.length = 0; // the clock went back: start again
    samples.push({ atMs, events });
    while (samples.length > 2 && samples[0]!.atMs < atMs - this.windowMs) samples.shift();
    if (events === 0) return { eventsPerSecond: null, etaSeconds: 0 };
    // Grew since a fuller sample: only the shrinking since the window's peak counts
    // (its first sample: a rate-limited drain holds still between its bursts).
    let peak = 0;
    for (let i = 1; i < samples.length; i++) if (samples[i]!.events > samples[peak]!.events) peak = i;
    const from = samples[peak]!;
    const spanMs = atMs - from.atMs;
    if (spanMs < MIN_DRAIN_SPAN_MS || from.events <= events) return { eventsPerSecond: null, etaSeconds: null };
    const eventsPerSecond = (from.events - events) / (spanMs / 1000);
    return { eventsPerSecond, etaSeconds: events / eventsPerSecond };
  }
}
