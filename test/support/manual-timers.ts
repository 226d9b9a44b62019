// Timers (runtime/timers.ts) that only fire when the test moves time,
// with the clock that goes with them: a test waits for the code to arm a timer
// and then advances past it, instead of sleeping and polling a real clock.
import type { TimerHandle, Timers } from '../../runtime/index.js';

interface Pending extends TimerHandle {
  dueMs: number;
  callback: () => void;
  /** Repeats every intervalMs (setInterval); undefined for a one-shot. */
  intervalMs?: number;
}

export class ManualTimers implements Timers {
  private nowMs: number;
  private readonly pending = new Set<Pending>();
  private armedWaiters: (() => void)[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.nowMs = startMs;
  }

  /** The clock to pass beside these timers. */
  readonly clock = (): number => this.nowMs;

  /** Timers armed and not yet fired or cleared. */
  get armed(): number {
    return this.pending.size;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.arm({ dueMs: this.nowMs + Math.max(0, ms), callback });
  }

  setInterval(callback: () => void, ms: number): TimerHandle {
    return this.arm({ dueMs: this.nowMs + Math.max(1, ms), callback, intervalMs: Math.max(1, ms) });
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    this.pending.delete(handle as Pending);
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.pending.delete(handle as Pending);
  }

  /** Resolves once at least `count` timers are armed (at once if they are). */
  async whenArmed(count = 1): Promise<void> {
    while (this.pending.size < count) await new Promise<void>((resolve) => this.armedWaiters.push(resolve));
  }

  /** Moves the clock by `ms`, firing every timer that falls due, in order of due time. */
  advance(ms: number): void {
    const until = this.nowMs + ms;
    for (;;) {
      let next: Pending | undefined;
      for (const timer of this.pending) if (timer.dueMs <= until && (!next || timer.dueMs < next.dueMs)) next = timer;
      if (!next) break;
      this.nowMs = next.dueMs;
      if (next.intervalMs === undefined) this.pending.delete(next);
      else next.dueMs += next.intervalMs;
      next.callback();
    }
    this.nowMs = until;
  }

  private arm(timer: Pending): TimerHandle {
    this.pending.add(timer);
    const waiters = this.armedWaiters;
    this.armedWaiters = [];
    for (const wake of waiters) wake();
    return timer;
  }
}
