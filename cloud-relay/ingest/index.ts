// Replication ingest (the agent-facing gRPC service, one session per stream, hospital
// auth): what the composition root and status may use.
export { ReplicationService } from './replication-service.js';
export { HospitalAuth } from './hospital-auth.js';
export type { ConnectedAgent } from './replication-session.js';
