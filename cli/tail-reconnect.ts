// When `wardline feed tail --follow` reconnects, and how long it waits first. Pure:
// no timers, no sockets; the command sleeps what delayMs() says.
//
// Failure modes handled:
//  1. The relay restarts or the connection drops (UNAVAILABLE, or a stream that ends
//     under --follow, INTERNAL/UNKNOWN from a torn HTTP/2 stream): reconnect, resuming
//     after the last cursor printed.
//  2. The relay refuses for good (UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND,
//     OUT_OF_RANGE, INVALID_ARGUMENT, FAILED_PRECONDITION, UNIMPLEMENTED): never
//     retried, since the same request gets the same answer.
//  3. A relay that is down for long: delays double from 250 ms up to 10 s (a restart
//     takes a few seconds, so a vendor's tail is back within one cap of it), with
//     jitter so many tails do not reconnect in step; a stream that delivered anything
//     resets the delay.
import { status } from '@grpc/grpc-js';

/** First delay before reconnecting, in ms. */
export const DEFAULT_TAIL_RECONNECT_INITIAL_MS = 250;
/** Longest delay between reconnects, in ms. */
export const DEFAULT_TAIL_RECONNECT_MAX_MS = 10_000;

const RETRYABLE: ReadonlySet<number> = new Set([status.UNAVAILABLE, status.INTERNAL, status.UNKNOWN, status.DEADLINE_EXCEEDED, status.ABORTED, status.RESOURCE_EXHAUSTED]);

/** True when a tail that failed with this gRPC status should reconnect. */
export function isTailReconnectable(code: number): boolean {
  return RETRYABLE.has(code);
}

/** Capped exponential backoff with full-range jitter between half and the whole delay. */
export class TailReconnect {
  private attempt = 0;
  constructor(
    private readonly initialMs = DEFAULT_TAIL_RECONNECT_INITIAL_MS,
    private readonly maxMs = DEFAULT_TAIL_RECONNECT_MAX_MS,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt, in ms; each call counts one failure. */
  delayMs(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(base / 2 + (base / 2) * this.random());
  }

  /** A stream delivered something: the next failure starts again from initialMs. */
  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}
