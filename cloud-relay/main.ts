// Composition root of the cloud relay: reads the config once, lists the parts,
// hands each its typed options (each part converts its own config section) and
// starts them in one order through PartLifecycle — the stores are held first
// (relay-stores.ts chooses SQLite or PostgreSQL), then the servers, then the
// process's registration — which a failed start and stop() both unwind in reverse. Installs nothing global (no
// signal handlers, no process.env reads): the CLI owns the process.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PROTOCOL_VERSION, WARDLINE_VERSION } from '../protocol/index.js';
import { checkReadiness, checkSecretFiles, createWardlineLogger, defaultLogFormat, loadOrCreateSigningKey, openDirWarning, PartLifecycle, publicKeyText, SecretFileCheck, stdoutIdentity } from '../runtime/index.js';
import { loadRelayConfig, type RelayConfig } from './config.js';
import { loadCredentials } from './credentials.js';
import { StoreUnavailableError } from './errors.js';
import { EnrolmentService } from './enrolment/index.js';
import { ConsumerPositions, FeedSubscribeService, furthestReadPerKey, VendorAuth, VendorCursorSync, VendorReads, VendorSlots, vendorSlotLimitsOf } from './feeds/index.js';
import { grpcServerConfigOf, replicationLimitsOf } from './grpc/index.js';
import { FeedPurger, operatorPurge } from './exit/index.js';
import { createFeedHttpHandler, createInboundRoutes } from './http/index.js';
import { InboundExpiry, InboundGrpcService, InboundWriter, type InboundStore } from './inbound/index.js';
import { HospitalAuth, ReplicationService } from './ingest/index.js';
import { startSinks } from './sinks/index.js';
import { RelayServer, type RelayPorts } from './relay-server.js';
import { openRelayStores } from './relay-stores.js';
import { retentionLimitsFor, RetentionSweeper } from './retention/index.js';
import { agreeOnSigningKey } from './store/postgres/index.js';
import {
  buildRelayClusterStatus,
  buildRelayStatus,
  buildVendorOwnStatus,
  buildVendorStatus,
  statusCursors,
  OperatorAuth,
  registerRelayStatusMetrics,
  RelayMetrics,
  UNREAD_COUNT_CAP,
  type RelayStatus,
  type UnreadEvents,
  type VendorStatus,
} from './status/index.js';
import { FeedNotifier, relayDatabaseFile, type FeedStore, type RelayProcess, type StreamHolder } from './store/index.js';
import { CA_KEY_FILE, loadRelayTls } from './tls/index.js';

export { FEED_SLOT_RETRY_AFTER_SECONDS } from './feeds/index.js';
export { RELAY_DB_FILE } from './store/index.js';

/** The relay's Ed25519 signing key in its dataDir: `relay-signing.key` (private) and `relay-signing.pub` (minisign format). */
export const RELAY_SIGNING_KEY_NAME = 'relay-signing';

/** Where the Export RPC builds a hospital's export before streaming it (emptied at start: nothing in it outlives a call). */
export function exportScratchDir(dataDir: string): string {
  return join(dataDir, 'export-scratch');
}

export interface StartRelayOptions {
  /** Where logs go; default a pino logger to stdout at `log.level`. */
  logger?: Logger;
  /** Clock, in milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /** How long stop() lets streams finish, in milliseconds; default DEFAULT_SHUTDOWN_GRACE_MS (5000). */
  shutdownGraceMs?: number;
  /** Answer as a relay from before completeness proofs (Welcome without "proof-v1"): the agents' compatibility tests. */
  withoutProofs?: boolean;
  /** Answer as a relay of this protocol version (1: from before the downlink, refusing Hello 2, no "inbound-v1"): the agents' compatibility tests. Default PROTOCOL_VERSION. */
  protocolVersion?: number;
}

/** A running relay. */
export interface RelayHandle extends RelayPorts {
  readonly config: RelayConfig;
  /** The status document, as GET /v1/status serves it. */
  status(): Promise<RelayStatus>;
  /** The Prometheus exposition, as GET /metrics serves it. */
  metrics(): Promise<string>;
  /** The relay's inbound store (vendors' events and their receipts), for tests and tools in the same process. */
  readonly inbound: InboundStore;
  /** Named consumers' committed cursors (as the vendor APIs commit them), for tests and tools in the same process. */
  readonly consumers: ConsumerPositions;
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
  const logger = (options.logger ?? createWardlineLogger({ level: config.log.level, format: config.log.format ?? defaultLogFormat(process.env.JOURNAL_STREAM, stdoutIdentity()) })).child({ relayId: config.relayId });
  for (const warning of secrets.warnings) logger.warn({ secretFilePermissions: 'warn' }, warning);
  const dataDirWarning = openDirWarning(config.dataDir, 'dataDir');
  if (dataDirWarning) logger.warn({ dataDir: config.dataDir }, dataDirWarning);
  const now = options.now ?? Date.now;
  // What the relay signs (exports, purge receipts, tree heads) is signed by this one key, made at the first start.
  const signing = loadOrCreateSigningKey(config.dataDir, RELAY_SIGNING_KEY_NAME);

  // An export a crash cut short is a partial copy of patient data: it goes before anything else starts.
  rmSync(exportScratchDir(config.dataDir), { recursive: true, force: true });
  // Parts in start order; stop() and a failed start unwind the same list in reverse.
  const lifecycle = new PartLifecycle(logger);
  try {
    const notifier = new FeedNotifier();
    // Held before the servers, so every store closes after them.
    const stores = await openRelayStores(config, { now, logger, notifier });
    lifecycle.hold({ name: 'relay stores', stop: () => stores.close() });
    const { feeds: store, blobs, inbound, enrolmentTokens, database } = stores;
    // Processes sharing a database sign as one relay: a process with another key stops here, before any traffic.
    if (database) await agreeOnSigningKey(database, RELAY_SIGNING_KEY_NAME, publicKeyText(signing.key), signing.privateKeyFile, now());
    const enrolment = config.enrolment && enrolmentTokens && new EnrolmentService(enrolmentTokens, config.enrolment.caDir);

    const metrics = new RelayMetrics({ version: WARDLINE_VERSION, protocolVersion: PROTOCOL_VERSION });
    const vendors = new VendorAuth(credentials.vendors);
    // Where each vendor key has read up to, for the status page and metrics: this process's reads, stored for every process to show.
    const reads = new VendorReads(now);
    const cursors = new VendorCursorSync({ reads, store: stores.vendorCursors, ...(config.store.kind === 'postgres' ? { flushMs: config.store.heartbeatMs } : {}), logger: logger.child({ part: 'vendor-cursors' }) });
    // Named consumers: committed cursors in the shared store; this process's status view learns of commits and removals at once.
    const consumers = new ConsumerPositions({ store, cursors: stores.vendorCursors, reads: cursors, clock: now });
    const vendorStatus = async (nowMs: number, only?: string): Promise<VendorStatus[]> => {
      const configured = only === undefined ? credentials.vendors : credentials.vendors.filter((v) => v.name === only);
      const readSnapshot = cursors.all();
      const committed = cursors.committed();
      const isConfigured = (r: { vendor: string }) => configured.some((v) => v.name === r.vendor);
      const unread = await unreadAtCursors(store, statusCursors(readSnapshot.filter(isConfigured), committed.filter(isConfigured)));
      return buildVendorStatus({
        nowMs,
        vendors: configured,
        reads: readSnapshot,
        committed,
        // A revoked feed shows no head, as before its position was dropped.
        highWater: (hospital, feed) => {
          const position = store.position(hospital, feed);
          return position.revoked ? 0 : position.highWaterSeq;
        },
        unread: (hospital, feed, afterSeq) => unread.get(cursorKey(hospital, feed, afterSeq))!,
      });
    };
    // Purges (the hospital's agent over its stream, the operator over HTTP) go through one queue.
    const purger = new FeedPurger({ store, blobs, inbound, signingKey: signing.key, relayId: config.relayId, now, onPurged: (hospital, feed) => void cursors.forgetFeed(hospital, feed).catch((error: unknown) => logger.warn({ err: (error as Error).message, hospital, feed }, 'the purged feed\'s vendor cursors stay stored until the next purge or restart')) });
    const replication = new ReplicationService({
      purger,
      store,
      blobs,
      hospitals: new HospitalAuth(credentials.hospitals, { mutualTls: tls?.clientCa !== undefined }),
      metrics,
      logger: logger.child({ service: 'replication' }),
      relayId: config.relayId,
      ...(options.withoutProofs ? {} : { signingKey: signing.key }),
      ...(options.protocolVersion === undefined ? {} : { protocolVersion: options.protocolVersion }),
      // The hospital's agent may fetch its signed export (Export RPC); it is built beside the data, then removed.
      exports: { scratchDir: exportScratchDir(config.dataDir), knownHospitals: credentials.hospitals.map((h) => h.id) },
      // Inbound events go to the hospital's agent on its stream; its receipts come back into the store.
      inbound,
      ...replicationLimitsOf(config.grpc),
      now,
      // The hospital's own feeds only; a vendor key's cursor is the seq of the last event handed to it,
      // the furthest of any of its consumers (furthestReadPerKey): the agent sees vendor keys, not consumers.
      vendorProgress: (hospital, feeds) =>
        furthestReadPerKey(cursors.all())
          .filter((r) => r.hospital === hospital && feeds.includes(r.feed))
          .map((r) => ({ feed: r.feed, vendor: r.vendor, readThroughSeq: r.cursor, readAtMs: r.lastReadAtMs })),
    });
    const slots = new VendorSlots(vendorSlotLimitsOf(config.feedLimits));
    const subscriptions = new FeedSubscribeService({
      store,
      notifier,
      vendors,
      metrics,
      reads,
      slots,
      consumers,
      stalledResponseMs: config.feedLimits.stalledResponseMs,
      heartbeatMs: config.feedLimits.heartbeatMs,
      clock: now,
      logger: logger.child({ service: 'feeds' }),
    });
    // Both vendor APIs decide writes with one writer, under the relay's body ceiling.
    const inboundWriter = new InboundWriter({ store: inbound, maxBodyBytesCeiling: config.inbound.maxBodyBytes, now });
    const inboundRoutes = createInboundRoutes({ store: inbound, writer: inboundWriter, vendors });
    const inboundService = new InboundGrpcService({ store: inbound, writer: inboundWriter, vendors, stalledResponseMs: config.feedLimits.stalledResponseMs, logger: logger.child({ service: 'inbound' }) });
    // Sinks publish what the store holds at their own pace (never slowing ingest), and stop before it closes.
    const sinkState = stores.database ? { database: stores.database } : { file: relayDatabaseFile(config.dataDir) };
    const sinks = await startSinks({ sinks: config.sinks, relayId: config.relayId, store, notifier, state: sinkState, registry: metrics.registry, logger: logger.child({ part: 'sinks' }), now });
    lifecycle.hold({ name: 'sinks', stop: () => sinks.stop() });
    // Retention runs in every process; applyRetention is safe when several sweep one database at once.
    const retention = new RetentionSweeper({ store, config: config.retention, now, logger: logger.child({ part: 'retention' }) });
    const startedAtMs = now();
    const clusterStatus = (processes: readonly RelayProcess[], streams: readonly StreamHolder[], unreachable: { since: number; error: string } | null) =>
      buildRelayClusterStatus({
        nowMs: now(),
        processId: stores.processes.processId,
        store: { kind: stores.kind, database: database?.description ?? null, unreachable },
        processes,
        streams,
        liveTail: stores.doorbell?.figures ?? null,
      });
    // What this process knows without the database: who it is and which agents it holds.
    const statusBasics = () => ({ relayId: config.relayId, startedAtMs, nowMs: now(), hospitals: credentials.hospitals, agents: replication.connectedAgents() });
    const fullStatus = async (): Promise<RelayStatus> => {
      const [feeds, ledgerHeads, revocations, vendorsNow, sinksNow, processes, streams] = await Promise.all([
        store.feedSizes(),
        store.ledgerHeads(),
        store.revocations(),
        vendorStatus(now()),
        sinks.status(now()),
        stores.processes.processes(),
        stores.processes.streamHolders(),
      ]);
      return buildRelayStatus({
        ...statusBasics(),
        feeds,
        ledgerHeads,
        revocations,
        vendors: vendorsNow,
        sinks: sinksNow,
        // The newest signed tree head per feed (completeness proofs).
        treeHeads: (await Promise.all(feeds.map((f) => store.treeHeads(f.hospital, f.feed)))).flatMap((heads) => heads.slice(-1)),
        ...(replication.offersInbound ? { inbound: (await replication.inboundStatus(credentials.hospitals.map((h) => h.id)))! } : {}),
        cluster: clusterStatus(processes, streams, database?.unreachable ?? null),
        retention: { limits: (hospital, feed) => retentionLimitsFor(config.retention, hospital, feed), sweep: retention.status() },
      });
    };

    // With the database down the page still answers, and says so rather than showing nothing as if it were nothing:
    // what only the database knows is left out, what this process knows (its agents, its own figures) is shown.
    const status = async (): Promise<RelayStatus> => {
      try {
        return await fullStatus();
      } catch (error) {
        if (!(error instanceof StoreUnavailableError) && !(database && !database.reachable)) throw error;
        const down = database?.unreachable ?? { since: now(), error: error instanceof Error ? error.message : String(error) };
        return buildRelayStatus({
          ...statusBasics(),
          feeds: [],
          storeUnavailable: { sinceMs: down.since, error: down.error },
          cluster: clusterStatus([], [], down),
        });
      }
    };

    // Aborted as the servers stop: a feed long-poll answers at once instead of holding the shutdown grace.
    const longPolls = new AbortController();
    const server: RelayServer = new RelayServer({
      grpc: grpcServerConfigOf(config.grpc),
      http: config.http,
      tls,
      configSource: source,
      replication,
      subscriptions,
      httpHandler: createFeedHttpHandler({
        store,
        blobs,
        vendors,
        metrics,
        status,
        vendorStatus: async (vendor) => buildVendorOwnStatus(config.relayId, (await vendorStatus(now(), vendor))[0]!),
        operators: new OperatorAuth(credentials.operatorTokenDigest),
        slots,
        stalledResponseMs: config.feedLimits.stalledResponseMs,
        reads,
        consumers,
        notifier,
        maxWaitMs: config.feedLimits.maxWaitMs,
        closing: longPolls.signal,
        readiness: () =>
          checkReadiness([
            { name: 'store', check: () => (store.open ? null : 'feed store is closed') },
            // A process that cannot reach the shared database takes no traffic: the load balancer sends agents and vendors to one that can.
            ...(database ? [{ name: 'database', check: () => (database.reachable ? null : `the database ${database.description} is unreachable since ${new Date(database.unreachable?.since ?? now()).toISOString()}: ${database.unreachable?.error ?? ''}`) }] : []),
            { name: 'grpc', check: (): string | null => (server.listening ? null : 'the gRPC server is not listening') },
          ]),
        logger: logger.child({ service: 'http' }),
        ...(enrolment ? { enrol: (body: unknown) => enrolment.enrol(body) } : {}),
        ...(options.withoutProofs ? {} : { signingPublicKey: publicKeyText(signing.key) }),
        purge: (body: unknown) => operatorPurge(purger, body),
        inbound: inboundRoutes,
      }),
      inbound: { service: inboundService, routes: inboundRoutes },
      logger,
      ...(options.shutdownGraceMs === undefined ? {} : { shutdownGraceMs: options.shutdownGraceMs }),
    });
    registerRelayStatusMetrics(metrics.registry, status);
    // The sweep runs beside the servers and stops before the store closes (reverse order).
    const expiry = new InboundExpiry({ store: inbound, sweepMs: config.inbound.expirySweepMs, retainFinalMs: config.inbound.retainFinalFor, now, logger: logger.child({ part: 'inbound-expiry' }) });
    await lifecycle.start({ name: 'inbound expiry', start: () => expiry.start(), stop: () => expiry.stop() });
    await lifecycle.start({ name: 'retention sweep', start: () => retention.start(), stop: () => retention.stop() });
    await lifecycle.start({ name: 'vendor cursors', start: () => cursors.start(), stop: () => cursors.stop() });
    const ports = await lifecycle.start({
      name: 'relay servers',
      start: () => server.start(),
      stop: () => {
        longPolls.abort();
        return server.stop();
      },
    });
    // Registered once it serves, so no process is listed that cannot be reached; its heartbeat names the hospitals whose streams it holds.
    await lifecycle.start({
      name: 'process registration',
      start: () => stores.processes.register(() => replication.connectedAgents().map((a) => a.hospital), { grpc: `${config.grpc.listen.host}:${ports.grpcPort}`, http: `${config.http.listen.host}:${ports.httpPort}` }),
      stop: () => stores.processes.close(),
    });
    return {
      ...ports,
      config,
      status,
      metrics: () => metrics.registry.metrics(),
      inbound,
      consumers,
      stop: () => lifecycle.stop(),
    };
  } catch (error) {
    // A part that could not be built (the database, the enrolment tokens): what was held is let go.
    await lifecycle.stop();
    throw error;
  }
}

/** Unread events after each vendor cursor, read from the store before the pure status build. */
async function unreadAtCursors(store: FeedStore, reads: readonly { hospital: string; feed: string; cursor: number }[]): Promise<Map<string, UnreadEvents>> {
  const unread = new Map<string, UnreadEvents>();
  for (const read of reads) {
    const key = cursorKey(read.hospital, read.feed, read.cursor);
    if (!unread.has(key)) unread.set(key, await store.unreadAfter(read.hospital, read.feed, read.cursor, UNREAD_COUNT_CAP));
  }
  return unread;
}

function cursorKey(hospital: string, feed: string, cursor: number): string {
  return JSON.stringify([hospital, feed, cursor]);
}
