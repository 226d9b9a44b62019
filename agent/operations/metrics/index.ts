// The agent's Prometheus metrics, read from the parts at scrape time.
export { createAgentMetrics, type AgentBuildInfo, type AgentMetricsOptions, type AgentMetricsSnapshot } from './agent-metrics.js';
export { ACK_LATENCY_BUCKETS_SECONDS, COMMIT_DURATION_BUCKETS_SECONDS, LatencyHistograms, ROUND_TRIP_BUCKETS_SECONDS } from './latency-histograms.js';
export { registerWatchMetrics, type WatchMetricsSources } from './watch-metrics.js';
export { registerCaptureMetrics } from './capture-metrics.js';
export { registerImagingMetrics } from './imaging-metrics.js';
