// The Replicator options a test on a real or fake relay does not care about:
// no compression, small batches, short timers, a silent log. A test spreads it
// and names what it does care about (transport, journal, feeds, downlink…).
import pino from 'pino';
import { GrpcRelayTransport } from '../../agent/replication/index.js';

export const REPLICATOR_TEST_TUNING = {
  codec: 'none' as const,
  limits: { maxEvents: 100, maxBytes: 1 << 20, maxScan: 10_000 },
  maxInFlight: 4,
  ackTimeoutMs: 5_000,
  emptyBatchIntervalMs: 500,
  ackPersistIntervalMs: 500,
  backoff: { initialMs: 50, maxMs: 300, multiplier: 2, jitter: 0 },
  log: pino({ level: 'silent' }),
};

/** A plaintext gRPC transport to `address` with timeouts in seconds, not minutes. */
export function grpcTestTransport(address: string): GrpcRelayTransport {
  return new GrpcRelayTransport({ address, connectTimeoutMs: 2_000, handshakeTimeoutMs: 2_000, keepaliveTimeMs: 2_000, keepaliveTimeoutMs: 1_000, maxSendBytes: 4 << 20, tls: undefined });
}
