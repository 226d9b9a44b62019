// Composition root of the cloud relay: reads the config once, builds every
// part with typed options and starts listening. Installs nothing global (no
// signal handlers, no process.env reads): the CLI owns the process.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { loadRelayConfig, type RelayConfig } from './config.js';
import { loadCredentials } from './credentials.js';
import { createFeedHttpHandler } from './http/feed-http.js';
import { FeedSubscribeService } from './feeds/feed-subscribe-service.js';
import { VendorAuth } from './feeds/vendor-auth.js';
import { HospitalAuth } from './ingest/hospital-auth.js';
import { ReplicationService } from './ingest/replication-service.js';
import { RelayMetrics } from './status/relay-metrics.js';
import { RelayServer, type RelayPorts } from './relay-server.js';
import { buildRelayStatus, buildVendorOwnStatus, type RelayStatus } from './status/relay-status.js';
import { VendorSlots } from './feeds/vendor-slots.js';
import { OperatorAuth } from './status/operator-auth.js';
import { FeedNotifier } from './store/feed-notifier.js';
import { FeedStore } from './store/feed-store.js';
import { VendorReads } from './feeds/vendor-reads.js';
import { checkReadiness, checkSecretFiles, createWardlineLogger, openDirWarning, SecretFileCheck } from '../runtime/index.js';
import { CA_KEY_FILE } from './tls/index.js';
import { registerRelayStatusMetrics } from './status/relay-status-metrics.js';
import { buildVendorStatus, UNREAD_COUNT_CAP } from './status/vendor-status.js';
import { loadRelayTls } from './tls/relay-tls.js';
import { EnrolmentService, EnrolmentTokens } from './enrolment/index.js';

/** What a vendor refused for holding too many reads or subscriptions is told to wait, in seconds. */
export const FEED_SLOT_RETRY_AFTER_SECONDS = 1;

/** The relay's SQLite file inside `dataDir`. */
export const RELAY_DB_FILE = 'relay.db';

export interface StartRelayOptions {
  /** Where logs go; default a pino logger to stdout at `log.level`. */
  logger?: Logger;
  /** Clock, in milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /** How long stop() lets streams finish, in milliseconds; default DEFAULT_SHUTDOWN_GRACE_MS (5000). */
  shutdownGraceMs?: number;
}

/** A running relay. */
export interface RelayHandle extends RelayPorts {
  readonly config: RelayConfig;
  /** The status document, as GET /v1/status serves it. */
  status(): RelayStatus;
  /** The Prometheus exposition, as GET /metrics serves it. */
  metrics(): Promise<string>;
  /** Stops gracefully (bounded by shutdownGraceMs) and closes the database; idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a relay from a YAML config file (validated; relative paths resolve
 * against the file) or from an already validated RelayConfig (see parseRelayConfig).
 * Throws ConfigError for a bad config, before anything listens.
 */
export async function startRelay(configOrFile: string | RelayConfig, options: StartRelayOptions = {}): Promise<RelayHandle> {
  const source = typeof configOrFile === 'string' ? configOrFile : '(inline relay config)';
  const config = typeof configOrFile === 'string' ? loadRelayConfig(configOrFile) : configOrFile;
  const secrets = new SecretFileCheck(config.secretFilePermissions);
  const credentials = loadCredentials(config, source, secrets);
  const tls = config.tls && loadRelayTls(config.tls, source, (options.now ?? Date.now)(), secrets);
  if (config.enrolment) checkSecretFiles(secrets, [[join(config.enrolment.caDir, CA_KEY_FILE), 'enrolment.caDir']], source);
  const logger = (options.logger ?? createWardlineLogger({ level: config.log.level })).child({ relayId: config.relayId });
  for (const warning of secrets.warnings) logger.warn({ secretFilePermissions: 'warn' }, warning);
  const dataDirWarning = openDirWarning(config.dataDir, 'dataDir');
  if (dataDirWarning) logger.warn({ dataDir: config.dataDir }, dataDirWarning);
  const now = options.now ?? Date.now;

  const notifier = new FeedNotifier();
  const store = FeedStore.open({ file: join(config.dataDir, RELAY_DB_FILE), onAdvance: notifier.advanced, onRevoke: notifier.wake, now });
  const enrolmentTokens = config.enrolment && EnrolmentTokens.open(join(config.dataDir, RELAY_DB_FILE), now);
  const enrolment = config.enrolment && enrolmentTokens && new EnrolmentService(enrolmentTokens, config.enrolment.caDir);
  const metrics = new RelayMetrics();
  const vendors = new VendorAuth(credentials.vendors);
  // Where each vendor key has read up to, for the status page and metrics.
  const reads = new VendorReads(now);
  const vendorStatus = (nowMs: number, only?: string) =>
    buildVendorStatus({
      nowMs,
      vendors: only === undefined ? credentials.vendors : credentials.vendors.filter((v) => v.name === only),
      reads: reads.all(),
      highWater: (hospital, feed) => store.highWater(hospital, feed),
      unread: (hospital, feed, afterSeq) => store.unreadAfter(hospital, feed, afterSeq, UNREAD_COUNT_CAP),
    });
  const replication = new ReplicationService({
    store,
    hospitals: new HospitalAuth(credentials.hospitals, { mutualTls: tls?.clientCa !== undefined }),
    metrics,
    logger: logger.child({ service: 'replication' }),
    relayId: config.relayId,
    maxBatchBytes: config.grpc.maxBatchBytes,
    helloTimeoutMs: config.grpc.helloTimeoutMs,
    maxUnauthenticatedStreamsPerPeer: config.grpc.maxUnauthenticatedStreamsPerPeer,
    now,
  });
  // One budget per key for both APIs: a key cannot take twice the bound by using HTTP and gRPC.
  const slots = new VendorSlots({
    reads: config.feedLimits.concurrentReadsPerKey,
    follows: config.feedLimits.followSubscriptionsPerKey,
    retryAfterSeconds: FEED_SLOT_RETRY_AFTER_SECONDS,
  });
  const subscriptions = new FeedSubscribeService({ store, notifier, vendors, metrics, reads, slots, stalledResponseMs: config.feedLimits.stalledResponseMs, logger: logger.child({ service: 'feeds' }) });
  const startedAtMs = now();
  const status = (): RelayStatus =>
    buildRelayStatus({
      relayId: config.relayId,
      startedAtMs,
      nowMs: now(),
      hospitals: credentials.hospitals,
      agents: replication.connectedAgents(),
      feeds: store.feedSizes(),
      ledgerHeads: store.ledgerHeads.all(),
      revocations: store.revocations.all(),
      vendors: vendorStatus(now()),
    });

  const server: RelayServer = new RelayServer({
    grpc: config.grpc,
    http: config.http,
    tls,
    replication,
    subscriptions,
    httpHandler: createFeedHttpHandler({
      store,
      vendors,
      metrics,
      status,
      vendorStatus: (vendor) => buildVendorOwnStatus(config.relayId, vendorStatus(now(), vendor)[0]!),
      operators: new OperatorAuth(credentials.operatorTokenDigest),
      slots,
      stalledResponseMs: config.feedLimits.stalledResponseMs,
      reads,
      readiness: () =>
        checkReadiness([
          { name: 'store', check: () => (store.feedSizes(), null) },
          { name: 'grpc', check: (): string | null => (server.listening ? null : 'the gRPC server is not listening') },
        ]),
      logger: logger.child({ service: 'http' }),
      ...(enrolment ? { enrol: (body: unknown) => enrolment.enrol(body) } : {}),
    }),
    store,
    logger,
    ...(options.shutdownGraceMs === undefined ? {} : { shutdownGraceMs: options.shutdownGraceMs }),
  });
  registerRelayStatusMetrics(metrics.registry, status);
  const ports = await server.start();
  return {
    ...ports,
    config,
    status,
    metrics: () => metrics.registry.metrics(),
    stop: async () => {
      await server.stop();
      enrolmentTokens?.close();
    },
  };
}
