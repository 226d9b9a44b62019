// The relay's feed store: the FeedStore port, its SQLite implementation and the
// in-process wake-ups for live tails. The sub-stores (feed-revocations.ts,
// agent-ledger-heads.ts) and the migrations are internals of SqliteFeedStore.
// feed-store.ts is the port itself: every name in it is part of the public contract.
export * from './feed-store.js';
export { SqliteFeedStore, DEFAULT_BUSY_TIMEOUT_MS, type SqliteFeedStoreOptions } from './sqlite-feed-store.js';
export { FeedNotifier } from './feed-notifier.js';
export { migrate } from './migrations.js';
export { RELAY_DB_FILE, relayDatabaseFile } from './store-config.js';
export * from './blob-store.js';
export { SqliteBlobStore, relayBlobDir, manifestProblem, type SqliteBlobStoreOptions } from './sqlite-blob-store.js';
export { feedFigures, scanFeed, type FeedFigures, type FeedScan, type ScannedEvent } from './feed-scan.js';
export * from './vendor-cursor-store.js';
export { SqliteVendorCursorStore } from './sqlite-vendor-cursor-store.js';
export { SingleProcessRegistry, newProcessId, newestHolders, processIdentity, type ProcessIdentity, type ProcessRegistry, type RelayProcess, type StreamHolder } from './process-registry.js';
export { StoreConfigSchema, type StoreConfig, type PostgresStoreConfig } from './store-config.js';
