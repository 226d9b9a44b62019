// Vendor feeds (reads, subscriptions, cursors, vendor auth and slots): what others may use.
export { FeedSubscribeService } from './feed-subscribe-service.js';
export { DEFAULT_FEED_LIMIT, MAX_FEED_LIMIT, parseFeedQuery } from './feed-query.js';
export { nextCursor } from './feed-cursor.js';
export { VendorAuth } from './vendor-auth.js';
export { VendorReads, type VendorRead } from './vendor-reads.js';
export { VendorSlots } from './vendor-slots.js';
