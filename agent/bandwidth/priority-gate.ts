// Who may send next on the shared uplink. Pure: no timers, no sockets; the rate
// comes from an injected TokenBucket, the caller drives it (uplink.ts).
//
// A feed pump asks for permission to send one encoded batch. Requests wait in
// order of class (bandwidth.classes, highest first), then arrival. A grant needs
// both rate tokens and room under a cap of unacknowledged bytes across all feeds.
// The second constraint is what makes priority work when the line itself, not
// our cap, is the bottleneck: acks then come back slowly, the in-flight bytes stay
// at the cap, and the room an ack frees goes to the highest class waiting instead
// of to whichever feed happened to write into the socket first.
//
// Failure modes handled:
//  1. Priority inversion by size: the first grantable request is never skipped
//     for a smaller, lower-class one that would fit; the gate stops at the head.
//  2. A batch larger than the in-flight cap: granted when nothing is in flight,
//     otherwise it could never go.
//  3. A class not allowed right now (timetable): its requests stay queued and are
//     passed over; they neither send nor hold up other classes.
//  4. A release for a grant already released (session reset racing an ack): ignored.
import type { TokenBucket } from './token-bucket.js';

/** One request to send a batch. */
export interface SendRequest {
  feed: string;
  /** One of the classes the gate was built with. */
  class: string;
  /** Compressed payload bytes the batch puts on the line. */
  bytes: number;
}

export interface Grant extends SendRequest {
  ticket: number;
}

/** Why the gate stopped granting: what the caller should wait for. */
export type GateWait =
  | { kind: 'idle' }
  | { kind: 'blocked' }
  | { kind: 'in-flight'; ticket: number }
  | { kind: 'tokens'; ticket: number; retryInMs: number };

interface Waiting extends Grant {
  rank: number;
}

export interface PriorityGateOptions {
  /** Class names, highest priority first. */
  classes: readonly string[];
  bucket: TokenBucket;
  /** Unacknowledged bytes allowed across all feeds. */
  maxInFlightBytes: number;
}

/** Orders send requests by class then arrival; grants need rate tokens and in-flight room. */
export class PriorityGate {
  private readonly ranks: Map<string, number>;
  private readonly bucket: TokenBucket;
  private maxInFlight: number;
  /** Sorted by rank, then ticket (arrival). */
  private waiting: Waiting[] = [];
  private readonly outstanding = new Map<number, number>();
  private inFlight = 0;
  private nextTicket = 1;
  private blocked = new Set<string>();

  constructor(options: PriorityGateOptions) {
    this.ranks = new Map(options.classes.map((name, i) => [name, i]));
    this.bucket = options.bucket;
    this.maxInFlight = options.maxInFlightBytes;
  }

  /** Unacknowledged bytes granted and not yet released. */
  get inFlightBytes(): number {
    return this.inFlight;
  }

  get maxInFlightBytes(): number {
    return this.maxInFlight;
  }

  /** Requests waiting, in the order they would be granted. */
  get queue(): readonly Grant[] {
    return this.waiting.map(({ rank: _rank, ...grant }) => grant);
  }

  /** Queues a request; returns its ticket. Call grant() to see whether it may go. */
  enqueue(request: SendRequest): number {
    const rank = this.ranks.get(request.class);
    if (rank === undefined) throw new Error(`unknown bandwidth class ${request.class}`);
    const entry: Waiting = { ...request, ticket: this.nextTicket++, rank };
    // After every entry of the same or a higher class: FIFO within a class.
    let at = this.waiting.length;
    while (at > 0 && this.waiting[at - 1]!.rank > rank) at--;
    this.waiting.splice(at, 0, entry);
    return entry.ticket;
  }

  /** Withdraws a waiting request; false if it was already granted or unknown. */
  cancel(ticket: number): boolean {
    const at = this.waiting.findIndex((w) => w.ticket === ticket);
    if (at < 0) return false;
    this.waiting.splice(at, 1);
    return true;
  }

  /** Classes that may not send now; their requests stay queued. */
  setBlocked(classes: Iterable<string>): void {
    this.blocked = new Set(classes);
  }

  setMaxInFlightBytes(bytes: number): void {
    this.maxInFlight = bytes;
  }

  /**
   * Grants waiting requests in priority order while tokens and in-flight room
   * allow, stopping at the first that cannot go. Returns the grants and what the
   * head of the line now waits for.
   */
  grant(): { granted: Grant[]; wait: GateWait } {
    const granted: Grant[] = [];
    let i = 0;
    while (i < this.waiting.length) {
      const head = this.waiting[i]!;
      if (this.blocked.has(head.class)) {
        i++;
        continue;
      }
      if (this.inFlight > 0 && this.inFlight + head.bytes > this.maxInFlight) {
        return { granted, wait: { kind: 'in-flight', ticket: head.ticket } };
      }
      if (!this.bucket.tryTake(head.bytes)) {
        return { granted, wait: { kind: 'tokens', ticket: head.ticket, retryInMs: Math.max(1, this.bucket.delayMs(head.bytes)) } };
      }
      this.waiting.splice(i, 1);
      this.inFlight += head.bytes;
      this.outstanding.set(head.ticket, head.bytes);
      granted.push({ feed: head.feed, class: head.class, bytes: head.bytes, ticket: head.ticket });
    }
    return { granted, wait: this.waiting.length > 0 ? { kind: 'blocked' } : { kind: 'idle' } };
  }

  /** The batch of this grant was acknowledged, refused or abandoned: its bytes leave the in-flight count. */
  release(ticket: number): void {
    const bytes = this.outstanding.get(ticket);
    if (bytes === undefined) return;
    this.outstanding.delete(ticket);
    this.inFlight -= bytes;
  }
}
