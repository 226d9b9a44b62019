// The relay's configuration: the schema is a value, the type is derived from it.
// Unknown keys are errors (strict objects), so a typo fails at start with the
// key's path and the file instead of being silently ignored.
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_MAX_BATCH_BYTES, DEFAULT_RELAY_GRPC_PORT, DEFAULT_RELAY_HTTP_PORT, MAX_UNCOMPRESSED_BYTES, NAME_PATTERN, NameSchema } from '../protocol/index.js';
import { hostPortSchema, loadConfigFile, validateConfig } from '../runtime/index.js';
import { DEFAULT_SECRET_FILE_PERMISSIONS, SecretFilePermissionsSchema } from '../runtime/index.js';
import { RelayTlsSchema } from './tls/relay-tls-config.js';

/** Used in logs, metrics and Welcome.relay_id when `relayId` is not set. */
export const DEFAULT_RELAY_ID = 'wardline-relay';
/** Where agents connect (Replication) and vendors subscribe (Feeds). */
export const DEFAULT_GRPC_LISTEN = `0.0.0.0:${DEFAULT_RELAY_GRPC_PORT}`;
/** Feed NDJSON API, /v1/status, /metrics, /healthz. */
export const DEFAULT_HTTP_LISTEN = `0.0.0.0:${DEFAULT_RELAY_HTTP_PORT}`;
/**
 * Agents ping every few seconds to detect a dead line quickly (DESIGN invariant 3);
 * pings closer together than this are treated as abuse by ping-enforcing servers.
 */
export const DEFAULT_MIN_PING_INTERVAL_MS = 5_000;
/** The relay pings an idle agent connection this often, to notice agents that vanished. */
export const DEFAULT_PING_INTERVAL_MS = 20_000;
/** An unanswered relay ping closes the connection after this long. */
export const DEFAULT_PING_TIMEOUT_MS = 10_000;
/** Agent secrets and vendor keys shorter than this are refused at start. */
export const MIN_SECRET_LENGTH = 16;
/** The largest maxBatchBytes accepted: what the batch codec would inflate anyway. */
export const MAX_MAX_BATCH_BYTES = MAX_UNCOMPRESSED_BYTES;

/**
 * A Replicate stream that has not sent a valid Hello this long after opening is
 * closed (DEADLINE_EXCEEDED), in milliseconds. Agents send Hello at once.
 */
export const DEFAULT_HELLO_TIMEOUT_MS = 5_000;
/** Replicate streams one peer address may hold open before they say Hello; more are refused (RESOURCE_EXHAUSTED). */
export const DEFAULT_MAX_UNAUTHENTICATED_STREAMS_PER_PEER = 32;

/** Hospital ids, vendor names and feed names (protocol/names.ts). */
export { NAME_PATTERN };

const Name = NameSchema;

const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

const Keepalive = z.strictObject({
  /** Accept agent keepalive pings even when no call is open (agents ping between streams). */
  permitWithoutCalls: z.boolean().default(true),
  /** The shortest ping interval agents may use, in milliseconds. */
  minPingIntervalMs: z.int().positive().default(DEFAULT_MIN_PING_INTERVAL_MS),
  /** How often the relay pings an agent connection, in milliseconds. */
  pingIntervalMs: z.int().positive().default(DEFAULT_PING_INTERVAL_MS),
  /** How long the relay waits for a ping answer before closing the connection, in milliseconds. */
  pingTimeoutMs: z.int().positive().default(DEFAULT_PING_TIMEOUT_MS),
});

const Grpc = z.strictObject({
  listen: hostPortSchema().prefault(DEFAULT_GRPC_LISTEN),
  /** The largest compressed Batch.payload accepted, in bytes (announced to agents in Welcome). */
  maxBatchBytes: z.int().min(1024).max(MAX_MAX_BATCH_BYTES).default(DEFAULT_MAX_BATCH_BYTES),
  keepalive: Keepalive.prefault({}),
  /** How long a Replicate stream may stay open without a valid Hello, in milliseconds. */
  helloTimeoutMs: z.int().min(100).max(600_000).default(DEFAULT_HELLO_TIMEOUT_MS),
  /** Replicate streams from one peer address that may wait for Hello at once (behind a proxy: all agents share its address). */
  maxUnauthenticatedStreamsPerPeer: z.int().positive().default(DEFAULT_MAX_UNAUTHENTICATED_STREAMS_PER_PEER),
});

const Http = z
  .strictObject({
    listen: hostPortSchema().prefault(DEFAULT_HTTP_LISTEN),
    /** A file holding the operator token for /, /v1/status (in full) and /metrics; relative to the config file. */
    operatorTokenFile: z.string().min(1).optional(),
    /** Or the token's SHA-256 digest, 64 hex digits (`printf %s "$TOKEN" | sha256sum`), so the config holds no secret. */
    operatorTokenSha256: z.string().regex(/^[0-9a-fA-F]{64}$/, { error: 'expected the SHA-256 digest of the operator token: 64 hex digits' }).optional(),
  })
  .superRefine((http, ctx) => {
    if (http.operatorTokenFile !== undefined && http.operatorTokenSha256 !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['operatorTokenSha256'], message: 'give operatorTokenFile or operatorTokenSha256, not both' });
    }
  });

/** Page reads (HTTP pages, gRPC replays without follow) one vendor key may have in progress at once. */
export const DEFAULT_CONCURRENT_READS_PER_KEY = 8;
/** gRPC follow subscriptions one vendor key may hold open at once. */
export const DEFAULT_FOLLOW_SUBSCRIPTIONS_PER_KEY = 64;
/** A response (or gRPC write) whose client reads nothing for this long is cut, in milliseconds. */
export const DEFAULT_STALLED_RESPONSE_MS = 30_000;

const FeedLimits = z.strictObject({
  concurrentReadsPerKey: z.int().positive().default(DEFAULT_CONCURRENT_READS_PER_KEY),
  followSubscriptionsPerKey: z.int().positive().default(DEFAULT_FOLLOW_SUBSCRIPTIONS_PER_KEY),
  stalledResponseMs: z.int().min(100).default(DEFAULT_STALLED_RESPONSE_MS),
});

const Hospital = z
  .strictObject({
    id: Name,
    /** Display name for status pages. */
    name: z.string().min(1).optional(),
    /** The shared secret the hospital's agent presents in Hello. */
    secret: z.string().min(1).optional(),
    /** A file holding the secret (trailing newline ignored); relative to the config file. */
    secretFile: z.string().min(1).optional(),
  })
  .superRefine((hospital, ctx) => {
    // The issue points at secretFile when both are set so the error echoes the
    // path, never the secret itself. Neither is checked at the top level: with
    // mutual TLS the hospital's client certificate may replace the secret.
    if (hospital.secret !== undefined && hospital.secretFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['secretFile'], message: 'give secret or secretFile, not both' });
    }
  });

const Grant = z.strictObject({
  /** A hospital id from `hospitals[]`. */
  hospital: Name,
  /** Feed names the vendor may read at that hospital. */
  feeds: z.array(Name).min(1),
});

const Vendor = z
  .strictObject({
    name: Name,
    /** The vendor's API key, presented as `Authorization: Bearer <key>`. */
    key: z.string().min(1).optional(),
    /** A file holding the key (trailing newline ignored); relative to the config file. */
    keyFile: z.string().min(1).optional(),
    grants: z.array(Grant).default([]),
  })
  .superRefine((vendor, ctx) => {
    if (vendor.key === undefined && vendor.keyFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['key'], message: 'expected key or keyFile' });
    } else if (vendor.key !== undefined && vendor.keyFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['keyFile'], message: 'give key or keyFile, not both' });
    }
  });

export const RelayConfig = z
  .strictObject({
    relayId: Name.default(DEFAULT_RELAY_ID),
    /** Directory for the relay's SQLite database (`relay.db`); relative to the config file. */
    dataDir: z.string().min(1),
    grpc: Grpc.prefault({}),
    http: Http.prefault({}),
    /** TLS for both endpoints (HTTPS for http), and mutual TLS for agents with tls.clientCaFile. */
    tls: RelayTlsSchema.optional(),
    /** Run both endpoints without TLS. For local development only: patient data would cross the network in clear. */
    allowPlaintext: z.boolean().default(false),
    hospitals: z.array(Hospital).default([]),
    vendors: z.array(Vendor).default([]),
    /** Agent enrolment (POST /v1/enrol with a one-time token from `wardline relay enrol-token`): the CA directory that signs hospital client certificates; absent = enrolment off. */
    enrolment: z.strictObject({ caDir: z.string().min(1) }).optional(),
    log: z.strictObject({ level: LogLevel.default('info') }).prefault({}),
    /** A secret file (hospitals[].secretFile, vendors[].keyFile, tls.keyFile, the enrolment CA key) others can read: refuse to start, or warn. */
    secretFilePermissions: SecretFilePermissionsSchema.default(DEFAULT_SECRET_FILE_PERMISSIONS),
    /** Per vendor key bounds on feed reads and subscriptions, and the stalled-response cut. */
    feedLimits: FeedLimits.prefault({}),
  })
  .superRefine((config, ctx) => {
    // Plaintext is never the silent default: a relay without tls starts only when told it may.
    if (config.tls === undefined && !config.allowPlaintext) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls'],
        message: 'expected tls (certFile and keyFile; `wardline cert` makes development ones), or allowPlaintext: true to run without TLS for local development',
      });
    } else if (config.tls !== undefined && config.allowPlaintext) {
      ctx.addIssue({ code: 'custom', path: ['allowPlaintext'], message: 'remove it: tls is configured, so both endpoints use TLS' });
    }
    const hospitalIds = new Set<string>();
    config.hospitals.forEach((hospital, i) => {
      if (hospitalIds.has(hospital.id)) {
        ctx.addIssue({ code: 'custom', path: ['hospitals', i, 'id'], message: 'duplicate hospital id' });
      }
      hospitalIds.add(hospital.id);
      if (hospital.secret === undefined && hospital.secretFile === undefined && config.tls?.clientCaFile === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['hospitals', i, 'secret'],
          message: 'expected secret or secretFile (or mutual TLS: tls.clientCaFile, so the hospital\'s client certificate identifies its agent)',
        });
      }
    });
    const vendorNames = new Set<string>();
    config.vendors.forEach((vendor, i) => {
      if (vendorNames.has(vendor.name)) {
        ctx.addIssue({ code: 'custom', path: ['vendors', i, 'name'], message: 'duplicate vendor name' });
      }
      vendorNames.add(vendor.name);
      vendor.grants.forEach((grant, j) => {
        if (!hospitalIds.has(grant.hospital)) {
          ctx.addIssue({
            code: 'custom',
            path: ['vendors', i, 'grants', j, 'hospital'],
            message: `expected a hospital id from hospitals[] (${[...hospitalIds].join(', ') || 'none configured'})`,
          });
        }
      });
    });
  });
export type RelayConfig = z.infer<typeof RelayConfig>;
/** The config as written (before defaults), for callers that build one in code. */
export type RelayConfigInput = z.input<typeof RelayConfig>;

/**
 * Reads and validates a relay YAML config. Throws ConfigError naming the key and
 * the file. Relative paths (dataDir, secretFile, keyFile, tls.*File) are resolved against the
 * config file's directory, so the relay behaves the same from any working directory.
 */
export function loadRelayConfig(file: string): RelayConfig {
  return resolveRelativePaths(loadConfigFile(file, RelayConfig), dirname(resolve(file)));
}

/**
 * Validates a config built in code (tests, the demo); `source` names it in errors.
 * Relative paths stay relative to the working directory.
 */
export function parseRelayConfig(value: RelayConfigInput | unknown, source = '(inline relay config)'): RelayConfig {
  return validateConfig(value, source, RelayConfig);
}

function resolveRelativePaths(config: RelayConfig, baseDir: string): RelayConfig {
  const at = (path: string | undefined) => (path === undefined ? undefined : resolve(baseDir, path));
  return {
    ...config,
    dataDir: resolve(baseDir, config.dataDir),
    tls: config.tls && { ...config.tls, certFile: resolve(baseDir, config.tls.certFile), keyFile: resolve(baseDir, config.tls.keyFile), clientCaFile: at(config.tls.clientCaFile) },
    hospitals: config.hospitals.map((h) => ({ ...h, secretFile: at(h.secretFile) })),
    vendors: config.vendors.map((v) => ({ ...v, keyFile: at(v.keyFile) })),
    http: { ...config.http, operatorTokenFile: at(config.http.operatorTokenFile) },
    enrolment: config.enrolment && { caDir: resolve(baseDir, config.enrolment.caDir) },
  };
}
