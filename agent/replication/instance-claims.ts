// Which instances the feeds of one relay are shipping right now. Feeds that carry
// the same stream name the same instances (a second feed of the PACS studies);
// their shippers would otherwise offer the same instance at once, both hear the
// same chunks missing, and send the same parts: the relay takes one and refuses
// the other (wrong offset), so bytes cross twice and, after MAX_INSTANCE_ATTEMPTS
// such rounds, one feed is held with WL_A028 (measured with two feeds from the
// start: held on the second 10 MiB instance). With a claim, the second shipper
// waits until the first is done with the instance, then offers: the relay holds
// it complete and answers so, and no chunk byte is sent again.
//
// Claims live in memory, per relay: the relay's chunks are per hospital, and one
// agent process is the only sender of its hospital to a relay.

/** Gives back a claim; idempotent. */
export type ReleaseClaim = () => void;

export class InstanceClaims {
  private readonly claims = new Map<string, Promise<void>>();

  /**
   * Resolves once no other shipper holds `sha256` (the instance's SHA-256), with
   * the function that gives the claim back; undefined when the signal aborted first.
   */
  async claim(sha256: string, signal: AbortSignal): Promise<ReleaseClaim | undefined> {
    for (let held = this.claims.get(sha256); held; held = this.claims.get(sha256)) {
      if (!(await settledUnlessAborted(held, signal))) return undefined;
    }
    if (signal.aborted) return undefined;
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    this.claims.set(sha256, done);
    return () => {
      if (this.claims.get(sha256) === done) this.claims.delete(sha256);
      release();
    };
  }

  /** Instances claimed now (tests, status). */
  get size(): number {
    return this.claims.size;
  }
}

/** True once `promise` settles, false if the signal aborts first (its listener removed either way). */
function settledUnlessAborted(promise: Promise<void>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    });
  });
}
