// The relay's durable store: what others may use. Ingest writes through FeedStore, feeds
// read through it; nothing reaches a sub-store.
export { FeedStore, type FeedPage, type FeedPageExtent, type FeedSize } from './feed-store.js';
export { FeedNotifier } from './feed-notifier.js';
export { migrate } from './migrations.js';
export type { AgentLedgerHead } from './agent-ledger-heads.js';
export type { FeedRevocation } from './feed-revocations.js';
