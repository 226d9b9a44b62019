// The relay's state on PostgreSQL: the connection every store kept there shares,
// the schema and its migration runner, and the PostgreSQL implementations of the
// relay's store ports.
export { RelayDatabase, isConnectionError, redactUrl, DEFAULT_PROBE_INTERVAL_MS, type DatabaseClient, type RelayDatabaseOptions } from './relay-database.js';
export { migratePostgres, MIGRATION_LOCK_KEY, type PgMigration } from './pg-migrations.js';
export { PG_MIGRATIONS, PG_SCHEMA_VERSION } from './pg-schema.js';
export { FEED_DOORBELL_CHANNEL, feedDoorbellPayload, parseFeedDoorbell, type FeedMark } from './feed-doorbell.js';
export { PostgresFeedStore, type PostgresFeedStoreOptions } from './postgres-feed-store.js';
export { PostgresBlobStore, BLOB_HOSPITAL_LOCK, BLOB_CHUNK_LOCK, BLOB_READ_SLICE_BYTES, type PostgresBlobStoreOptions } from './postgres-blob-store.js';
export { postgresStoreUrl } from './store-url.js';
export { PgSinkCursorStore, type PgSinkCursorStoreOptions } from './pg-sink-cursor-store.js';
export { migrateStoreToPostgres, relayChunkFillers, DEFAULT_COPY_BATCH_ROWS, type StoreMigrationOptions, type StoreMigrationProgress, type StoreMigrationResult } from './store-migration.js';
export { digestSqlite, digestPostgres, digestDifferences, formatDigest, type TableDigest } from './store-digest.js';
export { planStoreCopy, type StoreCopyPlan, type TableCopy } from './store-copy-plan.js';
export { FeedDoorbellListener, LISTEN_BACKOFF_MS, LISTEN_BACKOFF_MAX_MS, type DoorbellFigures, type DoorbellState, type FeedDoorbellListenerOptions, type FeedMarkSink } from './feed-doorbell-listener.js';
export { PgProcessRegistry, GONE_PROCESS_PURGE_TIMEOUTS, type PgProcessRegistryOptions } from './pg-process-registry.js';
export { PgVendorCursorStore } from './pg-vendor-cursor-store.js';
export { agreeOnSigningKey } from './shared-signing-key.js';
