// The agent's configuration: the schema is the single definition, the type is
// derived from it, and defaults sit beside it named with their unit.
import { z } from 'zod';
import { CODEC_NAMES, DEFAULT_AGENT_HTTP_PORT, NameSchema, StreamNameSchema } from '../protocol/index.js';
import { byteSizeSchema, durationSchema, hostPortSchema, loadConfigFile, ConfigError } from '../runtime/index.js';
import { readFileSync } from 'node:fs';
import { DEFAULT_SECRET_FILE_PERMISSIONS, SecretFileCheck, SecretFilePermissionsSchema, checkSecretFiles } from '../runtime/index.js';
import { isAbsolute, resolve, dirname } from 'node:path';
import { RelayLinkTlsSchema, loadRelayLinkTls, type RelayLinkTls } from './replication/relay-link-tls.js';
import { DEFAULT_BACKOFF_INITIAL_MS, DEFAULT_BACKOFF_JITTER, DEFAULT_BACKOFF_MAX_MS, DEFAULT_BACKOFF_MULTIPLIER } from './replication/backoff.js';
import { BandwidthConfigSchema, DEFAULT_FEED_CLASS } from './bandwidth/bandwidth-config.js';
import {
  DEFAULT_DISK_CRITICAL_AT_PERCENT,
  DEFAULT_DISK_FORECAST_WINDOW_MS,
  DEFAULT_DISK_HYSTERESIS_PERCENT,
  DEFAULT_DISK_WARN_AT_PERCENT,
  formatDiskBytes,
} from './health/disk-budget.js';
import { DEFAULT_DISK_SAMPLE_INTERVAL_MS } from './health/disk-watch.js';
import { AlertsConfigSchema, unknownAlertNames } from './operations/alerts/alerts-config.js';
import { AdminConfigSchema, loadAdminCredentials, type AdminCredentials } from './http/admin-config.js';
import { HttpTlsSchema, loadHttpTls, type HttpTls } from './http/http-tls.js';
import { AllowedHostsSchema } from './http/request-guard.js';
import { httpIngestConfigShape, loadLocalAppCredentials, refineSources, SourcesConfigSchema, type LocalAppCredentials } from './sources/index.js';
import { DEFAULT_AUDIT_RETENTION_DAYS, MIN_AUDIT_RETENTION_DAYS } from './audit/egress-ledger.js';
import { DEFAULT_DEDUPE_RETENTION_MS, DEFAULT_JOURNAL_RETENTION_MS, DEFAULT_TRIM_CHUNK_ROWS, DEFAULT_TRIM_INTERVAL_MS } from './store/journal-trimmer.js';
import { FeedPolicyConfigSchema, KeysConfigSchema, LocalOnlyConfigSchema, findLocalOnlyViolations, hl7KeyPathsByStream, refineFeedPolicy } from './policy/index.js';

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
export const DEFAULT_ACK_PERSIST_INTERVAL_MS = 1_000;

const name = NameSchema;
const streamName = StreamNameSchema;

const RelaySchema = z
  .strictObject({
    name,
    /** host:port of the relay's gRPC endpoint. */
    address: z.string().min(3),
    /** The hospital's shared secret; optional with mutual TLS (tls.certFile), where the certificate identifies the hospital. */
    secret: z.string().min(1).optional(),
    secretFile: z.string().min(1).optional(),
    /** TLS to the relay (relay CA, and the hospital's client certificate for mutual TLS). Required unless allowPlaintext. */
    tls: RelayLinkTlsSchema.optional(),
    /** Connect without TLS: local development only, patient data would cross the network in clear. */
    allowPlaintext: z.boolean().default(false),
    connectTimeoutMs: z.number().int().positive().default(DEFAULT_CONNECT_TIMEOUT_MS),
    handshakeTimeoutMs: z.number().int().positive().default(DEFAULT_HANDSHAKE_TIMEOUT_MS),
    keepaliveTimeMs: z.number().int().positive().default(DEFAULT_KEEPALIVE_TIME_MS),
    keepaliveTimeoutMs: z.number().int().positive().default(DEFAULT_KEEPALIVE_TIMEOUT_MS),
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

/** When the data directory's disk counts as warning / critical; see agent/health/disk-budget.ts. */
const DiskSchema = z
  .strictObject({
    warnAtPercent: z.number().gt(0).max(100).default(DEFAULT_DISK_WARN_AT_PERCENT),
    criticalAtPercent: z.number().gt(0).max(100).default(DEFAULT_DISK_CRITICAL_AT_PERCENT),
    warnAtFreeBytes: byteSizeSchema().optional(),
    criticalAtFreeBytes: byteSizeSchema().optional(),
    hysteresisPercent: z.number().min(0).max(20).default(DEFAULT_DISK_HYSTERESIS_PERCENT),
    sampleIntervalMs: durationSchema({ minMs: 100 }).default(DEFAULT_DISK_SAMPLE_INTERVAL_MS),
    forecastWindowMs: durationSchema({ minMs: 1000 }).default(DEFAULT_DISK_FORECAST_WINDOW_MS),
  })
  .superRefine((disk, ctx) => {
    if (disk.criticalAtPercent <= disk.warnAtPercent) {
      ctx.addIssue({ code: 'custom', path: ['criticalAtPercent'], message: `expected more than warnAtPercent (${disk.warnAtPercent})` });
    }
    if (disk.hysteresisPercent >= disk.warnAtPercent) {
      ctx.addIssue({ code: 'custom', path: ['hysteresisPercent'], message: `expected less than warnAtPercent (${disk.warnAtPercent}), or warning could never clear` });
    }
    if (disk.warnAtFreeBytes !== undefined && disk.criticalAtFreeBytes !== undefined && disk.criticalAtFreeBytes >= disk.warnAtFreeBytes) {
      ctx.addIssue({ code: 'custom', path: ['criticalAtFreeBytes'], message: `expected fewer bytes than warnAtFreeBytes (${formatDiskBytes(disk.warnAtFreeBytes)})` });
    }
  });

/** Journal trimming and retention; see agent/store/journal-trimmer.ts. */
const JournalSchema = z.strictObject({
  /** Events every feed has acknowledged are still kept this long after their commit. */
  retention: durationSchema().default(DEFAULT_JOURNAL_RETENTION_MS),
  /** HL7 / Idempotency-Key retransmission keys are kept this long. */
  dedupeRetention: durationSchema().default(DEFAULT_DEDUPE_RETENTION_MS),
  trimIntervalMs: durationSchema({ minMs: 100 }).default(DEFAULT_TRIM_INTERVAL_MS),
  trimChunkRows: z.number().int().min(100).max(100_000).default(DEFAULT_TRIM_CHUNK_ROWS),
});

/** The egress ledger; see agent/audit/egress-ledger.ts. */
const AuditSchema = z.strictObject({
  /** Ledger records are kept at least this many days (the ledger is not trimmed at all today). */
  retentionDays: z
    .number()
    .int()
    .min(MIN_AUDIT_RETENTION_DAYS, `expected at least ${MIN_AUDIT_RETENTION_DAYS} days: egress records are kept at least six months`)
    .default(DEFAULT_AUDIT_RETENTION_DAYS),
});

const FeedSchema = z.strictObject({
  name,
  relay: name,
  streams: z.array(streamName).min(1),
  /** Priority class on the uplink, one of bandwidth.classes. */
  class: z.string().default(DEFAULT_FEED_CLASS),
  /** How events are shaped before they leave (agent/policy); absent = pass-through, policy version 0. */
  policy: FeedPolicyConfigSchema.optional(),
});

export const AgentConfigSchema = z
  .strictObject({
    hospital: z.strictObject({ id: name, name: z.string().default('') }),
    agentId: z.string().min(1).optional(),
    /** Directory holding agent.db; relative paths are relative to the config file. */
    dataDir: z.string().min(1),
    http: z
      .strictObject({
        listen: hostPortSchema().prefault(`0.0.0.0:${DEFAULT_AGENT_HTTP_PORT}`),
        /** The dashboard login and the admin API token; absent = dashboard and admin endpoints open to whoever reaches listen. */
        admin: AdminConfigSchema.optional(),
        /** HTTPS on this listener (certFile, keyFile); absent = plain HTTP, the password and records cross the LAN in clear. */
        tls: HttpTlsSchema.optional(),
        /** Host names (besides IP addresses, localhost and listen's host) the agent answers to; any other Host header gets 421. */
        allowedHosts: AllowedHostsSchema,
        /** critical, clients, anonymousApps, ingest: the HTTP ingest source (agent/sources/http-ingest/http-ingest-config.ts). */
        ...httpIngestConfigShape,
      })
      .prefault({}),
    /** One entry per source (agent/sources/source-config.ts). */
    sources: SourcesConfigSchema,
    relays: z.array(RelaySchema).default([]),
    feeds: z.array(FeedSchema).default([]),
    replication: z
      .strictObject({
        codec: z.enum(CODEC_NAMES as [string, ...string[]]).default('brotli'),
        batchMaxEvents: z.number().int().positive().default(DEFAULT_BATCH_MAX_EVENTS),
        batchMaxBytes: z.number().int().positive().default(DEFAULT_BATCH_MAX_BYTES),
        batchMaxScan: z.number().int().positive().default(DEFAULT_BATCH_MAX_SCAN),
        maxInFlightBatches: z.number().int().positive().default(DEFAULT_MAX_IN_FLIGHT_BATCHES),
        ackTimeoutMs: z.number().int().positive().default(DEFAULT_ACK_TIMEOUT_MS),
        emptyBatchIntervalMs: z.number().int().positive().default(DEFAULT_EMPTY_BATCH_INTERVAL_MS),
        backoff: z
          .strictObject({
            initialMs: z.number().int().positive().default(DEFAULT_BACKOFF_INITIAL_MS),
            maxMs: z.number().int().positive().default(DEFAULT_BACKOFF_MAX_MS),
            multiplier: z.number().min(1).default(DEFAULT_BACKOFF_MULTIPLIER),
            jitter: z.number().min(0).max(1).default(DEFAULT_BACKOFF_JITTER),
          })
          .prefault({}),
      })
      .prefault({}),
    disk: DiskSchema.prefault({}),
    journal: JournalSchema.prefault({}),
    bandwidth: BandwidthConfigSchema.prefault({}),
    /** Alert thresholds, debounce, retention and delivery (agent/operations/alerts). */
    alerts: AlertsConfigSchema.prefault({}),
    audit: AuditSchema.prefault({}),
    /** The hospital-held pseudonym and encryption keys (agent/policy/keyring.ts); needed by policies that hash or encrypt. */
    keys: KeysConfigSchema.optional(),
    /** Streams and fields no feed may send; a feed that would is refused at start. */
    localOnly: LocalOnlyConfigSchema.prefault({}),
    log: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') }).prefault({}),
    /** A secret file (secretFile, http.admin files, TLS keyFile, policy keys) others can read: refuse to start, or warn. */
    secretFilePermissions: SecretFilePermissionsSchema.default(DEFAULT_SECRET_FILE_PERMISSIONS),
  })
  .superRefine((config, ctx) => {
    for (const issue of unknownAlertNames(config.alerts, config.feeds.map((f) => f.name), config.sources.map((s) => s.name))) {
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    }
    const relayNames = new Set(config.relays.map((r) => r.name));
    const seen = new Set<string>();
    config.feeds.forEach((feed, i) => {
      if (!relayNames.has(feed.relay)) {
        ctx.addIssue({ code: 'custom', path: ['feeds', i, 'relay'], message: `expected one of the relays declared under relays (${[...relayNames].join(', ') || 'none'})` });
      }
      if (seen.has(feed.name)) ctx.addIssue({ code: 'custom', path: ['feeds', i, 'name'], message: 'expected a feed name not used by another feed' });
      seen.add(feed.name);
      refineFeedPolicy(feed, i, ctx);
      if (!config.bandwidth.classes.includes(feed.class)) {
        const classes = config.bandwidth.classes.join(', ');
        ctx.addIssue({ code: 'custom', path: ['feeds', i, 'class'], message: `expected one of the classes under bandwidth.classes (${classes}); a feed without one is "${DEFAULT_FEED_CLASS}"` });
      }
    });
    refineSources(config.sources, ctx);
  });

export type AgentConfig = z.output<typeof AgentConfigSchema>;
export type { Hl7MappingRuleConfig } from './sources/index.js';

/** A config as loaded: paths resolved against the config file, secrets read. */
export interface LoadedAgentConfig extends AgentConfig {
  file: string;
  /** Relay name -> the secret sent in Hello ("" when mutual TLS replaces it). */
  relaySecrets: Map<string, string>;
  /** Relay name -> its TLS material, read; absent for a relay with allowPlaintext. */
  relayTls: Map<string, RelayLinkTls>;
  /** http.admin with its password and token read; null when no login is configured. */
  adminCredentials: AdminCredentials | null;
  /** http.tls with its certificate and key read; null for plain HTTP. */
  httpTls: HttpTls | null;
  /** Secret files used although others can read them (secretFilePermissions: warn), for the log. */
  secretFileWarnings: string[];
  /** http.clients with their tokens read, and what anonymous requests get. */
  localAppCredentials: LocalAppCredentials;
}

export function loadAgentConfig(file: string): LoadedAgentConfig {
  return resolveAgentConfig(loadConfigFile(file, AgentConfigSchema), file);
}

export function resolveAgentConfig(config: AgentConfig, file: string): LoadedAgentConfig {
  const base = dirname(resolve(file));
  const at = (path: string): string => (isAbsolute(path) ? path : resolve(base, path));
  // Before anything is read or opened: a feed that would send local-only data never starts.
  const violations = findLocalOnlyViolations({
    feeds: config.feeds,
    localOnly: config.localOnly,
    hl7KeyPaths: hl7KeyPathsByStream(config.sources.map((s) => s.mapping)),
  });
  if (violations.length > 0) {
    const problems = violations.map((v) => `${v.configPath}: ${v.message} (${file})`);
    throw new ConfigError(`invalid config:\n  ${problems.join('\n  ')}`, file, problems);
  }
  const relaySecrets = new Map<string, string>();
  const relayTls = new Map<string, RelayLinkTls>();
  const secrets = new SecretFileCheck(config.secretFilePermissions);
  config.relays.forEach((relay, i) => {
    if (relay.tls) relayTls.set(relay.name, loadRelayLinkTls(relay.tls, `relays[${i}].tls`, file, at, secrets));
    if (relay.secret !== undefined) relaySecrets.set(relay.name, relay.secret);
    else if (relay.secretFile === undefined) relaySecrets.set(relay.name, '');
    else {
      checkSecretFiles(secrets, [[at(relay.secretFile), `relays[${i}].secretFile`]], file);
      try {
        relaySecrets.set(relay.name, readFileSync(at(relay.secretFile!), 'utf8').trim());
      } catch (cause) {
        const problem = `relays[${i}].secretFile: cannot read ${at(relay.secretFile!)}: ${(cause as Error).message} (${file})`;
        throw new ConfigError(`invalid config:\n  ${problem}`, file, [problem], { cause });
      }
    }
  });
  const keys = config.keys && { ...config.keys, dir: at(config.keys.dir) };
  const adminCredentials = loadAdminCredentials(config.http.admin, at, file, secrets);
  const httpTls = loadHttpTls(config.http.tls, file, at, secrets);
  const localAppCredentials = loadLocalAppCredentials(config.http, at, file, secrets);
  return { ...config, dataDir: at(config.dataDir), keys, file, relaySecrets, relayTls, adminCredentials, httpTls, localAppCredentials, secretFileWarnings: secrets.warnings };
}
