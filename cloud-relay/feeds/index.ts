// Feeds: what vendors read — the gRPC Subscribe service, their keys and grants,
// the bounds on their reads, and where each has read up to.
export { FeedSubscribeService, DEFAULT_SUBSCRIBE_PAGE_EVENTS, type FeedSubscribeServiceOptions, type FeedsImplementation, type SubscribeCall } from './feed-subscribe-service.js';
export { FeedConsumerService, type FeedConsumerServiceOptions } from './feed-consumer-service.js';
export { parseSubscribeRequest, MAX_FILTER_ENTRIES, type SubscribePlan, type SubscribeStart, type SubscribeDefaults } from './subscribe-request.js';
export { HeartbeatSchedule, type FeedHeartbeatView } from './feed-heartbeat.js';
export { nextCursor, cursorOutOfRange } from './feed-cursor.js';
export { waitForAdvance } from './feed-advance-wait.js';
export { resolveReadStart, refuseOutOfRange, type ReadStartCursor, type ReadStartParameters } from './read-start.js';
export { ConsumerPositions, CONSUMER_NAME_PATTERN, checkConsumerName, consumerPositionAnswer, type ConsumerPositionAnswer, type ConsumerForgetter, type ConsumerPositionView, type ConsumerPositionsOptions } from './consumer-positions.js';
export { parseFeedQuery, parseHospitalParameter, DEFAULT_FEED_LIMIT, MAX_FEED_LIMIT, type FeedQuery } from './feed-query.js';
export { VendorAuth, type FeedAccess, type InboundAccess } from './vendor-auth.js';
export { VendorReads, compareVendorReads, furthestReadPerKey, vendorReadKey, type FeedApi, type VendorRead } from './vendor-reads.js';
export { VendorCursorSync, DEFAULT_VENDOR_CURSOR_FLUSH_MS, type VendorCursorSyncOptions } from './vendor-cursor-sync.js';
export { VendorSlots, type VendorSlotLimits } from './vendor-slots.js';
export {
  FeedLimitsConfigSchema,
  vendorSlotLimitsOf,
  DEFAULT_CONCURRENT_READS_PER_KEY,
  DEFAULT_FOLLOW_SUBSCRIPTIONS_PER_KEY,
  DEFAULT_STALLED_RESPONSE_MS,
  DEFAULT_HEARTBEAT_MS,
  MIN_HEARTBEAT_MS,
  MAX_HEARTBEAT_MS,
  DEFAULT_MAX_WAIT_MS,
  MAX_LONG_POLL_MS,
  FEED_SLOT_RETRY_AFTER_SECONDS,
  type FeedLimitsConfig,
} from './feed-limits-config.js';
