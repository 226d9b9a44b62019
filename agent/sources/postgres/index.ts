// PostgreSQL logical replication source (kind: postgres).
export { PostgresSource } from './postgres-source.js';
export { readSlotHealth, WalBudgetForecast, type SlotHealth } from './postgres-slot-health.js';
export { PostgresSourceConfigSchema, postgresSlotNames, type PostgresSourceConfig } from './postgres-source-config.js';
export { decodePosition, type PostgresPosition } from './postgres-position.js';
export { formatLsn, parseLsn } from './postgres-lsn.js';
export { clientConfig as postgresClientConfig } from './postgres-connection.js';
