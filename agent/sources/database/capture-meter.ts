// The figures a capture source reports: rows journaled per second over the last
// minute (one-second buckets), transactions, and the commit-to-journal lag of the
// last transaction. Pure: the source calls it with its own clock's readings.

const WINDOW_SECONDS = 60;

export class CaptureMeter {
  private readonly buckets = new Map<number, number>();
  private lag: number | null = null;
  transactions = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  /** A transaction of `rows` rows committed in the database at `commitMs` is now in the journal. */
  journaled(rows: number, commitMs: number | null): void {
    const now = this.clock();
    const second = Math.floor(now / 1000);
    this.buckets.set(second, (this.buckets.get(second) ?? 0) + rows);
    for (const key of this.buckets.keys()) if (key <= second - WINDOW_SECONDS) this.buckets.delete(key);
    this.transactions++;
    if (commitMs !== null) this.lag = Math.max(0, now - commitMs);
  }

  /** Rows per second over the last minute (or since the first row, when sooner). */
  rowsPerSecond(): number {
    const second = Math.floor(this.clock() / 1000);
    let rows = 0;
    let oldest = second;
    for (const [key, count] of this.buckets) {
      if (key <= second - WINDOW_SECONDS) continue;
      rows += count;
      if (key < oldest) oldest = key;
    }
    return rows / Math.max(1, Math.min(WINDOW_SECONDS, second - oldest + 1));
  }

  /** Lag of the last transaction, ms; null before the first. */
  lagMs(): number | null {
    return this.lag;
  }
}
