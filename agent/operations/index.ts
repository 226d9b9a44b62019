// The operator side of the agent: status, metrics, alerts, the dashboard and
// the host they watch. What others may use: the composition root (main.ts)
// builds it with createOperations and assembles the status; agent/http serves
// the dashboard (through ./dashboard/index.js) and the status; the CLI reads
// the status types. No part of the data path imports from here.
export { createOperations, type Operations, type OperationsOptions } from './operations.js';
export { createStatusProvider, toMetricsSnapshot, type AgentStatus, type AgentStatusInputs, type DiskStatus, type FeedControlView, type FeedStatus, type ImagingFeedStatus, type ImagingFeedView } from './agent-status.js';
export { createAgentMetrics, LatencyHistograms, registerWatchMetrics, type AgentBuildInfo, type AgentMetricsSnapshot, type WatchMetricsSources } from './metrics/index.js';
export { feedLagExceeded, lagThresholdSeconds, type AlertsStatus, type WebhookBody } from './alerts/index.js';
export { DashboardAssets, DashboardHub, renderDashboardPage, renderLoginPage } from './dashboard/index.js';
export { HostSampler, SystemInformationHostProbe, type HostProbe, type HostStatus } from './host/index.js';
export { imagingEta, type ImagingEta, type ImagingEtaInput } from './imaging-eta.js';
export { MessageBrowser, type BrowsedFeed, type FeedTrail, type MessageBrowserOptions, type MessageTrail, type VendorReadView } from './message-browser.js';
export { inboundProblem, inboundStatusView, type InboundAtRelay, type InboundChannelView, type InboundLinkView, type InboundStatusView } from './inbound-status.js';
