// The agent's configuration: the schema is the single definition, the type is
// derived from it, and defaults sit beside it named with their unit. Each part's
// section lives beside the part (replication/replication-config.ts,
// bandwidth/bandwidth-config.ts, health/disk-config.ts, store/journal-config.ts,
// audit/audit-config.ts, operations/alerts/alerts-config.ts, ...: its schema,
// defaults and the conversion to its options); this file composes them under
// the YAML keys and checks what crosses parts (a feed's relay and class, source
// names, alert names).
import { z } from 'zod';
import { DEFAULT_AGENT_HTTP_PORT, NameSchema, StreamNameSchema } from '../protocol/index.js';
import { hostPortSchema, loadConfigFile, ConfigError, LOG_FORMATS } from '../runtime/index.js';
import { readFileSync } from 'node:fs';
import { DEFAULT_SECRET_FILE_PERMISSIONS, SecretFileCheck, SecretFilePermissionsSchema, checkSecretFiles } from '../runtime/index.js';
import { isAbsolute, resolve, dirname } from 'node:path';
import type { RelayLinkTls } from './replication/index.js';
import { RelayConfigSchema, ReplicationConfigSchema, loadRelayCredentials } from './replication/index.js';
import { BandwidthConfigSchema, DEFAULT_FEED_CLASS } from './bandwidth/index.js';
import { DiskConfigSchema } from './health/index.js';
import { AlertsConfigSchema, loadAlertSecrets, unknownAlertNames, type AlertSecrets } from './operations/alerts/index.js';
import { AdminConfigSchema, loadAdminCredentials, type AdminCredentials } from './http/index.js';
import { HttpTlsSchema, loadHttpTls, type HttpTls } from './http/index.js';
import { AllowedHostsSchema } from './http/index.js';
import { httpIngestConfigShape, loadCapturePasswords, loadLocalAppCredentials, mllpSources, refineSources, SourcesConfigSchema, type LocalAppCredentials } from './sources/index.js';
import { AuditConfigSchema } from './audit/index.js';
import { InboundConfigSchema, inboundIssues, loadSinkSecrets, type SinkSecrets } from './downlink/index.js';
import { JournalConfigSchema } from './store/index.js';
import { ArchiveConfigSchema } from './imaging/index.js';
import { backupFeedIssues } from './exit/index.js';
import { FeedPolicyConfigSchema, KeysConfigSchema, LocalOnlyConfigSchema, findLocalOnlyViolations, hl7KeyPathsByStream, refineFeedPolicy } from './policy/index.js';

/** Kept here too: the bench and older callers read the replication defaults from the agent's config. */
export {
  DEFAULT_ACK_PERSIST_INTERVAL_MS,
  DEFAULT_ACK_TIMEOUT_MS,
  DEFAULT_BATCH_MAX_BYTES,
  DEFAULT_BATCH_MAX_EVENTS,
  DEFAULT_BATCH_MAX_SCAN,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_EMPTY_BATCH_INTERVAL_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_KEEPALIVE_TIME_MS,
  DEFAULT_KEEPALIVE_TIMEOUT_MS,
  DEFAULT_MAX_IN_FLIGHT_BATCHES,
} from './replication/index.js';

const name = NameSchema;
const streamName = StreamNameSchema;

const FeedSchema = z.strictObject({
  name,
  relay: name,
  /** The streams the feed carries; none for a backup feed, which carries every stream. */
  streams: z.array(streamName).default([]),
  /** Priority class on the uplink, one of bandwidth.classes. */
  class: z.string().default(DEFAULT_FEED_CLASS),
  /** How events are shaped before they leave (agent/policy); absent = pass-through, policy version 0. */
  policy: FeedPolicyConfigSchema.optional(),
  /** A backup feed (agent/exit): every stream, each event whole and encrypted under keys' encryption key, for `wardline agent restore`. */
  backup: z.boolean().default(false),
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
    relays: z.array(RelayConfigSchema).default([]),
    feeds: z.array(FeedSchema).default([]),
    /** Inbound channels: events vendors write at a relay, delivered into a hospital system (agent/downlink/inbound-config.ts). */
    inbound: InboundConfigSchema,
    replication: ReplicationConfigSchema.prefault({}),
    disk: DiskConfigSchema.prefault({}),
    journal: JournalConfigSchema.prefault({}),
    /** The DICOM archive under dataDir/archive: retention "forever" (default) or a duration (agent/imaging/archive-config.ts). */
    archive: ArchiveConfigSchema.prefault({}),
    bandwidth: BandwidthConfigSchema.prefault({}),
    /** Alert thresholds, debounce, retention and delivery (agent/operations/alerts). */
    alerts: AlertsConfigSchema.prefault({}),
    audit: AuditConfigSchema.prefault({}),
    /** The hospital-held pseudonym and encryption keys (agent/policy/keyring.ts); needed by policies that hash or encrypt. */
    keys: KeysConfigSchema.optional(),
    /** Streams and fields no feed may send; a feed that would is refused at start. */
    localOnly: LocalOnlyConfigSchema.prefault({}),
    /** format: `text` (journald, syslog priority prefixes) or `json`; absent = text when stdout is journald's stream (JOURNAL_STREAM), else json. */
    log: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'), format: z.enum(LOG_FORMATS).optional() }).prefault({}),
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
      for (const issue of backupFeedIssues(feed, config.keys !== undefined)) ctx.addIssue({ code: 'custom', path: ['feeds', i, ...issue.path], message: issue.message });
      if (!config.bandwidth.classes.includes(feed.class)) {
        const classes = config.bandwidth.classes.join(', ');
        ctx.addIssue({ code: 'custom', path: ['feeds', i, 'class'], message: `expected one of the classes under bandwidth.classes (${classes}); a feed without one is "${DEFAULT_FEED_CLASS}"` });
      }
    });
    for (const issue of inboundIssues(config.inbound, relayNames)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
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
  /** The alert sinks' secret files, read. */
  alertSecrets: AlertSecrets;
  /** Database sources' passwords (connection.passwordFile), by source name. */
  capturePasswords: Map<string, string>;
  /** Each inbound channel's sink secrets (webhook secret, inbox password, CA), by channel name. */
  inboundSinkSecrets: Map<string, SinkSecrets>;
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
    hl7KeyPaths: hl7KeyPathsByStream(mllpSources(config.sources).map((s) => s.mapping)),
  });
  if (violations.length > 0) {
    const problems = violations.map((v) => `${v.configPath}: ${v.message} (${file})`);
    throw new ConfigError(`invalid config:\n  ${problems.join('\n  ')}`, file, problems);
  }
  const secrets = new SecretFileCheck(config.secretFilePermissions);
  const { relaySecrets, relayTls } = loadRelayCredentials(config.relays, at, file, secrets);
  const keys = config.keys && { ...config.keys, dir: at(config.keys.dir) };
  const adminCredentials = loadAdminCredentials(config.http.admin, at, file, secrets);
  const httpTls = loadHttpTls(config.http.tls, file, at, secrets);
  const localAppCredentials = loadLocalAppCredentials(config.http, at, file, secrets);
  const alertSecrets = loadAlertSecrets(config.alerts, at, file, secrets);
  const inboundSinkSecrets = new Map(config.inbound.map((c, i) => [c.channel, loadSinkSecrets(c.sink, `inbound[${i}].sink`, at, file, secrets)] as const));
  const capturePasswords = loadCapturePasswords(config.sources.map((s) => ({ name: s.name, connection: 'connection' in s ? s.connection : undefined })), at, file, secrets);
  return { ...config, dataDir: at(config.dataDir), keys, file, relaySecrets, relayTls, adminCredentials, httpTls, localAppCredentials, alertSecrets, capturePasswords, inboundSinkSecrets, secretFileWarnings: secrets.warnings };
}
