// The relay's configuration: the schema is a value, the type is derived from it.
// Unknown keys are errors (strict objects), so a typo fails at start with the
// key's path and the file instead of being silently ignored.
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { NAME_PATTERN, NameSchema } from '../protocol/index.js';
import { LOG_FORMATS, loadConfigFile, validateConfig } from '../runtime/index.js';
import { DEFAULT_SECRET_FILE_PERMISSIONS, SecretFilePermissionsSchema } from '../runtime/index.js';
import { EnrolmentConfigSchema } from './enrolment/index.js';
import { FeedLimitsConfigSchema } from './feeds/index.js';
import { RetentionConfig } from './retention/index.js';
import { GrpcConfigSchema } from './grpc/index.js';
import { HttpConfigSchema, resolveHttpPaths } from './http/index.js';
import { InboundConfigSchema } from './inbound/index.js';
import { StoreConfigSchema } from './store/index.js';
import { resolveSinkPaths, SinksConfigSchema } from './sinks/index.js';
import { RelayTlsSchema } from './tls/index.js';

// Each part's section (schema, defaults, conversion to its options) sits beside the part;
// its defaults are exported from the part's index.

/** Used in logs, metrics and Welcome.relay_id when `relayId` is not set. */
export const DEFAULT_RELAY_ID = 'wardline-relay';
/** Agent secrets and vendor keys shorter than this are refused at start. */
export const MIN_SECRET_LENGTH = 16;

/** Hospital ids, vendor names and feed names (protocol/names.ts). */
export { NAME_PATTERN };

const Name = NameSchema;

const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

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
  feeds: z.array(Name).default([]),
  /** Inbound channels the vendor may write to at that hospital (POST …/inbound/{channel}) and read the receipts of. */
  inbound: z.array(Name).default([]),
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
    /** Where feeds, positions, cursors, inbound events and blobs are kept: relay.db in dataDir (default) or a PostgreSQL database several relay processes share. */
    store: StoreConfigSchema.default({ kind: 'sqlite' }),
    grpc: GrpcConfigSchema.prefault({}),
    http: HttpConfigSchema.prefault({}),
    /** TLS for both endpoints (HTTPS for http), and mutual TLS for agents with tls.clientCaFile. */
    tls: RelayTlsSchema.optional(),
    /** Run both endpoints without TLS. For local development only: patient data would cross the network in clear. */
    allowPlaintext: z.boolean().default(false),
    hospitals: z.array(Hospital).default([]),
    vendors: z.array(Vendor).default([]),
    /** Agent enrolment (POST /v1/enrol with a one-time token from `wardline relay enrol-token`): the CA directory that signs hospital client certificates; absent = enrolment off. */
    enrolment: EnrolmentConfigSchema.optional(),
    /** format: `text` (journald, syslog priority prefixes) or `json`; absent = text when stdout is journald's stream (JOURNAL_STREAM), else json. */
    log: z.strictObject({ level: LogLevel.default('info'), format: z.enum(LOG_FORMATS).optional() }).prefault({}),
    /** A secret file (hospitals[].secretFile, vendors[].keyFile, tls.keyFile, the enrolment CA key) others can read: refuse to start, or warn. */
    secretFilePermissions: SecretFilePermissionsSchema.default(DEFAULT_SECRET_FILE_PERMISSIONS),
    /** Per vendor key bounds on feed reads and subscriptions, and the stalled-response cut. */
    feedLimits: FeedLimitsConfigSchema.prefault({}),
    /** Per-feed retention (cloud-relay/retention); absent keeps every event forever. */
    retention: RetentionConfig.prefault({}),
    /** Vendors' inbound events: the body ceiling, the expiry sweep and how long finished events are kept; all defaults when absent. */
    inbound: InboundConfigSchema.prefault({}),
    /** Where else every stored feed event is published, exactly once and in order (a NATS JetStream stream); none when absent. */
    sinks: SinksConfigSchema.default([]),
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
        // A grant that grants nothing is a typo (a misspelt key is refused as unknown, an empty list is not).
        if (grant.feeds.length === 0 && grant.inbound.length === 0) {
          ctx.addIssue({ code: 'custom', path: ['vendors', i, 'grants', j, 'feeds'], message: 'expected at least one feed (feeds) or inbound channel (inbound)' });
        }
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
    http: resolveHttpPaths(config.http, at),
    enrolment: config.enrolment && { caDir: resolve(baseDir, config.enrolment.caDir) },
    store: config.store.kind === 'postgres' ? { ...config.store, urlFile: at(config.store.urlFile) } : config.store,
    sinks: resolveSinkPaths(config.sinks, at),
  };
}
