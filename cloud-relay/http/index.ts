// The relay's HTTP API: feed NDJSON pages and named consumers, imaging instances, status, metrics, health, enrolment.
export {
  createFeedHttpHandler,
  HIGH_WATER_HEADER,
  NEXT_AFTER_HEADER,
  HOSPITAL_HEADER,
  RETENTION_FLOOR_HEADER,
  FEED_EVENT_SCHEMA_PATH,
  PAGE_CHUNK_EVENTS,
  PAGE_CHUNK_BYTES,
  OPERATOR_PURGE_PATH,
  type FeedHttpOptions,
} from './feed-http.js';
export { DICOM_CONTENT_TYPE, IMAGING_SEQ_HEADER, type ImagingListing, type ImagingListingEntry } from './imaging-routes.js';
export { HttpConfigSchema, resolveHttpPaths, DEFAULT_HTTP_LISTEN, type HttpConfig } from './http-config.js';
export {
  createInboundRoutes,
  contentTypeOf,
  type InboundRoutes,
  type InboundRouteOptions,
} from './inbound-routes.js';
