// The disk budget: from samples of the data directory's filesystem, decide whether
// the agent may keep taking input (ok / warning / critical) and forecast when the
// disk will be full. Pure: no timers, no filesystem; the watch feeds it samples.
//
// Failure modes handled:
//  1. A reading that hovers at a threshold: entering a state is immediate (safety
//     first), leaving it needs the reading to clear the threshold by
//     hysteresisPercent, so admission does not flap between AA and AR.
//  2. A sudden fill (a log storm, a copied archive): ok -> critical in one sample;
//     the states are levels, not steps.
//  3. Jittery readings: the growth rate is a least-squares slope over a window of
//     samples, not the last difference, and a forecast needs a few samples
//     spanning at least a minute.
//  4. A filesystem resized or remounted under the agent: samples from before the
//     size changed are dropped, so the slope does not mix two disks.

/** ok: take everything; warning: take everything, tell the operator; critical: only critical sources. */
export type DiskState = 'ok' | 'warning' | 'critical';

/** Numeric value of a state for gauges: 0 ok, 1 warning, 2 critical. */
export const DISK_STATE_LEVEL: Record<DiskState, number> = { ok: 0, warning: 1, critical: 2 };

/** Default: warning at 80 % used. */
export const DEFAULT_DISK_WARN_AT_PERCENT = 80;
/** Default: critical (refuse non-critical input) at 95 % used. */
export const DEFAULT_DISK_CRITICAL_AT_PERCENT = 95;
/** Default: a state is left only 2 percentage points below its threshold. */
export const DEFAULT_DISK_HYSTERESIS_PERCENT = 2;
/** Default: the growth rate is fitted over the last 15 minutes of samples. */
export const DEFAULT_DISK_FORECAST_WINDOW_MS = 15 * 60_000;
/** Fewest samples a forecast is made from. */
export const MIN_FORECAST_SAMPLES = 3;
/** Default: no forecast from less than a minute of samples (a burst of a few seconds is not a trend). */
export const DEFAULT_MIN_FORECAST_SPAN_MS = 60_000;
/** Growth below this many bytes per second is noise, not growth: no forecast. */
export const MIN_GROWTH_BYTES_PER_SECOND = 1;
/** Most samples kept, whatever the window: bounds memory at short intervals. */
const MAX_SAMPLES = 2_000;

export interface DiskThresholds {
  /** Used percentage (0–100) at which the state becomes warning. */
  warnAtPercent: number;
  /** Used percentage (0–100) at which the state becomes critical. */
  criticalAtPercent: number;
  /** Free bytes at or below which the state becomes warning, whatever the percentage. */
  warnAtFreeBytes?: number | undefined;
  /** Free bytes at or below which the state becomes critical, whatever the percentage. */
  criticalAtFreeBytes?: number | undefined;
  /** Percentage points (of the filesystem's size) by which a reading must clear a threshold to leave its state. */
  hysteresisPercent: number;
}

/** One reading of the filesystem holding the data directory. */
export interface DiskUsage {
  /** Size of the filesystem, as `df` reports it (blocks reserved for root included). */
  totalBytes: number;
  usedBytes: number;
  /** Bytes an unprivileged process can still write (statfs f_bavail). */
  freeBytes: number;
}

export interface DiskBudgetSample extends DiskUsage {
  /** Milliseconds since the epoch. */
  atMs: number;
  /** Bytes of the agent's store on that filesystem (agent.db and its WAL). */
  journalBytes: number;
  /** Bytes of the DICOM archive's chunks on that filesystem (0 without one). */
  archiveBytes?: number;
}

export interface DiskAssessment {
  state: DiskState;
  /** The state before this sample. */
  previousState: DiskState;
  usedPercent: number;
  /** Which threshold holds the state where it is, for people: "96.1% used (threshold 95%)"; null when ok. */
  reason: string | null;
  /** Which threshold `reason` names (diskPressureKind); null when ok. */
  reasonKind: DiskPressureKind | null;
  /** Bytes per second the filesystem is filling, from the window's slope; null when not growing or too few samples. */
  growthBytesPerSecond: number | null;
  /** Bytes per second the agent's store is growing; null when not growing or too few samples. */
  journalGrowthBytesPerSecond: number | null;
  /** Bytes per second the DICOM archive is growing; null when not growing or too few samples. */
  archiveGrowthBytesPerSecond: number | null;
  /** Seconds until no free bytes are left at the current growth rate; null when not growing. */
  forecastFullInSeconds: number | null;
  /** Seconds until the critical threshold at the current growth rate (0 when critical); null when not growing. */
  forecastCriticalInSeconds: number | null;
}

/** Used percentage as `df` reports it: used / (used + free), reserved blocks excluded. */
export function usedPercentOf(usage: DiskUsage): number {
  const capacity = usage.usedBytes + usage.freeBytes;
  return capacity <= 0 ? 100 : (usage.usedBytes / capacity) * 100;
}

/**
 * The state after `usage`, given the state before it. Entering a worse state is
 * immediate; leaving a state needs the reading to clear its threshold by the
 * hysteresis margin (percentage points, also applied to the free-byte thresholds
 * as that share of the filesystem's size).
 */
export function nextDiskState(current: DiskState, usage: DiskUsage, thresholds: DiskThresholds): DiskState {
  const percent = usedPercentOf(usage);
  const marginPercent = thresholds.hysteresisPercent;
  const marginBytes = (usage.totalBytes * marginPercent) / 100;
  const atOrOver = (atPercent: number, atFreeBytes: number | undefined, margin: 0 | 1): boolean =>
    percent >= atPercent - marginPercent * margin ||
    (atFreeBytes !== undefined && usage.freeBytes <= atFreeBytes + marginBytes * margin);

  if (atOrOver(thresholds.criticalAtPercent, thresholds.criticalAtFreeBytes, 0)) return 'critical';
  if (current === 'critical' && atOrOver(thresholds.criticalAtPercent, thresholds.criticalAtFreeBytes, 1)) return 'critical';
  if (atOrOver(thresholds.warnAtPercent, thresholds.warnAtFreeBytes, 0)) return 'warning';
  if (current !== 'ok' && atOrOver(thresholds.warnAtPercent, thresholds.warnAtFreeBytes, 1)) return 'warning';
  return 'ok';
}

/**
 * Why the disk is in `state`, naming the measure and the threshold:
 * "96.1% used (threshold 95%)" or "1.20 GB free (threshold 2.00 GB)". Null when ok.
 */
export function describeDiskPressure(state: DiskState, usage: DiskUsage, thresholds: DiskThresholds): string | null {
  const kind = diskPressureKind(state, usage, thresholds);
  if (kind === null) return null;
  const percent = usedPercentOf(usage);
  if (kind === 'free-bytes') return `${formatDiskBytes(usage.freeBytes)} free (threshold ${formatDiskBytes((state === 'critical' ? thresholds.criticalAtFreeBytes : thresholds.warnAtFreeBytes)!)})`;
  return `${percent.toFixed(1)}% used (threshold ${state === 'critical' ? thresholds.criticalAtPercent : thresholds.warnAtPercent}%)`;
}

/** Which threshold holds a warning or critical state, as status `disk.reasonKind` (the dashboard translates it); null when ok. */
export type DiskPressureKind = 'used-percent' | 'free-bytes';

/** The threshold describeDiskPressure names: used percentage, or free bytes; null when ok. */
export function diskPressureKind(state: DiskState, usage: DiskUsage, thresholds: DiskThresholds): DiskPressureKind | null {
  if (state === 'ok') return null;
  const atPercent = state === 'critical' ? thresholds.criticalAtPercent : thresholds.warnAtPercent;
  const atFreeBytes = state === 'critical' ? thresholds.criticalAtFreeBytes : thresholds.warnAtFreeBytes;
  // The percentage holds the state unless it is clear of its threshold (margin
  // included): then it is the free-byte threshold, and that is the one to name.
  const byPercent = usedPercentOf(usage) >= atPercent - thresholds.hysteresisPercent;
  return !byPercent && atFreeBytes !== undefined ? 'free-bytes' : 'used-percent';
}

/** Bytes for people, in decimal units as disk sizes are sold: "1.20 GB". */
export function formatDiskBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(2)} ${units[unit]}`;
}

/**
 * The least-squares slope of `value` over time, in units per second; null with
 * fewer than MIN_FORECAST_SAMPLES points or when they all share one instant.
 */
export function slopePerSecond(points: readonly { atMs: number; value: number }[]): number | null {
  if (points.length < MIN_FORECAST_SAMPLES) return null;
  // Centre on the first point: epoch milliseconds squared lose precision in doubles.
  const t0 = points[0]!.atMs;
  let sumT = 0;
  let sumV = 0;
  for (const p of points) {
    sumT += (p.atMs - t0) / 1000;
    sumV += p.value;
  }
  const meanT = sumT / points.length;
  const meanV = sumV / points.length;
  let covariance = 0;
  let variance = 0;
  for (const p of points) {
    const dt = (p.atMs - t0) / 1000 - meanT;
    covariance += dt * (p.value - meanV);
    variance += dt * dt;
  }
  return variance === 0 ? null : covariance / variance;
}

export interface DiskBudgetOptions {
  thresholds: DiskThresholds;
  /** Samples older than this (ms before the newest) are left out of the growth rate. Default 15 min. */
  forecastWindowMs?: number;
  /** No growth rate or forecast until the samples span this many ms. Default 60 000. */
  minForecastSpanMs?: number;
  /** The state to start in; default ok. */
  initialState?: DiskState;
}

/** Holds the state and the recent samples; `observe` each new sample. */
export class DiskBudget {
  private current: DiskState;
  private readonly samples: DiskBudgetSample[] = [];
  private readonly windowMs: number;
  private readonly minSpanMs: number;

  constructor(private readonly options: DiskBudgetOptions) {
    this.current = options.initialState ?? 'ok';
    this.windowMs = options.forecastWindowMs ?? DEFAULT_DISK_FORECAST_WINDOW_MS;
    this.minSpanMs = options.minForecastSpanMs ?? DEFAULT_MIN_FORECAST_SPAN_MS;
  }

  get state(): DiskState {
    return this.current;
  }

  get thresholds(): DiskThresholds {
    return this.options.thresholds;
  }

  observe(sample: DiskBudgetSample): DiskAssessment {
    const previousState = this.current;
    this.remember(sample);
    this.current = nextDiskState(previousState, sample, this.options.thresholds);

    const spanMs = sample.atMs - this.samples[0]!.atMs;
    const fit = (value: (s: DiskBudgetSample) => number): number | null =>
      spanMs < this.minSpanMs ? null : positive(slopePerSecond(this.samples.map((s) => ({ atMs: s.atMs, value: value(s) }))));
    // Free bytes are what runs out; their fall is the growth that matters.
    const growth = fit((s) => -s.freeBytes);
    const journalGrowth = fit((s) => s.journalBytes);
    const archiveGrowth = fit((s) => s.archiveBytes ?? 0);
    const criticalFreeBytes = this.criticalFreeBytes(sample);
    return {
      state: this.current,
      previousState,
      usedPercent: usedPercentOf(sample),
      reason: describeDiskPressure(this.current, sample, this.options.thresholds),
      reasonKind: diskPressureKind(this.current, sample, this.options.thresholds),
      growthBytesPerSecond: growth,
      journalGrowthBytesPerSecond: journalGrowth,
      archiveGrowthBytesPerSecond: archiveGrowth,
      forecastFullInSeconds: growth === null ? null : sample.freeBytes / growth,
      forecastCriticalInSeconds:
        this.current === 'critical' ? 0 : growth === null ? null : Math.max(0, sample.freeBytes - criticalFreeBytes) / growth,
    };
  }

  /** The free bytes at which the disk turns critical, whichever threshold is met first. */
  private criticalFreeBytes(usage: DiskUsage): number {
    const { criticalAtPercent, criticalAtFreeBytes } = this.options.thresholds;
    const capacity = usage.usedBytes + usage.freeBytes;
    return Math.max(criticalAtFreeBytes ?? 0, capacity * (1 - criticalAtPercent / 100));
  }

  private remember(sample: DiskBudgetSample): void {
    const last = this.samples[this.samples.length - 1];
    // A clock that stepped back, or another filesystem size: start the window afresh.
    if (last && (sample.atMs < last.atMs || sample.totalBytes !== last.totalBytes)) this.samples.length = 0;
    this.samples.push(sample);
    const oldestKept = sample.atMs - this.windowMs;
    let drop = 0;
    while (drop < this.samples.length - 1 && this.samples[drop]!.atMs < oldestKept) drop++;
    drop = Math.max(drop, this.samples.length - MAX_SAMPLES);
    if (drop > 0) this.samples.splice(0, drop);
  }
}

function positive(rate: number | null): number | null {
  return rate === null || rate < MIN_GROWTH_BYTES_PER_SECOND ? null : rate;
}
