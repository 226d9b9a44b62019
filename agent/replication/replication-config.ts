// The `relays:` and `replication:` sections of agent.yaml: their schemas, their
// defaults named with their unit, and the conversion to the options of the gRPC
// transport and the replicator, so the composition root hands them on without
// translating. agent/config.ts composes these under the same keys.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CODEC_NAMES, COMPRESSION_LEVEL_RANGE, NameSchema, type CodecName } from '../../protocol/index.js';
import { checkSecretFiles, ConfigError, durationSchema, type SecretFileCheck } from '../../runtime/index.js';
import { ProofConfigSchema } from './proof-config.js';
import { DEFAULT_BACKOFF_INITIAL_MS, DEFAULT_BACKOFF_JITTER, DEFAULT_BACKOFF_MAX_MS, DEFAULT_BACKOFF_MULTIPLIER } from './backoff.js';
import type { GrpcRelayTransportOptions } from './grpc-relay-transport.js';
import { RelayLinkTlsSchema, loadRelayLinkTls, type RelayLinkTls } from './relay-link-tls.js';
import type { ReplicatorOptions } from './replicator.js';

/**
 * Reading and encoding a batch are synchronous steps on the event loop: 1,000
 * small JSON rows keep each under ~20 ms (HL7 ACKs wait behind them), and a
 * backlog drained as fast as with 2,000 (43.8k vs 45.1k events/s, measured).
 */
export const DEFAULT_BATCH_MAX_EVENTS = 1000;
export const DEFAULT_BATCH_MAX_BYTES = 1024 * 1024;
export const DEFAULT_BATCH_MAX_SCAN = 20_000;
export const DEFAULT_MAX_IN_FLIGHT_BATCHES = 4;
export const DEFAULT_ACK_TIMEOUT_MS = 10_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;
export const DEFAULT_KEEPALIVE_TIME_MS = 5_000;
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 5_000;
export const DEFAULT_EMPTY_BATCH_INTERVAL_MS = 1_000;
/** How often a replicator saves the acked seqs locally (not a config key: the relay remains the authority). */
export const DEFAULT_ACK_PERSIST_INTERVAL_MS = 1_000;

/** Room a gRPC message needs beyond its batch body: the envelope, the feed and stream names, the seq ranges. */
const SEND_HEADROOM_BYTES = 64 * 1024;

/**
 * The largest message the agent sends for batches of at most `batchMaxBytes`:
 * twice the body (an incompressible body grows a little under any codec, and
 * one oversized event still goes alone) plus the envelope's headroom.
 */
export function maxSendBytesFor(batchMaxBytes: number): number {
  return batchMaxBytes * 2 + SEND_HEADROOM_BYTES;
}

export const RelayConfigSchema = z
  .strictObject({
    name: NameSchema,
    /** host:port of the relay's gRPC endpoint. */
    address: z.string().min(3),
    /** The hospital's shared secret; optional with mutual TLS (tls.certFile), where the certificate identifies the hospital. */
    secret: z.string().min(1).optional(),
    secretFile: z.string().min(1).optional(),
    /** TLS to the relay (relay CA, and the hospital's client certificate for mutual TLS). Required unless allowPlaintext. */
    tls: RelayLinkTlsSchema.optional(),
    /** Connect without TLS: local development only, patient data would cross the network in clear. */
    allowPlaintext: z.boolean().default(false),
    connectTimeoutMs: durationSchema().default(DEFAULT_CONNECT_TIMEOUT_MS),
    handshakeTimeoutMs: durationSchema().default(DEFAULT_HANDSHAKE_TIMEOUT_MS),
    keepaliveTimeMs: durationSchema().default(DEFAULT_KEEPALIVE_TIME_MS),
    keepaliveTimeoutMs: durationSchema().default(DEFAULT_KEEPALIVE_TIMEOUT_MS),
  })
  .superRefine((r, ctx) => {
    if (r.secret !== undefined && r.secretFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['secretFile'], message: 'give secret or secretFile, not both' });
    } else if (r.secret === undefined && r.secretFile === undefined && r.tls?.certFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: 'expected secret or secretFile (or tls.certFile and tls.keyFile: with mutual TLS the client certificate replaces the secret)' });
    }
    // Plaintext is never the silent default: a relay link without tls must say it may.
    if (r.tls === undefined && !r.allowPlaintext) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls'],
        message: 'expected tls (caFile for the relay\'s CA; certFile and keyFile for mutual TLS), or allowPlaintext: true to connect without TLS for local development',
      });
    } else if (r.tls !== undefined && r.allowPlaintext) {
      ctx.addIssue({ code: 'custom', path: ['allowPlaintext'], message: 'remove it: tls is configured, so the link uses TLS' });
    }
  });

export const ReplicationConfigSchema = z.strictObject({
  codec: z.enum(CODEC_NAMES as [CodecName, ...CodecName[]]).default('brotli'),
  /** The codec's level, or adaptive: lighter while the CPU is scarce, harder while the line is (compression-governor.ts). */
  compressionLevel: z.union([z.literal('adaptive'), z.number().int().min(0)], { error: 'expected "adaptive" or a whole number (brotli 0–11, gzip and deflate 1–9)' }).default('adaptive'),
  batchMaxEvents: z.number().int().positive().default(DEFAULT_BATCH_MAX_EVENTS),
  batchMaxBytes: z.number().int().positive().default(DEFAULT_BATCH_MAX_BYTES),
  batchMaxScan: z.number().int().positive().default(DEFAULT_BATCH_MAX_SCAN),
  maxInFlightBatches: z.number().int().positive().default(DEFAULT_MAX_IN_FLIGHT_BATCHES),
  ackTimeoutMs: durationSchema().default(DEFAULT_ACK_TIMEOUT_MS),
  emptyBatchIntervalMs: durationSchema().default(DEFAULT_EMPTY_BATCH_INTERVAL_MS),
  backoff: z
    .strictObject({
      initialMs: durationSchema().default(DEFAULT_BACKOFF_INITIAL_MS),
      maxMs: durationSchema().default(DEFAULT_BACKOFF_MAX_MS),
      multiplier: z.number().min(1).default(DEFAULT_BACKOFF_MULTIPLIER),
      jitter: z.number().min(0).max(1).default(DEFAULT_BACKOFF_JITTER),
    })
    .prefault({}),
  /** Completeness proofs (proof-config.ts). */
  proofs: ProofConfigSchema.prefault({}),
}).superRefine((r, ctx) => {
  if (r.compressionLevel === 'adaptive') return;
  const { min, max } = COMPRESSION_LEVEL_RANGE[r.codec];
  if (r.codec === 'none') {
    ctx.addIssue({ code: 'custom', path: ['compressionLevel'], message: 'codec none takes no level (it does not compress)' });
  } else if (r.compressionLevel < min || r.compressionLevel > max) {
    ctx.addIssue({ code: 'custom', path: ['compressionLevel'], message: `${r.codec} takes levels ${min}–${max}` });
  }
});

export type RelayConfig = z.output<typeof RelayConfigSchema>;
export type ReplicationConfig = z.output<typeof ReplicationConfigSchema>;

/** What each relay link needs read from files: the secret sent in Hello and the TLS material. */
export interface RelayCredentials {
  /** Relay name -> the secret sent in Hello ("" when mutual TLS replaces it). */
  relaySecrets: Map<string, string>;
  /** Relay name -> its TLS material, read; absent for a relay with allowPlaintext. */
  relayTls: Map<string, RelayLinkTls>;
}

/** Reads every relay's secretFile and TLS files (`at` resolves a path against the config file); throws ConfigError naming the key. */
export function loadRelayCredentials(relays: readonly RelayConfig[], at: (path: string) => string, file: string, secrets: SecretFileCheck): RelayCredentials {
  const relaySecrets = new Map<string, string>();
  const relayTls = new Map<string, RelayLinkTls>();
  relays.forEach((relay, i) => {
    if (relay.tls) relayTls.set(relay.name, loadRelayLinkTls(relay.tls, `relays[${i}].tls`, file, at, secrets));
    if (relay.secret !== undefined) relaySecrets.set(relay.name, relay.secret);
    else if (relay.secretFile === undefined) relaySecrets.set(relay.name, '');
    else {
      checkSecretFiles(secrets, [[at(relay.secretFile), `relays[${i}].secretFile`]], file);
      try {
        relaySecrets.set(relay.name, readFileSync(at(relay.secretFile), 'utf8').trim());
      } catch (cause) {
        const problem = `relays[${i}].secretFile: cannot read ${at(relay.secretFile)}: ${(cause as Error).message} (${file})`;
        throw new ConfigError(`invalid config:\n  ${problem}`, file, [problem], { cause });
      }
    }
  });
  return { relaySecrets, relayTls };
}

/** The gRPC transport's options for relays[`index`], its TLS material already read (undefined with allowPlaintext). */
export function relayTransportOptions(relay: RelayConfig, index: number, replication: ReplicationConfig, tls: RelayLinkTls | undefined): GrpcRelayTransportOptions {
  return {
    address: relay.address,
    connectTimeoutMs: relay.connectTimeoutMs,
    handshakeTimeoutMs: relay.handshakeTimeoutMs,
    keepaliveTimeMs: relay.keepaliveTimeMs,
    keepaliveTimeoutMs: relay.keepaliveTimeoutMs,
    maxSendBytes: maxSendBytesFor(replication.batchMaxBytes),
    tls,
    configKey: `relays[${index}]`,
  };
}

/** The part of a replicator's options the `replication:` section decides, the same for every relay. */
export type ReplicatorTuning = Pick<ReplicatorOptions, 'codec' | 'compressionLevel' | 'limits' | 'maxInFlight' | 'ackTimeoutMs' | 'emptyBatchIntervalMs' | 'ackPersistIntervalMs' | 'backoff'>;

export function replicatorTuning(replication: ReplicationConfig): ReplicatorTuning {
  return {
    codec: replication.codec,
    compressionLevel: replication.compressionLevel,
    limits: {
      maxEvents: replication.batchMaxEvents,
      maxBytes: replication.batchMaxBytes,
      maxScan: replication.batchMaxScan,
    },
    maxInFlight: replication.maxInFlightBatches,
    ackTimeoutMs: replication.ackTimeoutMs,
    emptyBatchIntervalMs: replication.emptyBatchIntervalMs,
    ackPersistIntervalMs: DEFAULT_ACK_PERSIST_INTERVAL_MS,
    backoff: replication.backoff,
  };
}
