// The agent's composition root: reads the config once, builds every part, hands
// each its typed options, and wires them. Nothing deeper reads the config or the
// environment.
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { WARDLINE_VERSION } from '../protocol/index.js';
import { certificateValidityProblem, createWardlineLogger, openDirWarning } from '../runtime/index.js';
import { createFeedAdminRoutes, FeedControl } from './control/index.js';
import { createStatusProvider, toMetricsSnapshot, type AgentStatus, type SourceStatus } from './operations/agent-status.js';
import { EgressLedger } from './audit/index.js';
import { loadAgentConfig, type LoadedAgentConfig } from './config.js';
import { createDiskAdmission, DiskBudget, DiskWatch, SystemInformationDiskProbe, type DiskProbe } from './health/index.js';
import { policyAt, TimetableScheduler, Uplink, type Timetable } from './bandwidth/index.js';
import { AgentHttpServer, HTTP_SOURCE } from './http/agent-http-server.js';
import { RequestGuard } from './http/request-guard.js';
import { LocalAppAuth } from './sources/http-ingest/local-app-auth.js';
import { createAgentMetrics } from './operations/metrics/agent-metrics.js';
import { GrpcRelayTransport } from './replication/grpc-relay-transport.js';
import { Replicator } from './replication/replicator.js';
import { DEFAULT_HL7_MAPPING, mergeMapping } from './hl7/index.js';
import { MllpListener } from './sources/mllp/mllp-listener.js';
import { createOperations } from './operations/operations.js';
import { compileFeedPolicies } from './policy/index.js';
import { BacklogCounter, FeedAcks, Journal, JournalFootprint, JournalTrimmer, LocalCopy, openAgentDatabase } from './store/index.js';

export interface RunningAgent {
  config: LoadedAgentConfig;
  httpPort: number;
  /** Bound MLLP ports by source name. */
  mllpPorts: Map<string, number>;
  status(): AgentStatus;
  /** Drops every relay stream or backoff wait and reconnects now. */
  reconnect(): void;
  /** Pause, resume, revoke and re-enable feeds (what POST /v1/admin/feeds/{feed}/… calls). */
  feedControl: FeedControl;
  /** The egress ledger. */
  ledger: EgressLedger;
  stop(): Promise<void>;
}

export interface StartAgentOptions {
  logger?: Logger;
  /**
   * Reads the data directory's filesystem; default SystemInformationDiskProbe. Tests
   * that need a disk in a state this machine's is not in hand in their own.
   */
  diskProbe?: DiskProbe;
}

export async function startAgent(configOrFile: string | LoadedAgentConfig, options: StartAgentOptions = {}): Promise<RunningAgent> {
  const config = typeof configOrFile === 'string' ? loadAgentConfig(configOrFile) : configOrFile;
  const log = options.logger ?? createWardlineLogger({ level: config.log.level, base: { part: 'agent', hospital: config.hospital.id } });
  for (const warning of config.secretFileWarnings) log.warn({ secretFilePermissions: 'warn' }, warning);
  const dataDirWarning = openDirWarning(config.dataDir, 'dataDir');
  if (dataDirWarning) log.warn({ dataDir: config.dataDir }, dataDirWarning);
  const startedAtMs = Date.now();
  const agentId = config.agentId ?? `${config.hospital.id}@${hostname()}`;
  // Before anything opens or listens: a policy that cannot be applied (a key missing) stops the agent here.
  const policies = compileFeedPolicies(config, log);

  const dbFile = join(config.dataDir, 'agent.db');
  const db = openAgentDatabase(dbFile);
  const journal = new Journal(db);
  const localCopy = new LocalCopy(db);
  const feedAcks = new FeedAcks(db);
  log.info({ dataDir: config.dataDir, headSeq: journal.head }, 'journal opened');

  const footprint = new JournalFootprint(db, dbFile);
  const trimmer = new JournalTrimmer({
    db,
    feedAcks,
    // A revoked feed is owed nothing more until it is re-enabled, so it does not hold the journal.
    feeds: () => config.feeds.map((f) => f.name).filter((name) => feedControl.stateOf(name) !== 'revoked'),
    retentionMs: config.journal.retention,
    dedupeRetentionMs: config.journal.dedupeRetention,
    chunkRows: config.journal.trimChunkRows,
    log,
  });
  const diskWatch = new DiskWatch({
    path: config.dataDir,
    probe: options.diskProbe ?? new SystemInformationDiskProbe(config.dataDir),
    budget: new DiskBudget({
      thresholds: {
        warnAtPercent: config.disk.warnAtPercent,
        criticalAtPercent: config.disk.criticalAtPercent,
        warnAtFreeBytes: config.disk.warnAtFreeBytes,
        criticalAtFreeBytes: config.disk.criticalAtFreeBytes,
        hysteresisPercent: config.disk.hysteresisPercent,
      },
      forecastWindowMs: config.disk.forecastWindowMs,
    }),
    journalBytes: () => footprint.fileBytes(),
    sampleIntervalMs: config.disk.sampleIntervalMs,
    log,
  });
  // One reading before any source listens, so a disk already full is refused from the first message.
  await diskWatch.sample();
  const admission = createDiskAdmission({
    disk: diskWatch,
    criticalSources: new Set([...config.sources.filter((s) => s.critical).map((s) => s.name), ...(config.http.critical ? [HTTP_SOURCE] : [])]),
  });

  // One uplink for every feed of every relay: the hospital has one line.
  const timetable: Timetable = {
    baseRateBytesPerSecond: config.bandwidth.rate,
    classes: config.bandwidth.classes,
    windows: config.bandwidth.timetable,
    timeZone: config.bandwidth.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
  const uplink = new Uplink({
    classes: timetable.classes,
    burstBytes: config.bandwidth.burstBytes,
    maxInFlightBytes: config.bandwidth.maxInFlightBytes,
    policy: policyAt(timetable, Date.now()),
    timeZone: timetable.timeZone,
  });
  const bandwidthSchedule = new TimetableScheduler({ timetable, apply: (policy) => uplink.applyPolicy(policy), log });

  // Every batch is recorded here before it leaves; pause, resume, revoke and
  // policy changes too, with each feed's persisted control state.
  const ledger = new EgressLedger(db, { retentionDays: config.audit.retentionDays });

  const replicators = config.relays.map((relay, relayIndex) => {
    const feeds = config.feeds.filter((f) => f.relay === relay.name);
    const relayTls = config.relayTls.get(relay.name);
    if (!relayTls) log.warn({ relay: relay.name }, 'relay link without TLS (allowPlaintext: true): data crosses the network in clear; use this for local development only');
    // Not a reason to stop: ingestion goes on, and the link reports the certificate in lastError.
    const certificateProblem = relayTls?.clientCertificate && certificateValidityProblem(relayTls.clientCertificate, Date.now());
    if (certificateProblem) log.warn({ relay: relay.name }, `the client certificate in relays[${relayIndex}].tls.certFile is ${certificateProblem}`);
    return new Replicator({
      relayName: relay.name,
      transport: new GrpcRelayTransport({
        address: relay.address,
        connectTimeoutMs: relay.connectTimeoutMs,
        handshakeTimeoutMs: relay.handshakeTimeoutMs,
        keepaliveTimeMs: relay.keepaliveTimeMs,
        keepaliveTimeoutMs: relay.keepaliveTimeoutMs,
        maxSendBytes: config.replication.batchMaxBytes * 2 + 64 * 1024,
        tls: relayTls,
        configKey: `relays[${relayIndex}]`,
      }),
      journal,
      feedAcks,
      feeds: feeds.map((f) => {
        const policy = policies.get(f.name);
        return { name: f.name, streams: f.streams, policyVersion: policy?.version ?? 0, policy, class: f.class };
      }),
      hello: { hospitalId: config.hospital.id, agentId, agentVersion: WARDLINE_VERSION, secret: config.relaySecrets.get(relay.name)! },
      codec: config.replication.codec as 'none' | 'gzip' | 'deflate' | 'brotli',
      limits: {
        maxEvents: config.replication.batchMaxEvents,
        maxBytes: config.replication.batchMaxBytes,
        maxScan: config.replication.batchMaxScan,
      },
      maxInFlight: config.replication.maxInFlightBatches,
      ackTimeoutMs: config.replication.ackTimeoutMs,
      emptyBatchIntervalMs: config.replication.emptyBatchIntervalMs,
      ackPersistIntervalMs: 1000,
      backoff: config.replication.backoff,
      uplink,
      log,
      egress: ledger,
    });
  });
  // Built on the replicators: holds the feeds paused or revoked before the agent started, and listens to the relays' answers.
  const feedControl = new FeedControl({
    db,
    ledger,
    feeds: config.feeds.map((f) => ({ name: f.name, relay: f.relay, policyVersion: policies.get(f.name)?.version ?? 0, policyDigest: policies.get(f.name)?.fingerprint ?? null })),
    links: replicators,
    log,
  });
  // Policy changes are recorded, and unanswered revokes queued, before any batch can leave.
  await feedControl.start();

  // Alerts, the dashboard, its login and /readyz (operations.ts), subscribed to the links before they start.
  const operations = createOperations({ config, db, agentId, startedAtMs, links: replicators.map((r) => ({ relay: r.status().relay, link: r.link })), log });

  const listeners = config.sources.map(
    (source) =>
      new MllpListener({
        name: source.name,
        host: source.listen.host,
        port: source.listen.port,
        writer: journal,
        admission,
        mapping: mergeMapping(source.mapping, DEFAULT_HL7_MAPPING),
        maxFrameBytes: source.maxFrameBytes,
        maxConnections: source.maxConnections,
        maxBufferedBytes: source.maxBufferedBytes,
        maxSegments: source.maxSegments,
        idleTimeoutMs: source.idleTimeout,
        log: log.child({ source: source.name }),
      }),
  );

  let http: AgentHttpServer | undefined;
  const sourceStatus = (): SourceStatus[] => [
    ...listeners.map((listener, i) => {
      const stats = listener.stats();
      const source = config.sources[i]!;
      return {
        name: source.name,
        kind: 'mllp' as const,
        state: stats.state,
        listen: `${source.listen.host}:${mllpPorts.get(source.name) ?? source.listen.port}`,
        received: stats.received,
        acknowledged: stats.acknowledged,
        rejected: stats.rejected,
        duplicates: stats.duplicates,
        lastRejection: stats.lastRejection ? { atMs: toMs(stats.lastRejection.at), reason: stats.lastRejection.reason } : null,
        lastMessageAtMs: stats.lastMessageAt === undefined ? null : toMs(stats.lastMessageAt),
        controlIdReuse: stats.controlIdReuse,
        controlIdsReused: stats.controlIdsReused,
        connectionsRefused: stats.connectionsRefused,
      };
    }),
    ...(http
      ? [
          {
            name: HTTP_SOURCE,
            kind: 'http' as const,
            state: 'listening',
            received: http.ingestStats.requests,
            acknowledged: http.ingestStats.requests - http.ingestStats.rejected,
            rejected: http.ingestStats.rejected,
            duplicates: 0,
            lastRejection: http.ingestStats.lastRejection,
            lastMessageAtMs: http.ingestStats.lastRowAtMs,
          },
        ]
      : []),
  ];
  const backlog = new BacklogCounter(db, journal);
  const status = createStatusProvider({
    hospital: { id: config.hospital.id, name: config.hospital.name },
    agentId,
    version: WARDLINE_VERSION,
    startedAtMs,
    journal,
    backlog,
    replicators: () => replicators.map((r) => r.status()),
    sources: sourceStatus,
    bandwidth: () => uplink.status(),
    disk: { watch: diskWatch, footprint, trimmer, retentionMs: config.journal.retention },
    alerts: operations.alertsStatus,
    thresholds: operations.thresholds,
    ledger: () => ledger.status(),
    feedControl: (feed) => feedControl.feedStatus(feed),
  });
  const metrics = createAgentMetrics(() => toMetricsSnapshot(status()));

  const reconnect = (): void => {
    log.info({ relays: config.relays.map((r) => r.name) }, 'reconnect requested by operator');
    void ledger.recordAdmin('reconnect', { relays: config.relays.map((r) => r.name) }).catch((error: unknown) => log.error({ err: error }, 'cannot record the reconnect in the egress ledger'));
    for (const replicator of replicators) replicator.reconnectNow();
  };

  const localApps = new LocalAppAuth(config.localAppCredentials);
  const localAppsSummary = localApps.describe();
  log[localAppsSummary.level](localAppsSummary.fields, localAppsSummary.message);
  http = new AgentHttpServer({
    host: config.http.listen.host,
    port: config.http.listen.port,
    writer: journal,
    localCopy,
    admission,
    status,
    metrics,
    reconnect,
    operations: operations.routes,
    localApps,
    ingestLimits: config.http.ingest,
    feedAdmin: createFeedAdminRoutes(feedControl),
    guard: new RequestGuard({ listenHost: config.http.listen.host, allowedHosts: config.http.allowedHosts }),
    tls: config.httpTls,
    log,
  });

  const mllpPorts = new Map<string, number>();
  let httpAddress: { port: number };
  try {
    httpAddress = await http.start();
    for (const [i, listener] of listeners.entries()) {
      const bound = await listener.start();
      mllpPorts.set(config.sources[i]!.name, bound.port);
    }
  } catch (error) {
    // A port that cannot be bound (taken, not permitted) fails the whole start:
    // nothing may stay half up, answering /v1/status while a source is deaf and
    // nothing replicates.
    await Promise.all(listeners.map((l) => l.stop()));
    await http.stop();
    await operations.stop();
    uplink.close();
    db.close();
    throw error;
  }
  bandwidthSchedule.start();
  for (const replicator of replicators) replicator.start();
  diskWatch.start();
  operations.start({ status, flow: (feed) => backlog.flow(feed), sources: sourceStatus, metrics });
  trimmer.start(config.journal.trimIntervalMs);
  const trimNow = (): void => void trimmer.trim().catch((error: unknown) => log.warn({ err: error }, 'journal trim failed'));
  // Under disk pressure, whatever is trimmable goes now rather than at the next interval.
  diskWatch.onStateChange((state) => state !== 'ok' && trimNow());
  trimNow();
  log.info({ httpPort: httpAddress.port, mllpPorts: Object.fromEntries(mllpPorts) }, 'agent started');

  let stopped: Promise<void> | undefined;
  return {
    config,
    httpPort: httpAddress.port,
    mllpPorts,
    status,
    reconnect,
    feedControl,
    ledger,
    stop: () =>
      (stopped ??= (async () => {
        log.info('agent stopping');
        // Sources first: every message already received is committed and acknowledged.
        await Promise.all(listeners.map((l) => l.stop()));
        await http.stop();
        await operations.stop();
        await Promise.all(replicators.map((r) => r.stop()));
        bandwidthSchedule.stop();
        uplink.close();
        await Promise.all([diskWatch.stop(), trimmer.stop()]);
        db.close();
        log.info('agent stopped');
      })()),
  };
}

function toMs(value: Date | number): number {
  return typeof value === 'number' ? value : value.getTime();
}
