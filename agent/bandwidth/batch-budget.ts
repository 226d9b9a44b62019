// How many bytes of event bodies the next batch may read, given the rate and the
// in-flight cap in force. Pure.
//
// A batch is a stretch of line no other class can interrupt once it is sent:
//  1. Under a low rate cap, a clinical batch arriving behind a 1 MiB bulk batch at
//     200 kB/s would wait five seconds. So a batch carries at most ~250 ms worth
//     of the rate.
//  2. When the line itself is slower than our cap, the in-flight cap bounds what
//     is queued ahead of a clinical batch, but only if a batch is small beside
//     it (a batch larger than the cap still goes when nothing is in flight). So a
//     batch carries at most a quarter of the in-flight cap.
// Never less than one event: the journal always returns at least one. The limits
// count compressed bytes and the read limit counts body bytes, hence the feed's
// observed compression ratio.

/** A batch carries at most this much time at the rate in force, in seconds. */
export const BATCH_TARGET_SECONDS = 0.25;
/** A batch carries at most this share of the in-flight cap. */
export const BATCH_SHARE_OF_IN_FLIGHT = 0.25;

export interface BatchBudgetInput {
  /** The rate in force, in bytes per second; null when unlimited. */
  rateBytesPerSecond: number | null;
  /** The cap of unacknowledged bytes in force, in bytes. */
  maxInFlightBytes: number;
  /** Body bytes per compressed payload byte observed for this feed (1 before any batch). */
  compressionRatio: number;
  /** The configured (and relay-announced) ceiling, in body bytes. */
  maxBytes: number;
}

/** The read limit for the next batch, in body bytes (at least 1). */
export function batchBodyBudget(input: BatchBudgetInput): number {
  const ratio = Number.isFinite(input.compressionRatio) && input.compressionRatio > 0 ? input.compressionRatio : 1;
  let payloadBytes = input.maxInFlightBytes * BATCH_SHARE_OF_IN_FLIGHT;
  if (input.rateBytesPerSecond !== null) payloadBytes = Math.min(payloadBytes, input.rateBytesPerSecond * BATCH_TARGET_SECONDS);
  return Math.max(1, Math.min(input.maxBytes, Math.floor(payloadBytes * ratio)));
}
