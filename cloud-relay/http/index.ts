// The relay's HTTP side (vendor feed reads, status page, operator endpoints): what the
// composition root and the public surface may use.
export { createFeedHttpHandler, HIGH_WATER_HEADER, HOSPITAL_HEADER, NEXT_AFTER_HEADER } from './feed-http.js';
