// The cloud relay's public surface: what the CLI, the demo and tests may use.
export { startRelay, RELAY_DB_FILE, type RelayHandle, type StartRelayOptions } from './main.js';
export {
  RelayConfig,
  loadRelayConfig,
  parseRelayConfig,
  type RelayConfigInput,
  DEFAULT_RELAY_ID,
  DEFAULT_GRPC_LISTEN,
  DEFAULT_HTTP_LISTEN,
  DEFAULT_MIN_PING_INTERVAL_MS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PING_TIMEOUT_MS,
  DEFAULT_HELLO_TIMEOUT_MS,
  DEFAULT_MAX_UNAUTHENTICATED_STREAMS_PER_PEER,
  MIN_SECRET_LENGTH,
} from './config.js';
export { RelayServer, DEFAULT_SHUTDOWN_GRACE_MS, type RelayPorts, type RelayServerOptions } from './relay-server.js';
export type { RelayStatus } from './status/relay-status.js';
export type { ConnectedAgent } from './ingest/replication-session.js';
export { decideBatch, type BatchDecision } from '../protocol/index.js';
export { DEFAULT_FEED_LIMIT, MAX_FEED_LIMIT } from './feeds/feed-query.js';
export { HIGH_WATER_HEADER, NEXT_AFTER_HEADER, HOSPITAL_HEADER } from './http/feed-http.js';
export { ERROR_CODE_TRAILER } from './grpc/grpc-status.js';
export * from './errors.js';
export * from './tls/index.js';
