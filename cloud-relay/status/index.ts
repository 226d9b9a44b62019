// The relay's operator side (status, metrics, status page, operator and vendor status):
// what others may use.
export { RelayMetrics } from './relay-metrics.js';
export { buildRelayStatus, buildVendorOwnStatus, type RelayStatus, type VendorOwnStatus } from './relay-status.js';
export { renderRelayStatusPage } from './relay-status-page.js';
export { OperatorAuth, OPERATOR_CHALLENGE } from './operator-auth.js';
export { registerRelayStatusMetrics } from './relay-status-metrics.js';
export { buildVendorStatus, UNREAD_COUNT_CAP } from './vendor-status.js';
