// The operator side of the agent (status, metrics, alerts, dashboard): what the CLI
// reads through agent/index.ts. Data-path parts never import this folder (checked by
// .dependency-cruiser.cjs).
export type { AgentStatus, DiskStatus, FeedStatus } from './agent-status.js';
export { feedLagExceeded, type AlertsStatus } from './alerts/index.js';
