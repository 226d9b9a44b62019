// Per vendor key bounds on what it may hold open at once: page reads (an HTTP
// page, a gRPC replay without follow) and follow subscriptions. One key with
// thousands of unread pages or live tails would otherwise take the relay's
// memory and event loop from every other vendor and from the agents. Pure: no
// I/O, no timers; the HTTP and gRPC feed services acquire and release.
import { TooManyRequestsError, type VendorSlotKind } from '../errors.js';

export interface VendorSlotLimits {
  /** Page reads one key may have in progress. */
  reads: number;
  /** Follow subscriptions one key may hold open. */
  follows: number;
  /** Retry-After for a refused request, in seconds. */
  retryAfterSeconds: number;
}

export class VendorSlots {
  private readonly held = new Map<string, number>();

  constructor(private readonly limits: VendorSlotLimits) {}

  /**
   * Takes one slot of `kind` for `vendor`, or throws TooManyRequestsError when
   * the key holds its limit already. The returned function gives the slot back
   * (calling it again does nothing).
   */
  acquire(vendor: string, kind: VendorSlotKind): () => void {
    const key = `${kind}\u0000${vendor}`;
    const limit = kind === 'read' ? this.limits.reads : this.limits.follows;
    const count = this.held.get(key) ?? 0;
    if (count >= limit) throw new TooManyRequestsError(vendor, kind, limit, this.limits.retryAfterSeconds);
    this.held.set(key, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(key) ?? 1) - 1;
      if (left > 0) this.held.set(key, left);
      else this.held.delete(key);
    };
  }

  /** Slots of `kind` that `vendor` holds now. */
  holding(vendor: string, kind: VendorSlotKind): number {
    return this.held.get(`${kind}\u0000${vendor}`) ?? 0;
  }
}
