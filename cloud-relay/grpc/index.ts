// gRPC edges of the relay: the one place a RelayError becomes a gRPC status,
// and a write that respects flow control and gives up on a stalled reader.
export { ERROR_CODE_TRAILER, HIGH_WATER_TRAILER, OLDEST_SEQ_TRAILER, RETENTION_FLOOR_TRAILER, grpcCodeFor, toGrpcStatus } from './grpc-status.js';
export { writeMessage } from './grpc-write.js';
export {
  GrpcConfigSchema,
  grpcServerConfigOf,
  replicationLimitsOf,
  DEFAULT_GRPC_LISTEN,
  DEFAULT_MIN_PING_INTERVAL_MS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PING_TIMEOUT_MS,
  DEFAULT_HELLO_TIMEOUT_MS,
  DEFAULT_MAX_UNAUTHENTICATED_STREAMS_PER_PEER,
  MAX_MAX_BATCH_BYTES,
  type GrpcConfig,
  type GrpcServerConfig,
} from './grpc-config.js';
