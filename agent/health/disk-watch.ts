// Samples the filesystem holding the data directory every sampleIntervalMs and
// feeds the readings to the DiskBudget; its state drives admission (see
// disk-admission.ts) and shows in status and metrics.
//
// Failure modes handled:
//  1. A probe that never answers (df stuck on a dead NFS mount elsewhere on the
//     machine): each reading has a deadline; a late or failed reading keeps the
//     last state (neither relaxing nor tightening admission on no evidence) and
//     says so in status (probeError). Readings never overlap.
//  2. A probe that keeps failing: logged once when it starts and once when it
//     recovers, not every interval.
//  3. The disk fills between two samples: nothing here can see it; SQLite then
//     fails the commit with SQLITE_FULL and the source answers AR / 5xx without
//     acknowledging, so nothing acknowledged is lost. The critical threshold's
//     headroom is what keeps that the exception.
import type { DiskProbe, DiskReading } from './disk-probe.js';
import type { DiskAssessment, DiskBudget, DiskPressureKind, DiskState, DiskThresholds } from './disk-budget.js';

/** Default: one reading every 10 s. */
export const DEFAULT_DISK_SAMPLE_INTERVAL_MS = 10_000;
/** Default floor for a reading's deadline, in ms (the deadline is the larger of this and the interval). */
export const DEFAULT_DISK_PROBE_TIMEOUT_MS = 5_000;

export interface DiskWatchLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface DiskWatchOptions {
  /** The data directory watched, as configured (reported in status). */
  path: string;
  probe: DiskProbe;
  budget: DiskBudget;
  /** Bytes of the agent's store files on that filesystem, read with each sample. */
  journalBytes: () => number;
  /** What the DICOM archive holds on that filesystem (InstanceArchive.usage), read with each sample; absent = no archive. */
  archiveUsage?: () => ArchiveFootprint;
  /** Milliseconds between readings; default 10 000. */
  sampleIntervalMs?: number;
  /** A reading not back after this many ms counts as failed; default max(5 000, sampleIntervalMs). */
  probeTimeoutMs?: number;
  /** Milliseconds since the epoch; injected for tests. */
  clock?: () => number;
  log: DiskWatchLogger;
}

/** What the watch knows, for GET /v1/status. Figures are null until the first reading. */
export interface DiskWatchStatus {
  /** The data directory. */
  path: string;
  mount: string | null;
  filesystem: string | null;
  type: string | null;
  totalBytes: number | null;
  usedBytes: number | null;
  freeBytes: number | null;
  /** used / (used + free) × 100, as `df` shows Use%. */
  usedPercent: number | null;
  state: DiskState;
  /** When the state was entered, ms since the epoch. */
  stateSinceMs: number;
  /** The threshold holding the state, e.g. "96.1% used (threshold 95%)"; null when ok. */
  reason: string | null;
  /** Which threshold `reason` names, as a code the dashboard translates: used-percent, free-bytes; null when ok. */
  reasonKind: DiskPressureKind | null;
  thresholds: DiskThresholds;
  /** How fast free space is shrinking, bytes per second; null when it is not. */
  growthBytesPerSecond: number | null;
  forecastFullInSeconds: number | null;
  forecastCriticalInSeconds: number | null;
  /** Bytes of agent.db and its WAL at the last reading. */
  journalBytes: number | null;
  journalGrowthBytesPerSecond: number | null;
  /** What the DICOM archive held at the last reading; null without an archive or before the first reading. */
  archive: ArchiveFootprint | null;
  archiveGrowthBytesPerSecond: number | null;
  /** When the last good reading was taken, ms since the epoch. */
  sampledAtMs: number | null;
  /** Why the last reading failed; null when it succeeded. */
  probeError: string | null;
}

/** The archive's share of the disk, as the watch reads it. */
export interface ArchiveFootprint {
  /** Bytes of its chunks (each chunk once). */
  bytes: number;
  chunks: number;
  instances: number;
}

type StateListener = (state: DiskState, previous: DiskState, reason: string | null) => void;

export class DiskWatch {
  private readonly clock: () => number;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly listeners = new Set<StateListener>();
  private reading: DiskReading | undefined;
  private assessment: DiskAssessment | undefined;
  private journalBytes: number | null = null;
  private archive: ArchiveFootprint | null = null;
  private sampledAtMs: number | null = null;
  private stateSinceMs: number;
  private probeError: string | null = null;
  private inFlight: Promise<void> | undefined;
  private probing: Promise<DiskReading> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: DiskWatchOptions) {
    this.clock = options.clock ?? Date.now;
    this.intervalMs = options.sampleIntervalMs ?? DEFAULT_DISK_SAMPLE_INTERVAL_MS;
    this.timeoutMs = options.probeTimeoutMs ?? Math.max(DEFAULT_DISK_PROBE_TIMEOUT_MS, this.intervalMs);
    this.stateSinceMs = this.clock();
  }

  get state(): DiskState {
    return this.options.budget.state;
  }

  /** The threshold holding the state, e.g. "96.1% used (threshold 95%)"; null when ok. */
  get reason(): string | null {
    return this.assessment?.reason ?? null;
  }

  /** Called after a reading changes the state. Returns an unsubscribe function. */
  onStateChange(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Takes a reading now (or joins the one under way). Never rejects. */
  sample(): Promise<void> {
    this.inFlight ??= this.takeReading().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /** Samples every sampleIntervalMs until stop(). The first reading is one interval away: take one with sample() first. */
  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    // The watch must never be what keeps the process alive.
    this.timer.unref();
  }

  /** Stops sampling and waits for a reading under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  status(): DiskWatchStatus {
    const r = this.reading;
    const a = this.assessment;
    return {
      path: this.options.path,
      mount: r?.mount ?? null,
      filesystem: r?.filesystem ?? null,
      type: r?.type ?? null,
      totalBytes: r?.totalBytes ?? null,
      usedBytes: r?.usedBytes ?? null,
      freeBytes: r?.freeBytes ?? null,
      usedPercent: a ? round(a.usedPercent, 2) : null,
      state: this.state,
      stateSinceMs: this.stateSinceMs,
      reason: a?.reason ?? null,
      reasonKind: a?.reasonKind ?? null,
      thresholds: this.options.budget.thresholds,
      growthBytesPerSecond: a?.growthBytesPerSecond ?? null,
      forecastFullInSeconds: a?.forecastFullInSeconds ?? null,
      forecastCriticalInSeconds: a?.forecastCriticalInSeconds ?? null,
      journalBytes: this.journalBytes,
      journalGrowthBytesPerSecond: a?.journalGrowthBytesPerSecond ?? null,
      archive: this.archive,
      archiveGrowthBytesPerSecond: a?.archiveGrowthBytesPerSecond ?? null,
      sampledAtMs: this.sampledAtMs,
      probeError: this.probeError,
    };
  }

  private async takeReading(): Promise<void> {
    let reading: DiskReading;
    try {
      // A probe past its deadline is waited for again rather than started twice,
      // so a stuck df does not become one stuck df per interval.
      this.probing ??= this.options.probe.read().finally(() => (this.probing = undefined));
      reading = await withDeadline(this.probing, this.timeoutMs);
    } catch (error) {
      const message = `cannot read the disk holding ${this.options.path}: ${(error as Error).message}`;
      if (message !== this.probeError) {
        this.options.log.warn({ err: error, path: this.options.path, state: this.state }, `${message}; keeping disk state ${this.state}`);
      }
      this.probeError = message;
      return;
    }
    if (this.probeError !== null) this.options.log.info({ path: this.options.path }, 'disk readable again');
    this.probeError = null;

    const atMs = this.clock();
    let journalBytes: number;
    try {
      journalBytes = this.options.journalBytes();
    } catch {
      journalBytes = this.journalBytes ?? 0;
    }
    let archive: ArchiveFootprint | null = null;
    try {
      archive = this.options.archiveUsage?.() ?? null;
    } catch {
      archive = this.archive;
    }
    const assessment = this.options.budget.observe({ ...reading, atMs, journalBytes, archiveBytes: archive?.bytes ?? 0 });
    this.reading = reading;
    this.assessment = assessment;
    this.journalBytes = journalBytes;
    this.archive = archive;
    this.sampledAtMs = atMs;
    if (assessment.state !== assessment.previousState) this.transitioned(assessment, reading, atMs);
  }

  private transitioned(a: DiskAssessment, reading: DiskReading, atMs: number): void {
    this.stateSinceMs = atMs;
    const fields = {
      path: this.options.path,
      mount: reading.mount,
      from: a.previousState,
      to: a.state,
      usedPercent: round(a.usedPercent, 2),
      freeBytes: reading.freeBytes,
      reason: a.reason,
      forecastFullInSeconds: a.forecastFullInSeconds,
    };
    const message = `disk ${a.previousState} -> ${a.state}`;
    if (a.state === 'critical') this.options.log.error(fields, `${message}: ${a.reason}; refusing input from non-critical sources`);
    else if (a.state === 'warning') this.options.log.warn(fields, `${message}: ${a.reason}`);
    else this.options.log.info(fields, `${message}: input accepted from every source`);
    for (const listener of this.listeners) listener(a.state, a.previousState, a.reason);
  }
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
