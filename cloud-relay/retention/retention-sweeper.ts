// The relay's retention sweep: shortly after start and then every
// sweepIntervalMs, every feed held (FeedStore.feedSizes) gets the rule its
// retention limits give it now (retention-policy.ts) applied by the store
// (FeedStore.applyRetention), which removes the oldest events the rule no longer
// keeps and raises the feed's retention floor.
//
// Failure modes handled:
//  1. A sweep slower than its interval (a first sweep of millions of events):
//     the next sweep is scheduled after the previous one ends, never two at a time.
//  2. A store fault (disk full, the database unreachable): the feed's error is
//     logged and kept for the status; the other feeds are still swept, and the
//     next sweep tries again. The part keeps running.
//  3. stop() during a sweep: no further feed is started, no new sweep is
//     scheduled, and stop() resolves once the feed in progress is done, so the
//     store is never closed under it.
//  4. Several relay processes on one PostgreSQL database, each running this
//     sweep: applyRetention is idempotent. Each of its chunks locks the feed's
//     position row (SELECT … FOR UPDATE, the lock storeBatch takes) and re-reads
//     the floor, visible seq and body bytes under it, so a second process finds
//     what the first removed gone and removes nothing twice; the floor only
//     rises. Removed counts are this process's own: summed over processes they
//     count every removed event once. (relay.db is held by one process only.)
//  5. A feed revoked between feedSizes and its sweep: applyRetention removes
//     nothing from a revoked feed.
import type { Logger } from 'pino';
import { systemTimers, type TimerHandle, type Timers } from '../../runtime/index.js';
import type { FeedStore } from '../store/index.js';
import type { RetentionConfig } from './retention-config.js';
import { retentionRuleFor } from './retention-policy.js';

/** How long after start() the first sweep runs at most (ms), so a relay restarted often still sweeps. */
export const FIRST_RETENTION_SWEEP_DELAY_MS = 5_000;

export interface RetentionSweeperOptions {
  store: Pick<FeedStore, 'feedSizes' | 'applyRetention'>;
  config: RetentionConfig;
  logger: Logger;
  /** ms since the epoch; default Date.now. */
  now?: () => number;
  timers?: Timers;
  /** Delay of the first sweep after start(), ms; default min(sweepIntervalMs, FIRST_RETENTION_SWEEP_DELAY_MS). */
  firstSweepDelayMs?: number;
}

/** What this process's sweeps did to one feed since start. */
export interface FeedSweepRecord {
  hospital: string;
  feed: string;
  /** Events and body bytes this process's sweeps removed from the feed since it started. */
  removedEvents: number;
  removedBytes: number;
  /** The floor the last sweep of the feed left (0 = nothing ever removed). */
  retentionFloorSeq: number;
  /** When this process last swept the feed, ms since the epoch. */
  lastSweepAtMs: number;
  /** Why the last sweep of the feed failed; null when it did not. */
  lastError: string | null;
}

/** The sweeper's state for the status page. */
export interface RetentionSweepStatus {
  sweepIntervalMs: number;
  /** When this process's last sweep ended, ms since the epoch; null before the first. */
  lastSweepAtMs: number | null;
  /** How long it took, ms. */
  lastSweepDurationMs: number | null;
  /** Why the last sweep could not list the feeds; null when it could. */
  lastError: string | null;
  feeds: readonly FeedSweepRecord[];
}

/** What one sweep did. */
export interface SweepOutcome {
  feeds: number;
  /** Feeds with a rule (the others keep every event). */
  swept: number;
  removedEvents: number;
  removedBytes: number;
  failed: number;
  durationMs: number;
}

export class RetentionSweeper {
  private timer: TimerHandle | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;
  /** Set by stop(): a sweep in progress ends after the feed it is on. */
  private stopping = false;
  private lastSweepAtMs: number | null = null;
  private lastSweepDurationMs: number | null = null;
  private lastError: string | null = null;
  private readonly records = new Map<string, FeedSweepRecord>();
  private readonly now: () => number;
  private readonly timers: Timers;

  constructor(private readonly options: RetentionSweeperOptions) {
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? systemTimers;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopping = false;
    this.schedule(this.options.firstSweepDelayMs ?? Math.min(this.options.config.sweepIntervalMs, FIRST_RETENTION_SWEEP_DELAY_MS));
  }

  /** Ends the sweeps; resolves once a feed being swept is done (failure mode 3). Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping = true;
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    // Its failure was logged by whoever started it; stopping only waits for it.
    await this.running?.catch(() => undefined);
  }

  status(): RetentionSweepStatus {
    return {
      sweepIntervalMs: this.options.config.sweepIntervalMs,
      lastSweepAtMs: this.lastSweepAtMs,
      lastSweepDurationMs: this.lastSweepDurationMs,
      lastError: this.lastError,
      feeds: [...this.records.values()].map((r) => ({ ...r })),
    };
  }

  /**
   * One sweep now (tests, and the scheduled sweeps); a sweep already running is
   * joined rather than doubled (failure mode 1). Rejects only when the feeds
   * cannot be listed; a feed whose sweep fails is logged and counted.
   */
  sweep(): Promise<SweepOutcome> {
    const running = (this.running as Promise<SweepOutcome> | undefined) ?? this.sweepOnce().finally(() => (this.running = undefined));
    this.running = running;
    return running;
  }

  private async sweepOnce(): Promise<SweepOutcome> {
    const { store, config, logger } = this.options;
    const startedAtMs = this.now();
    const outcome: SweepOutcome = { feeds: 0, swept: 0, removedEvents: 0, removedBytes: 0, failed: 0, durationMs: 0 };
    let feeds;
    try {
      feeds = await store.feedSizes();
    } catch (error) {
      this.lastError = `listing the feeds failed: ${messageOf(error)}`;
      throw error;
    }
    this.lastError = null;
    outcome.feeds = feeds.length;
    for (const size of feeds) {
      // Failure mode 3: a stop waits for this feed only.
      if (this.stopping) break;
      const { hospital, feed } = size;
      const sweptAtMs = this.now();
      const rule = retentionRuleFor(config, hospital, feed, sweptAtMs);
      if (!rule) continue;
      outcome.swept++;
      const record = this.recordOf(hospital, feed, size.retentionFloorSeq);
      try {
        const result = await store.applyRetention(hospital, feed, rule);
        record.removedEvents += result.removedEvents;
        record.removedBytes += result.removedBytes;
        record.retentionFloorSeq = Math.max(record.retentionFloorSeq, result.retentionFloorSeq);
        record.lastSweepAtMs = sweptAtMs;
        record.lastError = null;
        outcome.removedEvents += result.removedEvents;
        outcome.removedBytes += result.removedBytes;
        if (result.removedEvents > 0) {
          logger.info(
            { hospital, feed, removedEvents: result.removedEvents, removedBytes: result.removedBytes, retentionFloorSeq: result.retentionFloorSeq, ...rule },
            'retention removed the feed\'s oldest events; cursors below the new floor are refused',
          );
        }
      } catch (error) {
        // Failure mode 2: this feed waits for the next sweep; the others go on.
        outcome.failed++;
        record.lastSweepAtMs = sweptAtMs;
        record.lastError = messageOf(error);
        logger.error({ err: error, hospital, feed }, 'retention sweep of the feed failed; trying again at the next sweep');
      }
    }
    this.lastSweepAtMs = this.now();
    outcome.durationMs = this.lastSweepAtMs - startedAtMs;
    this.lastSweepDurationMs = outcome.durationMs;
    return outcome;
  }

  private recordOf(hospital: string, feed: string, floor: number): FeedSweepRecord {
    const key = JSON.stringify([hospital, feed]);
    let record = this.records.get(key);
    if (!record) {
      record = { hospital, feed, removedEvents: 0, removedBytes: 0, retentionFloorSeq: floor, lastSweepAtMs: 0, lastError: null };
      this.records.set(key, record);
    }
    return record;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    const timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.sweep()
        .catch((error: unknown) => this.options.logger.error({ err: error }, 'retention sweep failed; trying again at the next sweep'))
        .finally(() => this.schedule(this.options.config.sweepIntervalMs));
    }, delayMs);
    // The sweep never keeps the process alive by itself.
    timer.unref?.();
    this.timer = timer;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
