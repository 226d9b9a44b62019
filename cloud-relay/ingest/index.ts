// Ingest: agents' Replicate streams (Hello, batches, feed control) into the feed store.
export { ReplicationService, peerHost, type ReplicationServiceOptions } from './replication-service.js';
export { ReplicationSession, MAX_QUEUED_MESSAGES, RESUME_QUEUED_MESSAGES, type ConnectedAgent, type ReplicationSessionDeps, type SessionState } from './replication-session.js';
export { HospitalAuth, type AgentAuthentication, type HospitalAuthOptions } from './hospital-auth.js';
export { MAX_REVOKE_REASON_CHARS } from './feed-control-handler.js';
