// The agent's Prometheus metrics, read from the parts at scrape time.
export { createAgentMetrics, type AgentMetricsSnapshot } from './agent-metrics.js';
export { registerWatchMetrics, type WatchMetricsSources } from './watch-metrics.js';
