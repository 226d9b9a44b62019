// Replication to the relay: what others may use. The composition root builds the
// transport and the replicator; feed control speaks through the RelayTransport port's
// control messages; status reads the replicator's and the feed window's state.
export { Replicator, OLDER_RELAY_RETRY_MS, inboundUnavailableMessage, purgeUnsupportedMessage, type InboundLinkStatus, type ReplicatorStatus } from './replicator.js';
export { GrpcRelayTransport } from './grpc-relay-transport.js';
export type { FeedControlAnswer, FeedControlRequest, InboundBacklogEntry, InboundChannel, OutgoingReceipt, ReceiptAckInfo, RelaySession } from './relay-transport.js';
export { InboundIntakeError, InboundReceiptRefusedError, RelayProtocolTooOldError } from './errors.js';
export type { MarkIncident } from './feed-window.js';
export { ADAPTIVE_LEVELS, CompressionGovernor, type CompressionChoice, type CompressionLevelSetting } from './compression-governor.js';
export type { FeedBlockedKind } from './feed-pump.js';
export type { BackupSealer } from './feed-pump.js';
export { feedBlockedKind } from './feed-blocked-kind.js';
export { LINK_ERROR_KINDS, linkErrorKind, type LinkErrorKind } from './link-error-kind.js';
export { LINK_STATES, type LinkStateMachine } from './link-state.js';
export { RelayLinkTlsSchema, loadRelayLinkTls, type RelayLinkTls } from './relay-link-tls.js';
export { DEFAULT_BACKOFF_INITIAL_MS, DEFAULT_BACKOFF_JITTER, DEFAULT_BACKOFF_MAX_MS, DEFAULT_BACKOFF_MULTIPLIER } from './backoff.js';
export { RelayConfigSchema, ReplicationConfigSchema, loadRelayCredentials, DEFAULT_ACK_PERSIST_INTERVAL_MS, DEFAULT_ACK_TIMEOUT_MS, DEFAULT_BATCH_MAX_BYTES, DEFAULT_BATCH_MAX_EVENTS, DEFAULT_BATCH_MAX_SCAN, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_EMPTY_BATCH_INTERVAL_MS, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_KEEPALIVE_TIME_MS, DEFAULT_KEEPALIVE_TIMEOUT_MS, DEFAULT_MAX_IN_FLIGHT_BATCHES } from './replication-config.js';
export { relayTransportOptions, replicatorTuning } from './replication-config.js';
export { VendorPositions, type VendorPosition } from './vendor-positions.js';
export type { VendorReadPosition } from './relay-transport.js';
export { FeedProofStore, type IntegrityIncident, type ProofWindow } from './feed-proof-store.js';
export type { FeedProofStatus } from './feed-prover.js';
export type { LeafFault, FaultKind } from './fault-locator.js';
export { ProofConfigSchema, DEFAULT_PROOF_WINDOW_SEQS, DEFAULT_PROOF_WINDOW_MS, DEFAULT_PROOF_RECHECK_INTERVAL_MS, DEFAULT_PROOF_RECHECK_WINDOWS, type ProofConfig } from './proof-config.js';
