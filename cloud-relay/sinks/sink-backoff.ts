// How long a feed's sink waits after consecutive failures: doubling from
// SINK_BACKOFF_BASE_MS to the configured cap. NATS reconnects on its own every
// 500 ms; the sink only needs to not spin while it does.

/** The first wait after a failure, in milliseconds. */
export const SINK_BACKOFF_BASE_MS = 100;

/** The wait before retry number `failures` (1 = after the first failure), in milliseconds. */
export function sinkBackoffMs(failures: number, maxMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, SINK_BACKOFF_BASE_MS * 2 ** Math.min(failures - 1, 20));
}
