// The relay's inbound sweep: every expirySweepMs, events that never left the
// relay and are past their TTL get their final receipt "expired"
// (InboundStore.expireUnsent), and events that ended more than retainFinalFor
// ago are deleted with their receipts.
//
// Failure modes handled:
//  1. A sweep slower than its interval (a large backlog expiring at once): the
//     next sweep is scheduled after the previous one ends, never two at a time.
//  2. A store fault in one sweep (disk full, a lock held past busy_timeout):
//     logged, and the next sweep tries again; the part keeps running.
//  3. stop() during a sweep: no new sweep is scheduled and stop() resolves once
//     the running one is done, so the store is never closed under it.
//  4. Thousands of finals to delete: deleted in bounded steps, so one sweep
//     never holds the write lock long enough to delay a vendor's write.
import type { Logger } from 'pino';
import { systemTimers, type TimerHandle, type Timers } from '../../runtime/index.js';
import type { InboundStore } from './inbound-store.js';

/** Finished events deleted per step of a sweep. */
export const RETENTION_DELETE_STEP = 500;
/** Steps per sweep at most; the rest waits for the next sweep. */
export const RETENTION_STEPS_PER_SWEEP = 20;

export interface InboundExpiryOptions {
  store: InboundStore;
  /** Between the end of one sweep and the start of the next, in milliseconds. */
  sweepMs: number;
  /** Finished events are kept this long after their final receipt, in milliseconds. */
  retainFinalMs: number;
  logger: Logger;
  /** ms since the epoch; default Date.now. */
  now?: () => number;
  timers?: Timers;
}

export class InboundExpiry {
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private readonly now: () => number;
  private readonly timers: Timers;

  constructor(private readonly options: InboundExpiryOptions) {
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? systemTimers;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Ends the sweeps; resolves once a sweep in progress is done. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One sweep now; resolves with what it did (tests and the scheduled sweeps). */
  async sweep(): Promise<{ expired: number; deleted: number }> {
    const { store, logger } = this.options;
    const nowMs = this.now();
    const expired = await store.expireUnsent(nowMs);
    for (const record of expired) {
      // No key, no body: ids and channels only leave the relay's log.
      logger.info({ id: record.id, hospital: record.hospital, channel: record.channel, outcome: 'expired' }, 'inbound event expired at the relay, never sent');
    }
    let deleted = 0;
    for (let step = 0; step < RETENTION_STEPS_PER_SWEEP; step++) {
      const n = await store.deleteFinalBefore(nowMs - this.options.retainFinalMs, RETENTION_DELETE_STEP);
      deleted += n;
      if (n < RETENTION_DELETE_STEP) break;
    }
    if (deleted > 0) logger.info({ deleted, retainFinalMs: this.options.retainFinalMs }, 'finished inbound events deleted after their retention');
    return { expired: expired.length, deleted };
  }

  private schedule(): void {
    if (this.stopped) return;
    const timer = this.timers.setTimeout(() => {
      this.running = this.sweep()
        .then(
          () => undefined,
          (error: unknown) => this.options.logger.error({ err: error }, 'inbound expiry sweep failed; trying again at the next sweep'),
        )
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.options.sweepMs);
    // The sweep never keeps the process alive by itself.
    timer.unref?.();
    this.timer = timer;
  }
}
