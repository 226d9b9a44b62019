export { openAgentDatabase, type SqliteDatabase } from './agent-database.js';
export { Journal, type JournalOptions, type JournalRange, type ReadLimits } from './journal.js';
export { LocalCopy, type LocalRecord } from './local-copy.js';
export { FeedAcks } from './feed-acks.js';
export type { AdmissionCheck, AppendRequest, AppendResult, EventInput, JournalWriter } from './append-request.js';
