// The relay's `grpc:` config section: where agents replicate and vendors
// subscribe, the batch size announced in Welcome, keepalive, and the bounds on
// streams that have not said Hello yet. Schema, defaults and the conversion to
// the options of the parts that use it sit together here.
import { z } from 'zod';
import { DEFAULT_MAX_BATCH_BYTES, DEFAULT_RELAY_GRPC_PORT, MAX_UNCOMPRESSED_BYTES } from '../../protocol/index.js';
import { durationSchema, hostPortSchema, type ListenAddress } from '../../runtime/index.js';

/** Where agents connect (Replication) and vendors subscribe (Feeds). */
export const DEFAULT_GRPC_LISTEN = `0.0.0.0:${DEFAULT_RELAY_GRPC_PORT}`;
/**
 * Agents ping every few seconds to detect a dead line quickly (DESIGN invariant 3);
 * pings closer together than this are treated as abuse by ping-enforcing servers.
 */
export const DEFAULT_MIN_PING_INTERVAL_MS = 5_000;
/** The relay pings an idle agent connection this often, to notice agents that vanished. */
export const DEFAULT_PING_INTERVAL_MS = 20_000;
/** An unanswered relay ping closes the connection after this long. */
export const DEFAULT_PING_TIMEOUT_MS = 10_000;
/** The largest maxBatchBytes accepted: what the batch codec would inflate anyway. */
export const MAX_MAX_BATCH_BYTES = MAX_UNCOMPRESSED_BYTES;
/**
 * A Replicate stream that has not sent a valid Hello this long after opening is
 * closed (DEADLINE_EXCEEDED), in milliseconds. Agents send Hello at once.
 */
export const DEFAULT_HELLO_TIMEOUT_MS = 5_000;
/** Replicate streams one peer address may hold open before they say Hello; more are refused (RESOURCE_EXHAUSTED). */
export const DEFAULT_MAX_UNAUTHENTICATED_STREAMS_PER_PEER = 32;

const Keepalive = z.strictObject({
  /** Accept agent keepalive pings even when no call is open (agents ping between streams). */
  permitWithoutCalls: z.boolean().default(true),
  /** The shortest ping interval agents may use, in milliseconds. */
  minPingIntervalMs: durationSchema().default(DEFAULT_MIN_PING_INTERVAL_MS),
  /** How often the relay pings an agent connection, in milliseconds. */
  pingIntervalMs: durationSchema().default(DEFAULT_PING_INTERVAL_MS),
  /** How long the relay waits for a ping answer before closing the connection, in milliseconds. */
  pingTimeoutMs: durationSchema().default(DEFAULT_PING_TIMEOUT_MS),
});

export const GrpcConfigSchema = z.strictObject({
  listen: hostPortSchema().prefault(DEFAULT_GRPC_LISTEN),
  /** The largest compressed Batch.payload accepted, in bytes (announced to agents in Welcome). */
  maxBatchBytes: z.int().min(1024).max(MAX_MAX_BATCH_BYTES).default(DEFAULT_MAX_BATCH_BYTES),
  keepalive: Keepalive.prefault({}),
  /** How long a Replicate stream may stay open without a valid Hello, in milliseconds. */
  helloTimeoutMs: durationSchema({ minMs: 100, maxMs: 600_000 }).default(DEFAULT_HELLO_TIMEOUT_MS),
  /** Replicate streams from one peer address that may wait for Hello at once (behind a proxy: all agents share its address). */
  maxUnauthenticatedStreamsPerPeer: z.int().positive().default(DEFAULT_MAX_UNAUTHENTICATED_STREAMS_PER_PEER),
});
export type GrpcConfig = z.output<typeof GrpcConfigSchema>;

/** What the gRPC server itself needs: where to listen, the message bound and keepalive. */
export interface GrpcServerConfig {
  listen: ListenAddress;
  /** The largest compressed Batch.payload accepted, in bytes. */
  maxBatchBytes: number;
  keepalive: GrpcConfig['keepalive'];
}

/** The gRPC server's part of the section. */
export function grpcServerConfigOf(grpc: GrpcConfig): GrpcServerConfig {
  return { listen: grpc.listen, maxBatchBytes: grpc.maxBatchBytes, keepalive: grpc.keepalive };
}

/** What the Replication service takes from the section: the batch bound and the Hello bounds. */
export function replicationLimitsOf(grpc: GrpcConfig): { maxBatchBytes: number; helloTimeoutMs: number; maxUnauthenticatedStreamsPerPeer: number } {
  return { maxBatchBytes: grpc.maxBatchBytes, helloTimeoutMs: grpc.helloTimeoutMs, maxUnauthenticatedStreamsPerPeer: grpc.maxUnauthenticatedStreamsPerPeer };
}
