export { openAgentDatabase, type SqliteDatabase } from './agent-database.js';
export { JournalTrimmedError, SchemaTooNewError } from './errors.js';
export { Journal, type JournalOptions, type JournalRange, type ReadLimits, type StreamTally } from './journal.js';
export { SPARSE_FEED_DENSITY, type RangePlan, type RangePlanChoice } from './journal-range-plan.js';
export { LocalCopy, type LocalRecord } from './local-copy.js';
export { LocalCopyStep } from './local-copy-step.js';
export { FeedAcks } from './feed-acks.js';
export { BacklogCounter, type Backlog, type FeedFlowTotals } from './backlog-counter.js';
export { GroupCommit, type GroupCommitOptions } from './group-commit.js';
export {
  JournalTrimmer,
  trimBoundSeq,
  DEFAULT_DEDUPE_RETENTION_MS,
  DEFAULT_JOURNAL_RETENTION_MS,
  DEFAULT_TRIM_CHUNK_ROWS,
  DEFAULT_TRIM_INTERVAL_MS,
  type JournalTrimmerOptions,
  type TrimResult,
  type TrimTotals,
} from './journal-trimmer.js';
export { JournalFootprint, type JournalFootprintFigures } from './journal-footprint.js';
export type { AppendRequest, AppendResult, CaptureWriter, EventInput, JournalWriter, StagedAppend, StagedCommit } from './append-request.js';
export { JournalConfigSchema } from './journal-config.js';
export { journalTrimmerTuning } from './journal-config.js';
export { type AckedAt } from './feed-acks.js';
export { MessageSearch, type MessageQuery, type MessageSummary } from './message-search.js';
export { RejectionLog, DEFAULT_REJECTION_RETENTION_MS, DEFAULT_REJECTIONS_KEPT, type Rejection, type RejectionLogOptions } from './rejection-log.js';
