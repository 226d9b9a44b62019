// The agent's one uplink, shared by every feed of every relay: the token bucket
// and the priority gate, driven in real time. This is the edge of the bandwidth
// logic: the only part here with a timer (to retry when tokens will suffice).
//
// Feed pumps call acquire() with an encoded batch's size and send once it
// resolves; they release() the permit when the relay answers the batch (or the
// stream ends). The timetable scheduler calls applyPolicy() at window boundaries.
import { PriorityGate, type SendRequest } from './priority-gate.js';
import type { BandwidthPolicy, BlockedClass } from './timetable.js';
import { TokenBucket } from './token-bucket.js';

/** Default burst: this many seconds at the rate in force. */
export const DEFAULT_BURST_SECONDS = 0.5;
/** The default burst is never below this, in bytes. */
export const MIN_DEFAULT_BURST_BYTES = 4096;
/**
 * Default in-flight cap under a rate limit: this many seconds at the rate in
 * force. Enough for any sane round trip at our own cap, and when the real line is
 * slower than the cap it bounds what a clinical batch can find queued ahead of it.
 */
export const DEFAULT_IN_FLIGHT_SECONDS = 1;
/** The default in-flight cap is never below this, in bytes (64 KiB). */
export const MIN_DEFAULT_IN_FLIGHT_BYTES = 64 * 1024;
/** Default in-flight cap with no rate limit, in bytes (1 MiB). */
export const UNLIMITED_DEFAULT_IN_FLIGHT_BYTES = 1024 * 1024;

/** Permission to send one batch; hand it back with release(). */
export interface Permit {
  readonly ticket: number;
  readonly bytes: number;
}

export interface UplinkOptions {
  /** Class names, highest priority first. */
  classes: readonly string[];
  /** Fixed burst, in bytes; default DEFAULT_BURST_SECONDS of the rate in force. */
  burstBytes?: number;
  /** Fixed cap of unacknowledged bytes across all feeds; default DEFAULT_IN_FLIGHT_SECONDS of the rate in force. */
  maxInFlightBytes?: number;
  /** The policy at start; default unlimited with every class allowed. */
  policy?: BandwidthPolicy;
  /** The timetable's IANA zone, shown in status so window times read as configured. */
  timeZone?: string;
  /** Milliseconds; default Date.now. */
  clock?: () => number;
}

/** The bandwidth part of GET /v1/status. */
export interface UplinkStatus {
  /** The limit in force, bytes per second; null = unlimited. */
  rateLimitBytesPerSecond: number | null;
  burstBytes: number | null;
  maxInFlightBytes: number;
  /** Compressed bytes sent and not yet acknowledged, all feeds. */
  inFlightBytes: number;
  /** Encoded batches waiting for permission to send. */
  waitingBatches: number;
  /** Highest priority first. */
  classes: string[];
  windowsInForce: string[];
  blockedClasses: string[];
  /** Why each blocked class may not send now. */
  blockedReasons: Record<string, string>;
  nextChange: { at: string; atMs: number; description: string } | null;
  /** IANA zone the timetable is read in; null when not configured. */
  timezone: string | null;
}

const UNLIMITED: BandwidthPolicy = { rateBytesPerSecond: null, windowsInForce: [], blocked: [], nextChange: null };

/** The shared uplink: rate limit, priority classes and in-flight cap in real time. */
export class Uplink {
  private readonly bucket: TokenBucket;
  private readonly gate: PriorityGate;
  private readonly waiters = new Map<number, (permit: Permit | undefined) => void>();
  private readonly listeners = new Set<(policy: BandwidthPolicy) => void>();
  private policy: BandwidthPolicy;
  private blocked = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: UplinkOptions) {
    this.policy = options.policy ?? UNLIMITED;
    const rate = this.policy.rateBytesPerSecond;
    this.bucket = new TokenBucket({ rateBytesPerSecond: rate, burstBytes: this.burstFor(rate), clock: options.clock ?? Date.now });
    this.gate = new PriorityGate({ classes: options.classes, bucket: this.bucket, maxInFlightBytes: this.inFlightCapFor(rate) });
    this.setBlocked(this.policy.blocked);
  }

  /** The rate limit in force, bytes per second; null = unlimited. */
  get rateBytesPerSecond(): number | null {
    return this.policy.rateBytesPerSecond;
  }

  /** The cap of unacknowledged bytes in force, across all feeds. */
  get maxInFlightBytes(): number {
    return this.gate.maxInFlightBytes;
  }

  /** Why `className` may not send now, or undefined if it may. */
  blockedReason(className: string): string | undefined {
    return this.blocked.get(className);
  }

  /**
   * Waits for permission to send `request.bytes` for a feed of `request.class`.
   * Resolves with a permit, or undefined if the signal aborted first (the stream
   * ended) or the uplink closed.
   */
  acquire(request: SendRequest, signal?: AbortSignal): Promise<Permit | undefined> {
    if (this.closed || signal?.aborted) return Promise.resolve(undefined);
    const ticket = this.gate.enqueue(request);
    return new Promise<Permit | undefined>((resolve) => {
      const onAbort = (): void => {
        if (!this.gate.cancel(ticket)) return;
        this.waiters.delete(ticket);
        resolve(undefined);
        // The head of the line may have changed.
        this.drive();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.set(ticket, (permit) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(permit);
      });
      this.drive();
    });
  }

  /** The batch of this permit was answered or abandoned; idempotent. */
  release(permit: Permit): void {
    this.gate.release(permit.ticket);
    this.drive();
  }

  /** Switches to a new policy (timetable boundary) and tells the feed pumps. */
  applyPolicy(policy: BandwidthPolicy): void {
    this.policy = policy;
    this.bucket.setRate(policy.rateBytesPerSecond, this.burstFor(policy.rateBytesPerSecond));
    this.gate.setMaxInFlightBytes(this.inFlightCapFor(policy.rateBytesPerSecond));
    this.setBlocked(policy.blocked);
    for (const listener of this.listeners) listener(policy);
    this.drive();
  }

  /** Called after every policy change; returns the unsubscribe function. */
  onPolicyChange(listener: (policy: BandwidthPolicy) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): UplinkStatus {
    const { nextChange } = this.policy;
    return {
      rateLimitBytesPerSecond: this.policy.rateBytesPerSecond,
      burstBytes: this.policy.rateBytesPerSecond === null ? null : this.bucket.burstBytes,
      maxInFlightBytes: this.gate.maxInFlightBytes,
      inFlightBytes: this.gate.inFlightBytes,
      waitingBatches: this.waiters.size,
      classes: [...this.options.classes],
      windowsInForce: [...this.policy.windowsInForce],
      blockedClasses: [...this.blocked.keys()],
      blockedReasons: Object.fromEntries(this.blocked),
      nextChange: nextChange && { at: new Date(nextChange.atMs).toISOString(), atMs: nextChange.atMs, description: nextChange.description },
      timezone: this.options.timeZone ?? null,
    };
  }

  /** Refuses new requests and answers every waiting one with undefined. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const [ticket, resolve] of this.waiters) {
      this.gate.cancel(ticket);
      resolve(undefined);
    }
    this.waiters.clear();
  }

  private setBlocked(blocked: readonly BlockedClass[]): void {
    this.blocked = new Map(blocked.map((b) => [b.class, b.reason]));
    this.gate.setBlocked(this.blocked.keys());
  }

  private burstFor(rate: number | null): number {
    if (this.options.burstBytes !== undefined) return this.options.burstBytes;
    return rate === null ? MIN_DEFAULT_BURST_BYTES : Math.max(MIN_DEFAULT_BURST_BYTES, Math.round(rate * DEFAULT_BURST_SECONDS));
  }

  private inFlightCapFor(rate: number | null): number {
    if (this.options.maxInFlightBytes !== undefined) return this.options.maxInFlightBytes;
    return rate === null ? UNLIMITED_DEFAULT_IN_FLIGHT_BYTES : Math.max(MIN_DEFAULT_IN_FLIGHT_BYTES, Math.round(rate * DEFAULT_IN_FLIGHT_SECONDS));
  }

  /** Grants what can go now and, if the head waits for tokens, retries when they will suffice. */
  private drive(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const { granted, wait } = this.gate.grant();
    for (const grant of granted) {
      const resolve = this.waiters.get(grant.ticket);
      this.waiters.delete(grant.ticket);
      if (resolve) resolve({ ticket: grant.ticket, bytes: grant.bytes });
      else this.gate.release(grant.ticket);
    }
    if (wait.kind === 'tokens') {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.drive();
      }, wait.retryInMs);
    }
  }
}
