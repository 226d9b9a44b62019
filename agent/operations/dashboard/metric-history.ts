// The recent past the dashboard's charts start from when a page opens: one point
// per sample, per feed and for the host, kept for spanMs. Pure: points carry
// their own time.

/** The charts show this much, in ms. */
export const DEFAULT_HISTORY_SPAN_MS = 30 * 60 * 1000;
/** Points kept at most, whatever the span (a fast sampler must not grow memory). */
export const MAX_HISTORY_POINTS = 3_600;

export interface FeedPoint {
  backlogEvents: number;
  backlogBytes: number;
  lagSeconds: number;
  /** Events that entered the feed (committed to its streams) per second since the previous point. */
  inPerSecond: number;
  /** Events the relay acknowledged per second since the previous point. */
  outPerSecond: number;
}

export interface HistoryPoint {
  /** ms since the epoch. */
  atMs: number;
  feeds: Record<string, FeedPoint>;
  host: { cpuPercent: number | null; memoryPercent: number | null };
}

/** Columns, as uPlot takes them: time in seconds, then one array per figure; null where a feed had no point. */
export interface HistorySeries {
  t: number[];
  feeds: Record<string, Record<keyof FeedPoint, (number | null)[]>>;
  host: { cpuPercent: (number | null)[]; memoryPercent: (number | null)[] };
}

const FEED_FIGURES: readonly (keyof FeedPoint)[] = ['backlogEvents', 'backlogBytes', 'lagSeconds', 'inPerSecond', 'outPerSecond'];

export class MetricHistory {
  private readonly points: HistoryPoint[] = [];

  constructor(private readonly spanMs: number = DEFAULT_HISTORY_SPAN_MS) {}

  add(point: HistoryPoint): void {
    this.points.push(point);
    const cut = point.atMs - this.spanMs;
    let drop = 0;
    while (drop < this.points.length && (this.points[drop]!.atMs < cut || this.points.length - drop > MAX_HISTORY_POINTS)) drop++;
    if (drop > 0) this.points.splice(0, drop);
  }

  get length(): number {
    return this.points.length;
  }

  series(): HistorySeries {
    const feeds: HistorySeries['feeds'] = {};
    for (const point of this.points) for (const feed of Object.keys(point.feeds)) feeds[feed] ??= emptyFeedColumns();
    for (const point of this.points) {
      for (const [feed, columns] of Object.entries(feeds)) {
        const p = point.feeds[feed];
        for (const figure of FEED_FIGURES) columns[figure].push(p ? p[figure] : null);
      }
    }
    return {
      t: this.points.map((p) => p.atMs / 1000),
      feeds,
      host: { cpuPercent: this.points.map((p) => p.host.cpuPercent), memoryPercent: this.points.map((p) => p.host.memoryPercent) },
    };
  }
}

function emptyFeedColumns(): Record<keyof FeedPoint, (number | null)[]> {
  return { backlogEvents: [], backlogBytes: [], lagSeconds: [], inPerSecond: [], outPerSecond: [] };
}
