// The `lag` rule for a number column (an update sequence, AUTO_INCREMENT): the
// highest version the table held lagWindow ago is the watermark, and the one held
// two windows ago is where the next read goes back to. A transaction that drew a
// sequence value must commit within the window to be read at once; within two it is
// still caught by the re-read. Pure: the source feeds it samples and its clock.
export class SequenceWatermark {
  private samples: { atMs: number; version: string | null }[] = [];

  constructor(private readonly lagWindowMs: number) {}

  /** Records the highest version seen now; returns the watermark and the re-read bound. */
  sample(atMs: number, version: string | null): { upTo: string | null; overlapFrom: string | null; head: string | null } {
    this.samples.push({ atMs, version });
    const ready = (age: number) => {
      let found: string | null = null;
      for (const s of this.samples) if (s.atMs <= atMs - age) found = s.version;
      return found;
    };
    const upTo = this.lagWindowMs === 0 ? version : ready(this.lagWindowMs);
    const overlapFrom = ready(2 * this.lagWindowMs);
    // Keep the newest sample at least two windows old, and every younger one.
    const keepFrom = this.samples.findLastIndex((s) => s.atMs <= atMs - 2 * this.lagWindowMs);
    if (keepFrom > 0) this.samples = this.samples.slice(keepFrom);
    return { upTo, overlapFrom, head: version };
  }
}
