// The relay's feed store: the FeedStore port, its SQLite implementation and the
// in-process wake-ups for live tails. The sub-stores (feed-revocations.ts,
// agent-ledger-heads.ts) and the migrations are internals of SqliteFeedStore.
export {
  DEFAULT_PAGE_MAX_BYTES,
  needsEvents,
  type AgentLedgerHead,
  type BatchToStore,
  type Erasure,
  type FeedAdvanceListener,
  type FeedControlRequest,
  type FeedPage,
  type FeedPageExtent,
  type FeedPosition,
  type FeedRevocation,
  type FeedSize,
  type FeedStore,
  type FeedStoreListeners,
  type LedgerHeadInput,
  type ReinstateOutcome,
  type RevokeOutcome,
  type StoreDecision,
  type StoredBatch,
  type UnreadEvents,
} from './feed-store.js';
export { SqliteFeedStore, DEFAULT_BUSY_TIMEOUT_MS, type SqliteFeedStoreOptions } from './sqlite-feed-store.js';
export { FeedNotifier } from './feed-notifier.js';
export { migrate } from './migrations.js';
export { RELAY_DB_FILE, relayDatabaseFile } from './store-config.js';
