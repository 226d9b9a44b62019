export { RetentionConfig, DEFAULT_RETENTION_SWEEP_INTERVAL_MS } from './retention-config.js';
export type { RetentionLimits } from './retention-config.js';
export { retentionLimitsFor, retentionRuleFor } from './retention-policy.js';
export { FIRST_RETENTION_SWEEP_DELAY_MS, RetentionSweeper, type FeedSweepRecord, type RetentionSweepStatus, type RetentionSweeperOptions, type SweepOutcome } from './retention-sweeper.js';
