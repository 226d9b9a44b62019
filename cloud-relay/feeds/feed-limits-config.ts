// The relay's `feedLimits:` config section: per vendor key bounds on feed reads
// and subscriptions, and the stalled-response cut.
import { z } from 'zod';
import { durationSchema } from '../../runtime/index.js';
import type { VendorSlotLimits } from './vendor-slots.js';

/** Page reads (HTTP pages, gRPC replays without follow) one vendor key may have in progress at once. */
export const DEFAULT_CONCURRENT_READS_PER_KEY = 8;
/** gRPC follow subscriptions one vendor key may hold open at once. */
export const DEFAULT_FOLLOW_SUBSCRIPTIONS_PER_KEY = 64;
/** A response (or gRPC write) whose client reads nothing for this long is cut, in milliseconds. */
export const DEFAULT_STALLED_RESPONSE_MS = 30_000;
/** The longest a gRPC follow subscription stays silent before a heartbeat, in milliseconds (a Subscribe's heartbeat_ms = 0). */
export const DEFAULT_HEARTBEAT_MS = 5_000;
/** The heartbeat intervals a Subscribe may ask for (heartbeat_ms), in milliseconds. */
export const MIN_HEARTBEAT_MS = 100;
export const MAX_HEARTBEAT_MS = 60_000;
/** The longest an HTTP page read with `wait=` holds for an event when the feed has none after the cursor, in milliseconds. */
export const DEFAULT_MAX_WAIT_MS = 30_000;
/** The most feedLimits.maxWaitMs may be, and the longest `wait=` a request may ask for (it is held for at most maxWaitMs), in milliseconds. */
export const MAX_LONG_POLL_MS = 300_000;
/** What a vendor refused for holding too many reads or subscriptions is told to wait, in seconds. */
export const FEED_SLOT_RETRY_AFTER_SECONDS = 1;

export const FeedLimitsConfigSchema = z.strictObject({
  concurrentReadsPerKey: z.int().positive().default(DEFAULT_CONCURRENT_READS_PER_KEY),
  followSubscriptionsPerKey: z.int().positive().default(DEFAULT_FOLLOW_SUBSCRIPTIONS_PER_KEY),
  stalledResponseMs: durationSchema({ minMs: 100 }).default(DEFAULT_STALLED_RESPONSE_MS),
  heartbeatMs: durationSchema({ minMs: MIN_HEARTBEAT_MS, maxMs: MAX_HEARTBEAT_MS }).default(DEFAULT_HEARTBEAT_MS),
  // 0 turns long-polls off: every page answers at once.
  maxWaitMs: durationSchema({ minMs: 0, maxMs: MAX_LONG_POLL_MS }).default(DEFAULT_MAX_WAIT_MS),
});
export type FeedLimitsConfig = z.output<typeof FeedLimitsConfigSchema>;

/** One budget per key for both APIs: a key cannot take twice the bound by using HTTP and gRPC. */
export function vendorSlotLimitsOf(limits: FeedLimitsConfig): VendorSlotLimits {
  return { reads: limits.concurrentReadsPerKey, follows: limits.followSubscriptionsPerKey, retryAfterSeconds: FEED_SLOT_RETRY_AFTER_SECONDS };
}
