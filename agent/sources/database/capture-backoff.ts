// How long a change-capture source waits before trying its server again: 1 s,
// doubling to 30 s, back to 1 s once capture runs again. The same for every kind,
// so a DBA reading two sources' logs sees the same rhythm.

const FIRST_MS = 1_000;
const MAX_MS = 30_000;

/** A source refused by the admission check (disk critical) asks again this often. */
export const ADMISSION_RETRY_MS = 1_000;

export class CaptureBackoff {
  private delay = FIRST_MS;

  /** The wait before the next attempt. */
  get delayMs(): number {
    return this.delay;
  }

  /** After a failed attempt: the wait to use now; the one after is twice as long (at most 30 s). */
  next(): number {
    const wait = this.delay;
    this.delay = Math.min(MAX_MS, this.delay * 2);
    return wait;
  }

  /** Capture ran again: the next failure waits the shortest time. */
  reset(): void {
    this.delay = FIRST_MS;
  }
}
