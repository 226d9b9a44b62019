// Replication to the relay: what others may use. The composition root builds the
// transport and the replicator; feed control speaks through the RelayTransport port's
// control messages; status reads the replicator's and the feed window's state.
export { Replicator, type ReplicatorStatus } from './replicator.js';
export { GrpcRelayTransport } from './grpc-relay-transport.js';
export type { FeedControlAnswer, FeedControlRequest } from './relay-transport.js';
export type { MarkIncident } from './feed-window.js';
export type { LinkStateMachine } from './link-state.js';
export { RelayLinkTlsSchema, loadRelayLinkTls, type RelayLinkTls } from './relay-link-tls.js';
export { DEFAULT_BACKOFF_INITIAL_MS, DEFAULT_BACKOFF_JITTER, DEFAULT_BACKOFF_MAX_MS, DEFAULT_BACKOFF_MULTIPLIER } from './backoff.js';
