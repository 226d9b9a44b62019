// The published JSON Schemas of what vendors read. Each schema is a file of its
// own (vendors take the file as it is, or GET it from the relay); this module
// hands the same document to the relay that serves it.
import feedEventSchema from './feed-event.schema.json' with { type: 'json' };

/** protocol/schema/feed-event.schema.json: one NDJSON line of GET /v1/feeds/{feed}/events (protocol/vendor-event-json.ts). */
export const FEED_EVENT_SCHEMA: Readonly<Record<string, unknown>> = feedEventSchema;
