// The timer port beside the clock, for agent and relay alike: logic that waits (backoff, ack ticks, a
// small batch's hold, an answer's timeout) asks this instead of the global
// timers, so a test can hand in manual ones and move time itself instead of
// polling a real clock. The real ones are the default everywhere.

/** What a scheduled timer returns; only passed back to clear it. */
export interface TimerHandle {
  /** Lets the process exit while the timer is pending (a real timer only). */
  unref?(): unknown;
}

export interface Timers {
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  setInterval(callback: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | undefined): void;
}

/** Node's own timers. */
export const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout | undefined),
};
