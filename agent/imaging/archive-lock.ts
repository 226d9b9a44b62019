// Keeps retention's removals apart from ingests: an ingest that finds a chunk
// already held relies on it staying there until its own reference commits, and
// a removal must not unlink a chunk an ingest is about to reference. Ingests run
// side by side (shared); a removal waits for them and holds new ones back
// (exclusive). In-process only: one agent owns its archive directory.
export class ArchiveLock {
  private shared = 0;
  private exclusive: Promise<void> | undefined;
  private readonly drained: (() => void)[] = [];

  /** Runs `work` alongside other shared holders, after any exclusive holder. */
  async withShared<T>(work: () => Promise<T>): Promise<T> {
    while (this.exclusive) await this.exclusive;
    this.shared++;
    try {
      return await work();
    } finally {
      this.shared--;
      if (this.shared === 0) for (const wake of this.drained.splice(0)) wake();
    }
  }

  /** Runs `work` alone: after every shared holder under way, before any new one. */
  async withExclusive<T>(work: () => Promise<T>): Promise<T> {
    while (this.exclusive) await this.exclusive;
    let release!: () => void;
    this.exclusive = new Promise<void>((resolve) => (release = resolve));
    try {
      if (this.shared > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
      return await work();
    } finally {
      this.exclusive = undefined;
      release();
    }
  }
}
