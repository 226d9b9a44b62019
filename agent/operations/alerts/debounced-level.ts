// One alert condition's level (0 = fine, 1 = raised, 2 = critical, …) as the
// operator is told it, debounced in time so that a condition that flaps produces
// one alert when the trouble starts and one when it has really ended. Pure: the
// caller hands in each observation with its time; there are no timers here.
//
// The rules, and the failure modes they handle:
//  1. A blip (the level rises and falls back within `raiseAfterMs`): no alert.
//  2. A flapping condition (up, down, up, down …): the rise is counted from the
//     first time it went up, and a fall back only cancels it after `clearAfterMs`
//     of calm. So a link that drops every few seconds raises once, `raiseAfterMs`
//     after the first drop, instead of never (which a "continuously for N s" rule
//     would do) or every time (which no debounce would do).
//  3. A raised condition that recovers for a moment and fails again: it is only
//     lowered after `clearAfterMs` without interruption, so the moment is absorbed.
//  4. Escalation (warning -> critical) follows rule 2; de-escalation follows rule 3
//     and lands on the highest level seen during the calm period, never lower.

/** Milliseconds before a rise is reported, and of calm before a fall is reported. */
export interface DebounceTimes {
  /** A higher level must have been pending this long, in ms; 0 = report at once. */
  raiseAfterMs: number;
  /** A lower level must have held without interruption this long, in ms; 0 = report at once. */
  clearAfterMs: number;
}

/** A reported change of level. */
export interface LevelChange {
  from: number;
  to: number;
  atMs: number;
}

export class DebouncedLevel {
  private reportedLevel: number;
  /** When a rise above the reported level started pending; null when none is. */
  private riseSinceMs: number | null = null;
  /** When the pending rise last saw the level at or below the reported one. */
  private riseCalmSinceMs: number | null = null;
  /** When the level first fell below the reported one, without rising back since. */
  private fallSinceMs: number | null = null;
  /** The highest level seen since fallSinceMs: where a fall lands. */
  private fallPeak = 0;

  /** @param initialLevel the level last reported (e.g. restored from the alert store); default 0 */
  constructor(
    private readonly times: DebounceTimes,
    initialLevel = 0,
  ) {
    this.reportedLevel = initialLevel;
  }

  /** The level the operator was last told. */
  get level(): number {
    return this.reportedLevel;
  }

  /**
   * Feeds one observation, taken at `atMs` (ms since the epoch, never decreasing).
   * Returns the change to report, or null when there is nothing to say.
   */
  observe(level: number, atMs: number): LevelChange | null {
    const reported = this.reportedLevel;
    if (level > reported) {
      this.fallSinceMs = null;
      this.riseSinceMs ??= atMs;
      this.riseCalmSinceMs = null;
      if (atMs - this.riseSinceMs >= this.times.raiseAfterMs) return this.report(level, atMs);
      return null;
    }
    // At or below the reported level: a pending rise needs calm to be forgotten.
    if (this.riseSinceMs !== null) {
      this.riseCalmSinceMs ??= atMs;
      if (atMs - this.riseCalmSinceMs >= this.times.clearAfterMs) {
        this.riseSinceMs = null;
        this.riseCalmSinceMs = null;
      }
    }
    if (level === reported) {
      this.fallSinceMs = null;
      return null;
    }
    if (this.fallSinceMs === null) {
      this.fallSinceMs = atMs;
      this.fallPeak = level;
    } else {
      this.fallPeak = Math.max(this.fallPeak, level);
    }
    if (atMs - this.fallSinceMs >= this.times.clearAfterMs) return this.report(this.fallPeak, atMs);
    return null;
  }

  /**
   * Forgets a rise still pending (not yet reported): what it counted from is
   * known not to have been trouble. The reported level is left alone.
   */
  forgetPendingRise(): void {
    this.riseSinceMs = null;
    this.riseCalmSinceMs = null;
  }

  private report(to: number, atMs: number): LevelChange {
    const change = { from: this.reportedLevel, to, atMs };
    this.reportedLevel = to;
    this.riseSinceMs = null;
    this.riseCalmSinceMs = null;
    this.fallSinceMs = null;
    this.fallPeak = 0;
    return change;
  }
}
