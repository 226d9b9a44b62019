// The operator side of the agent (status, metrics, alerts, dashboard): what the
// composition root, the HTTP routes and the CLI may use. Data-path parts never import
// this folder (checked by .dependency-cruiser.cjs).
export { createOperations } from './operations.js';
export { createStatusProvider, toMetricsSnapshot, type AgentStatus, type DiskStatus, type FeedStatus, type SourceStatus } from './agent-status.js';
export { createAgentMetrics, type AgentMetricsSnapshot } from './metrics/index.js';
export { feedLagExceeded, type AlertsStatus } from './alerts/index.js';
