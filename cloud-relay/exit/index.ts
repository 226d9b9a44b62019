// The hospital's exit at the relay: export, purge.
// --- Purge ---
export { FeedPurger, type FeedPurgerDeps, type PurgeRequest, type PurgeResult } from './feed-purge.js';
export { PURGE_RECEIPT_FORMAT, canonicalJson, combinedErasure, receiptTrustedComment, signPurgeReceipt, type PurgeReceipt, type PurgedFeedEntry, type SignedPurgeReceipt } from './purge-receipt.js';
export { operatorPurge, type OperatorPurgeAnswer, type OperatorPurgeBody } from './operator-purge.js';
