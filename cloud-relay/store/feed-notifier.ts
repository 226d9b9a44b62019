// In-process wake-ups for live tails: the store reports how far each feed may
// be read (its visible seq) after a commit; subscribers wait until it passes
// their cursor.
//
// Failure modes handled:
//  1. A feed advances between a subscriber's last read and its wait(): the
//     notifier remembers the latest mark per feed, so wait() returns at once
//     instead of sleeping through the event.
//  2. A subscriber goes away while waiting: its AbortSignal removes the waiter,
//     so abandoned tails do not pile up.

import type { FeedAdvanceListener } from './feed-store.js';

/** Something that is told when a feed's high-water mark moves (FeedStore's onAdvance). */
export type { FeedAdvanceListener };

interface Waiter {
  afterSeq: number;
  resolve: () => void;
}

export class FeedNotifier {
  private readonly latest = new Map<string, number>();
  private readonly waiters = new Map<string, Set<Waiter>>();

  /** Records that (hospital, feed) is durable up to `highWater` and wakes waiters behind it. */
  readonly advanced: FeedAdvanceListener = (hospital, feed, highWater) => {
    const id = feedKey(hospital, feed);
    if (highWater <= (this.latest.get(id) ?? 0)) return;
    this.latest.set(id, highWater);
    const waiting = this.waiters.get(id);
    if (!waiting) return;
    for (const waiter of waiting) {
      if (highWater > waiter.afterSeq) {
        waiting.delete(waiter);
        waiter.resolve();
      }
    }
    if (waiting.size === 0) this.waiters.delete(id);
  };

  /**
   * Resolves once (hospital, feed) has advanced past `afterSeq` (at once if it
   * already has, as far as this process has seen). Rejects with the signal's
   * reason when `signal` aborts.
   */
  wait(hospital: string, feed: string, afterSeq: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const id = feedKey(hospital, feed);
    if ((this.latest.get(id) ?? 0) > afterSeq) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.remove(id, waiter);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        afterSeq,
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      let waiting = this.waiters.get(id);
      if (!waiting) this.waiters.set(id, (waiting = new Set()));
      waiting.add(waiter);
    });
  }

  /**
   * Wakes every subscriber of (hospital, feed) without moving its mark: the
   * feed was revoked, and each re-reads and ends with the revocation error.
   */
  readonly wake = (hospital: string, feed: string): void => {
    const id = feedKey(hospital, feed);
    const waiting = this.waiters.get(id);
    if (!waiting) return;
    this.waiters.delete(id);
    for (const waiter of waiting) waiter.resolve();
  };

  /** How many subscribers are waiting, across all feeds (status, tests). */
  get waiting(): number {
    let count = 0;
    for (const set of this.waiters.values()) count += set.size;
    return count;
  }

  private remove(id: string, waiter: Waiter): void {
    const waiting = this.waiters.get(id);
    waiting?.delete(waiter);
    if (waiting?.size === 0) this.waiters.delete(id);
  }
}

// Hospital ids and feed names cannot contain NUL (config NAME_PATTERN), so the key is unambiguous.
function feedKey(hospital: string, feed: string): string {
  return `${hospital}\0${feed}`;
}
