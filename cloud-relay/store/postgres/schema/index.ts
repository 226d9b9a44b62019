// The PostgreSQL schema's migrations, one file per version; pg-schema.ts lists them in order.
export { FEEDS_SCHEMA } from './v1-feeds.js';
export { INBOUND_SCHEMA } from './v2-inbound.js';
export { BLOBS_SCHEMA } from './v3-blobs.js';
export { ENROLMENT_SCHEMA } from './v4-enrolment.js';
export { PROCESSES_SCHEMA } from './v5-processes.js';
export { SINKS_SCHEMA } from './v6-sinks.js';
export { SIGNING_KEY_SCHEMA } from './v7-signing-key.js';
export { RETENTION_SCHEMA } from './v8-retention.js';
export { CONSUMERS_SCHEMA } from './v9-consumers.js';
