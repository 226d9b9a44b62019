// Polling source for databases whose change log Wardline cannot read (kind: sql-poll).
export { SqlPollSource } from './sql-poll-source.js';
export { SqlPollSourceConfigSchema, SqlPollTableSchema, type SqlPollSourceConfig } from './sql-poll-source-config.js';
export type { PollDialect, PollConnection, VersionKind, WatermarkRule } from './poll-dialect.js';
