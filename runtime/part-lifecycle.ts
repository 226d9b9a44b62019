// One ordered start and its reverse stop for a composition root. Both the
// failure path (a port that cannot be bound half-way through start-up) and
// stop() unwind through the same list, so the two can never disagree about
// what runs and in which order it is taken down.
//
// Failure modes handled:
//  1. A part fails to start: every part already started or held is stopped in
//     reverse order, then the start error is thrown (nothing stays half up).
//  2. A part fails to stop: the error is logged with the part's name and the
//     parts before it are still stopped; stop() resolves.
//  3. stop() called twice, or during a failed start: one unwind, shared.

/** A part of a running process as its composition root sees it. */
export interface LifecyclePart {
  /** Names the part in the log when it fails to start or stop. */
  readonly name: string;
  start?(): unknown;
  stop?(): unknown;
}

export interface LifecycleLogger {
  error(fields: Record<string, unknown>, message: string): void;
}

export class PartLifecycle {
  private readonly running: LifecyclePart[] = [];
  private stopping: Promise<void> | undefined;

  constructor(private readonly log?: LifecycleLogger) {}

  /** Registers a part that is already running (an open database): it is stopped with the rest. */
  hold(part: LifecyclePart): void {
    if (this.stopping) throw new Error(`cannot hold ${part.name}: the process is stopping`);
    this.running.push(part);
  }

  /**
   * Starts a part and registers it; returns what its start() returned (a bound
   * port, say). If start() throws, everything registered so far is stopped in
   * reverse order and the error is rethrown.
   */
  async start<T>(part: { readonly name: string; start(): T | Promise<T>; stop?(): unknown }): Promise<T> {
    if (this.stopping) throw new Error(`cannot start ${part.name}: the process is stopping`);
    let result: T;
    try {
      result = await part.start();
    } catch (error) {
      // The part itself may have half-started (a listener bound on one port of two).
      await this.stopOne(part);
      await this.stop();
      throw error;
    }
    this.running.push(part);
    return result;
  }

  /** Stops every registered part, last started first; idempotent. */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      while (this.running.length > 0) await this.stopOne(this.running.pop()!);
    })());
  }

  private async stopOne(part: LifecyclePart): Promise<void> {
    try {
      await part.stop?.();
    } catch (error) {
      this.log?.error({ err: error, part: part.name }, `${part.name} did not stop cleanly`);
    }
  }
}
