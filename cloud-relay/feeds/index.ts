// Feeds: what vendors read — the gRPC Subscribe service, their keys and grants,
// the bounds on their reads, and where each has read up to.
export { FeedSubscribeService, DEFAULT_SUBSCRIBE_PAGE_EVENTS, type FeedSubscribeServiceOptions, type SubscribeCall } from './feed-subscribe-service.js';
export { nextCursor, cursorOutOfRange } from './feed-cursor.js';
export { ConsumerPositions, CONSUMER_NAME_PATTERN, type ConsumerPositionView, type ConsumerPositionsOptions } from './consumer-positions.js';
export { parseFeedQuery, DEFAULT_FEED_LIMIT, MAX_FEED_LIMIT, type FeedQuery } from './feed-query.js';
export { VendorAuth, type FeedAccess, type InboundAccess } from './vendor-auth.js';
export { VendorReads, type FeedApi, type VendorRead } from './vendor-reads.js';
export { VendorCursorSync, DEFAULT_VENDOR_CURSOR_FLUSH_MS, type VendorCursorSyncOptions } from './vendor-cursor-sync.js';
export { VendorSlots, type VendorSlotLimits } from './vendor-slots.js';
export {
  FeedLimitsConfigSchema,
  vendorSlotLimitsOf,
  DEFAULT_CONCURRENT_READS_PER_KEY,
  DEFAULT_FOLLOW_SUBSCRIPTIONS_PER_KEY,
  DEFAULT_STALLED_RESPONSE_MS,
  FEED_SLOT_RETRY_AFTER_SECONDS,
  type FeedLimitsConfig,
} from './feed-limits-config.js';
