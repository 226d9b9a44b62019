export { RetentionConfig, DEFAULT_RETENTION_SWEEP_INTERVAL_MS } from './retention-config.js';
export type { RetentionLimits } from './retention-config.js';
export { retentionLimitsFor, retentionRuleFor } from './retention-policy.js';
