// The operator side of the relay: the status document and page, Prometheus
// metrics, the operator token, and each vendor's position.
export { AGENT_PROTOCOL_1_PROBLEM, buildRelayStatus, buildVendorOwnStatus, type FeedRetentionStatus, type RelayStatus, type RelayStatusInput, type VendorOwnStatus } from './relay-status.js';
export { renderRelayStatusPage, STATUS_PAGE_REFRESH_SECONDS } from './relay-status-page.js';
export { RelayMetrics, type BatchResult, type RelayBuildInfo } from './relay-metrics.js';
export { registerRelayStatusMetrics } from './relay-status-metrics.js';
export { buildRelayClusterStatus, type RelayClusterInput, type RelayClusterStatus } from './relay-cluster-status.js';
export { OperatorAuth, OPERATOR_CHALLENGE } from './operator-auth.js';
export { buildVendorStatus, statusCursors, UNNAMED_CONSUMER_LABEL, UNREAD_COUNT_CAP, type UnreadEvents, type VendorCursorState, type VendorFeedStatus, type VendorStatus, type VendorStatusInput } from './vendor-status.js';
