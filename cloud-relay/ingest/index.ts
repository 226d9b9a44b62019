// Ingest: agents' Replicate streams (Hello, batches, feed control) into the feed store,
// and the downlink's inbound events and receipts on the same streams.
export { ReplicationService, peerHost, DEFAULT_INBOUND_BACKLOG_INTERVAL_MS, type HospitalInbound, type ReplicationServiceOptions } from './replication-service.js';
export { MAX_INBOUND_WINDOW_EVENTS, MAX_INBOUND_WINDOW_BYTES, MAX_DECLARED_TTL_MS, declaredInboundChannels, type InboundWindowStatus } from './inbound-handler.js';
export { emptyReceiptCounts, type ReceiptCounts } from './inbound-receipt-counts.js';
export { ReplicationSession, MAX_QUEUED_MESSAGES, RESUME_QUEUED_MESSAGES, type ConnectedAgent, type ReplicationSessionDeps, type SessionState } from './replication-session.js';
export { HospitalAuth, type AgentAuthentication, type HospitalAuthOptions } from './hospital-auth.js';
export { MAX_REVOKE_REASON_CHARS } from './feed-control-handler.js';
