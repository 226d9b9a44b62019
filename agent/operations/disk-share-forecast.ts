// When Wardline fills the data directory's disk, from Wardline's own share:
// the journal's growth, smoothed. The whole disk's free space swings with
// whatever else writes there (a log rotation, a backup), so a forecast from it
// jumped from "full in 2.4 h" to "2.1 days" on 78 GB free. Pure.

/** Growth is smoothed with this time constant, in ms: a burst moves the forecast, it does not make it. */
export const SHARE_SMOOTHING_MS = 15 * 60 * 1000;
/** Fewer ms of readings than this gives no forecast yet. */
export const MIN_SHARE_SPAN_MS = 60 * 1000;

export interface ShareForecast {
  /** The journal's smoothed growth, in bytes per second (negative while trimming wins); null before MIN_SHARE_SPAN_MS of readings. */
  growthBytesPerSecond: number | null;
  /** Seconds until the free space is gone at that growth; null while not growing or not yet known. */
  fullInSeconds: number | null;
}

export class DiskShareForecast {
  private last: { atMs: number; journalBytes: number } | undefined;
  private firstAtMs: number | undefined;
  private rate: number | null = null;

  constructor(private readonly smoothingMs = SHARE_SMOOTHING_MS) {}

  observe(atMs: number, journalBytes: number, freeBytes: number | null): ShareForecast {
    const last = this.last;
    if (!last || atMs < last.atMs) {
      this.last = { atMs, journalBytes };
      this.firstAtMs = atMs;
      this.rate = null;
      return { growthBytesPerSecond: null, fullInSeconds: null };
    }
    const dtMs = atMs - last.atMs;
    if (dtMs > 0) {
      const instant = (journalBytes - last.journalBytes) / (dtMs / 1000);
      const weight = 1 - Math.exp(-dtMs / this.smoothingMs);
      this.rate = this.rate === null ? instant : this.rate + weight * (instant - this.rate);
      this.last = { atMs, journalBytes };
    }
    if (atMs - this.firstAtMs! < MIN_SHARE_SPAN_MS || this.rate === null) return { growthBytesPerSecond: null, fullInSeconds: null };
    const fullInSeconds = this.rate > 0 && freeBytes !== null ? freeBytes / this.rate : null;
    return { growthBytesPerSecond: this.rate, fullInSeconds };
  }
}
