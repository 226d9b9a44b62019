// Prometheus metrics for the agent: what others may use.
export { createAgentMetrics, type AgentMetricsSnapshot } from './agent-metrics.js';
export { registerOperationsMetrics } from './operations-metrics.js';
