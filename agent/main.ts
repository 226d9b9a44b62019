// The agent's composition root: reads the config once, builds every part, hands
// each its typed options, and wires them. Nothing deeper reads the config or the
// environment. Each config section turns itself into its part's options (the
// part's *-config.ts); the parts start in one order (PartLifecycle) and both a
// failed start and stop() take them down in reverse.
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PROTOCOL_VERSION, WARDLINE_VERSION } from '../protocol/index.js';
import { certificateValidityProblem, createWardlineLogger, defaultLogFormat, listenFailureMessage, openDirWarning, PartLifecycle, stdoutIdentity, type ListenAddress } from '../runtime/index.js';
import { ListenError } from './errors.js';
import { FeedControl } from './control/index.js';
import { createFeedAdminRoutes, createInboundRoutes } from './http/index.js';
import { createSink, Downlink, SqliteReceiptOutbox } from './downlink/index.js';
import { createStatusProvider, toMetricsSnapshot, type AgentStatus } from './operations/index.js';
import { EgressLedger } from './audit/index.js';
import { loadAgentConfig, type LoadedAgentConfig } from './config.js';
import { createDiskAdmission, DiskBudget, DiskWatch, SystemInformationDiskProbe, type DiskProbe } from './health/index.js';
import { timetableOf, TimetableScheduler, Uplink, uplinkOptions } from './bandwidth/index.js';
import { diskBudgetOptions } from './health/index.js';
import { AgentHttpServer } from './http/index.js';
import { RequestGuard } from './http/index.js';
import { createSource, criticalSourceNames, HttpIngestSource, LocalAppAuth, type Source, type SourceStatus } from './sources/index.js';
import { GrpcRelayTransport } from './replication/index.js';
import { FeedProofStore, Replicator, VendorPositions } from './replication/index.js';
import { relayTransportOptions, replicatorTuning } from './replication/index.js';
import { journalTrimmerTuning } from './store/index.js';
import { createAgentMetrics, createOperations, LatencyHistograms, MessageBrowser } from './operations/index.js';
import { compileFeedPolicies } from './policy/index.js';
import { backupFeedKey, backupSealers } from './exit/index.js';
import { createDicomDeidentifier } from './policy/dicom/index.js';
import { ArchiveRetention, FileInstanceArchive, StudyBrowser, StudyIndex } from './imaging/index.js';
import { BacklogCounter, FeedAcks, Journal, JournalFootprint, JournalTrimmer, LocalCopy, MessageSearch, RejectionLog, openAgentDatabase } from './store/index.js';

export interface RunningAgent {
  config: LoadedAgentConfig;
  httpPort: number;
  /** Bound ports of the sources that listen (MLLP and DICOM), by source name. */
  sourcePorts: Map<string, number>;
  /** = sourcePorts (the name predates the DICOM source; its users look up MLLP sources in it). */
  mllpPorts: Map<string, number>;
  status(): AgentStatus;
  /** Drops every relay stream or backoff wait and reconnects now. */
  reconnect(): void;
  /** Pause, resume, revoke and re-enable feeds (what POST /v1/admin/feeds/{feed}/… calls). */
  feedControl: FeedControl;
  /** The egress ledger. */
  ledger: EgressLedger;
  /** The inbound channels' delivery (intake, engines, delivery store). */
  downlink: Downlink;
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
  const log = options.logger ?? createWardlineLogger({ level: config.log.level, base: { part: 'agent', hospital: config.hospital.id }, format: config.log.format ?? defaultLogFormat(process.env.JOURNAL_STREAM, stdoutIdentity()) });
  for (const warning of config.secretFileWarnings) log.warn({ secretFilePermissions: 'warn' }, warning);
  const dataDirWarning = openDirWarning(config.dataDir, 'dataDir');
  if (dataDirWarning) log.warn({ dataDir: config.dataDir }, dataDirWarning);
  const startedAtMs = Date.now();
  const agentId = config.agentId ?? `${config.hospital.id}@${hostname()}`;
  // Before anything opens or listens: a policy that cannot be applied (a key missing) stops the agent here.
  const policies = compileFeedPolicies({ ...config, feeds: config.feeds.filter((f) => !f.backup) }, log);
  // A backup feed seals every event under the hospital's encryption key (agent/exit): no key, no start.
  const backupKey = backupFeedKey(config);

  // Observed by the data path through functions handed in below; registered with /metrics.
  const latency = new LatencyHistograms();
  const dbFile = join(config.dataDir, 'agent.db');
  const db = openAgentDatabase(dbFile);
  const journal = new Journal(db, { observeCommit: latency.observeCommit });
  const localCopy = new LocalCopy(db);
  // The hospital's DICOM archive: instance chunks by their SHA-256 (agent/imaging).
  const archive = new FileInstanceArchive({ dir: join(config.dataDir, 'archive') });
  const feedAcks = new FeedAcks(db);
  // The study view's index of archived instances, following the journal's blob-ref events.
  const studyIndex = new StudyIndex({ db, log });
  const imagingFeeds = config.feeds.map((f) => ({ name: f.name, relay: f.relay, streams: f.streams }));
  // The message browser (GET /v1/messages): vendor read positions the relays report, and the refused messages.
  const vendorPositions = new VendorPositions();
  const rejections = new RejectionLog(db);
  log.info({ dataDir: config.dataDir, headSeq: journal.head }, 'journal opened');

  const footprint = new JournalFootprint(db, dbFile);
  const trimmer: JournalTrimmer = new JournalTrimmer({
    db,
    feedAcks,
    // A revoked feed is owed nothing more until it is re-enabled, so it does not hold the journal.
    feeds: () => config.feeds.map((f) => f.name).filter((name) => feedControl.stateOf(name) !== 'revoked'),
    ...journalTrimmerTuning(config.journal),
    // A window not yet compared with the relay keeps its events: a proof may need to resend them.
    proofHolds: () => new Map(replicators.flatMap((r) => [...r.proofHolds()])),
    // An inbound event not yet delivered is read from the journal at every attempt: it and all after it stay.
    heldFromSeq: () => downlink.lowestOpenSeq(),
    log,
  });
  const diskWatch = new DiskWatch({
    path: config.dataDir,
    probe: options.diskProbe ?? new SystemInformationDiskProbe(config.dataDir),
    budget: new DiskBudget(diskBudgetOptions(config.disk)),
    journalBytes: () => footprint.fileBytes(),
    archiveUsage: () => archive.usage(),
    sampleIntervalMs: config.disk.sampleIntervalMs,
    log,
  });
  // One reading before any source listens, so a disk already full is refused from the first message.
  await diskWatch.sample();
  const admission = createDiskAdmission({
    disk: diskWatch,
    criticalSources: criticalSourceNames(config),
  });

  // One uplink for every feed of every relay: the hospital has one line.
  const uplink = new Uplink(uplinkOptions(config.bandwidth, Date.now()));
  const bandwidthSchedule = new TimetableScheduler({ timetable: timetableOf(config.bandwidth), apply: (policy) => uplink.applyPolicy(policy), log });

  // Every batch is recorded here before it leaves; pause, resume, revoke and
  // policy changes too, with each feed's persisted control state.
  const ledger = new EgressLedger(db, { retentionDays: config.audit.retentionDays });
  // Completeness proofs: the leaves as sent, the windows, the incidents (agent.db, migration 13).
  const proofStore = new FeedProofStore(db);
  // The highest seq the trimmer has deleted in this process: leaves through it can no longer serve a resend.
  let trimmedThrough = 0;
  const sealers = backupSealers(config.feeds, db, backupKey, config.localOnly.streams);

  // The downlink: what vendors write at a relay arrives on that relay's stream, is
  // journaled with its delivery row (the intake), delivered per channel into the
  // hospital's system through the channel's sink, and answered with receipts that
  // leave from the outbox. Every relay is replicated, with feeds or only channels.
  const receiptOutbox = new SqliteReceiptOutbox(db);
  const downlink = new Downlink({
    channels: config.inbound,
    db,
    journal,
    outbox: receiptOutbox,
    createSink: (channel) =>
      createSink(channel.sink, { hospitalId: config.hospital.id, log: log.child({ channel: channel.channel, sink: channel.sink.kind }), secrets: config.inboundSinkSecrets.get(channel.channel) }),
    log: log.child({ part: 'downlink' }),
    // Attempts only: an expiry or an operator's refusal took no time at the sink.
    observe: (o) => o.seconds > 0 && latency.observeInboundDelivery(o.channel, o.seconds),
  });

  const replicators = config.relays.map((relay, relayIndex) => {
    const feeds = config.feeds.filter((f) => f.relay === relay.name);
    const relayTls = config.relayTls.get(relay.name);
    if (!relayTls) log.warn({ relay: relay.name }, 'relay link without TLS (allowPlaintext: true): data crosses the network in clear; use this for local development only');
    // Not a reason to stop: ingestion goes on, and the link reports the certificate in lastError.
    const certificateProblem = relayTls?.clientCertificate && certificateValidityProblem(relayTls.clientCertificate, Date.now());
    if (certificateProblem) log.warn({ relay: relay.name }, `the client certificate in relays[${relayIndex}].tls.certFile is ${certificateProblem}`);
    return new Replicator({
      relayName: relay.name,
      transport: new GrpcRelayTransport(relayTransportOptions(relay, relayIndex, config.replication, relayTls)),
      journal,
      feedAcks,
      feeds: feeds.map((f) => {
        const policy = policies.get(f.name);
        // compileFeedPolicies refused a dicom policy without a pseudonym key (KEY_MISSING), so keys.pseudonym is set here.
        const deidentify = policy?.dicom && createDicomDeidentifier({ config: policy.dicom, key: policy.keys.pseudonym!, archive, workDir: join(config.dataDir, 'deid', f.name) });
        const backup = sealers.get(f.name);
        return { name: f.name, streams: f.streams, policyVersion: policy?.version ?? 0, policy, class: f.class, ...(deidentify ? { deidentify } : {}), ...(backup ? { backup } : {}) };
      }),
      hello: { hospitalId: config.hospital.id, agentId, agentVersion: WARDLINE_VERSION, secret: config.relaySecrets.get(relay.name)! },
      downlink: { channels: downlink.declarations(relay.name), intake: downlink.intake, outbox: receiptOutbox, ledger },
      ...replicatorTuning(config.replication),
      uplink,
      log,
      egress: ledger,
      observeRoundTrip: latency.roundTripObserver(relay.name),
      vendorPositions,
      archive,
      proofs: {
        config: config.replication.proofs,
        store: proofStore,
        journalTrimmedThrough: () => (trimmedThrough = Math.max(trimmedThrough, trimmer.lastTrim?.upToSeq ?? 0)),
        // Once per incident (the store keeps it once): the egress ledger holds what the relay was found to hold.
        onIncident: (feed, fault, problem) =>
          void ledger
            .recordAdmin('integrity-incident', { relay: relay.name, seq: fault.seq, kind: fault.kind, agentSha256: fault.agentSha256 ?? null, relaySha256: fault.relaySha256 ?? null, problem }, feed)
            .catch((error: unknown) => log.error({ err: error, feed, seq: fault.seq }, 'cannot record the integrity incident in the egress ledger')),
      },
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

  const configured = config.sources.map((source) =>
    createSource(source, {
      writer: journal,
      admission,
      localCopy,
      log: log.child({ source: source.name }),
      passwords: config.capturePasswords,
      observeAckLatency: latency.ackObserver(source.name),
      onRejection: (r) => rejections.note(r),
      archive,
      incomingDir: join(config.dataDir, 'incoming'),
    }),
  );

  const localApps = new LocalAppAuth(config.localAppCredentials);
  const localAppsSummary = localApps.describe();
  log[localAppsSummary.level](localAppsSummary.fields, localAppsSummary.message);
  // Rides on the agent's HTTP listener (below): its start and stop bind nothing.
  const httpIngest = new HttpIngestSource({ writer: journal, admission, localCopy, localApps, ingestLimits: config.http.ingest, log });
  const sources: Source[] = [...configured, httpIngest];
  const sourceStatus = (): SourceStatus[] => sources.map((source) => source.status());
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
    timetable: timetableOf(config.bandwidth),
    disk: { watch: diskWatch, footprint, trimmer, retentionMs: config.journal.retention, archive: () => archive.usage() },
    alerts: operations.alertsStatus,
    thresholds: operations.thresholds,
    ledger: () => ledger.status(),
    feedControl: (feed) => feedControl.feedStatus(feed),
    ...(config.inbound.length > 0 ? { downlink: { status: () => downlink.status(), links: () => replicators.map((r) => r.inboundStatus()) } } : {}),
  });
  const metrics = createAgentMetrics(() => toMetricsSnapshot(status()), { build: { version: WARDLINE_VERSION, protocolVersion: PROTOCOL_VERSION }, latency });

  const reconnect = (): void => {
    log.info({ relays: config.relays.map((r) => r.name) }, 'reconnect requested by operator');
    void ledger.recordAdmin('reconnect', { relays: config.relays.map((r) => r.name) }).catch((error: unknown) => log.error({ err: error }, 'cannot record the reconnect in the egress ledger'));
    for (const replicator of replicators) replicator.reconnectNow();
  };

  const http = new AgentHttpServer({
    host: config.http.listen.host,
    port: config.http.listen.port,
    ingest: httpIngest,
    status,
    metrics,
    reconnect,
    operations: operations.routes,
    feedAdmin: createFeedAdminRoutes(feedControl),
    inbound: createInboundRoutes({
      downlink,
      list: () => status().downlink ?? { channels: [], quarantined: [] },
      record: (action, details) => ledger.recordAdmin(action, details),
    }),
    messages: new MessageBrowser({
      search: new MessageSearch(db),
      feedAcks,
      vendorPositions,
      rejections,
      feeds: config.feeds.map((f) => ({ name: f.name, relay: f.relay, streams: f.streams })),
      showMessages: config.http.admin?.showMessages ?? false,
    }),
    studies: new StudyBrowser({ index: studyIndex, archive, feeds: imagingFeeds, ackedSeqs: () => feedAcks.all() }),
    guard: new RequestGuard({ listenHost: config.http.listen.host, allowedHosts: config.http.allowedHosts }),
    tls: config.httpTls,
    log,
  });

  const mllpPorts = new Map<string, number>();
  // One ordered start; stop() and a failed start unwind it in reverse. The
  // ports are bound before anything replicates or samples: a port that cannot
  // be bound (taken, not permitted) fails the whole start with nothing having
  // left for a relay, and nothing stays half up answering /v1/status while a
  // source is deaf. Stopping, replication and the background work end first,
  // then the sources drain (every message already received is committed and
  // acknowledged), then the HTTP port; the database closes last.
  const parts = new PartLifecycle(log);
  parts.hold({ name: 'database', stop: () => db.close() });
  await parts.start({ name: 'archive', start: () => archive.open(), stop: () => archive.close() });
  await parts.start({ name: 'rejection log', start: () => rejections.start(), stop: () => rejections.stop() });
  parts.hold({ name: 'uplink', stop: () => uplink.close() });
  // Built above (its login checker thread runs already), so a failed start stops it too.
  parts.hold({ name: 'operations', stop: () => operations.stop() });
  // A port that cannot be bound is named by its key, its address and the config file (one line, no stack).
  const binding = async <T>(key: string, address: ListenAddress, start: () => Promise<T>): Promise<T> => {
    try {
      return await start();
    } catch (error) {
      throw new ListenError(key, listenFailureMessage(key, address, config.file, error), { cause: error });
    }
  };
  const httpAddress = await parts.start({ name: 'http', start: () => binding('http.listen', config.http.listen, () => http.start()), stop: () => http.stop() });
  for (const [index, source] of sources.entries()) {
    // The configured sources come first, in config order; the HTTP ingest source (last) binds nothing of its own,
    // nor does a database source (it connects out).
    const configuredSource = config.sources[index];
    const listen = configuredSource?.kind === 'mllp' || configuredSource?.kind === 'dicom' ? configuredSource.listen : undefined;
    const start = listen ? () => binding(`sources[${index}].listen`, listen, () => source.start()) : () => source.start();
    const bound = await parts.start({ name: `source ${source.name}`, start, stop: () => source.stop() });
    if (bound) mllpPorts.set(source.name, bound.port);
  }
  await parts.start({ name: 'bandwidth schedule', start: () => bandwidthSchedule.start(), stop: () => bandwidthSchedule.stop() });
  // Before the replicators (stopped after them): an event journaled is delivered, and the attempts under way are written before the database closes.
  await parts.start({ name: 'downlink delivery', start: () => downlink.start(), stop: () => downlink.close() });
  await parts.start({
    name: 'replicators',
    start: () => {
      for (const replicator of replicators) replicator.start();
    },
    stop: () => Promise.all(replicators.map((r) => r.stop())),
  });
  await parts.start({
    name: 'disk watch and journal trimmer',
    start: () => {
      diskWatch.start();
      trimmer.start(config.journal.trimIntervalMs);
      const trimNow = (): void => void trimmer.trim().catch((error: unknown) => log.warn({ err: error }, 'journal trim failed'));
      // Under disk pressure, whatever is trimmable goes now rather than at the next interval.
      diskWatch.onStateChange((state) => state !== 'ok' && trimNow());
      trimNow();
    },
    stop: () => Promise.all([diskWatch.stop(), trimmer.stop()]),
  });
  // Archive retention on the trim interval: never what a feed still owes (a revoked feed owes nothing).
  const archiveRetention = new ArchiveRetention({
    index: studyIndex,
    archive,
    retentionMs: config.archive.retention,
    feeds: () => imagingFeeds.filter((f) => feedControl.stateOf(f.name) !== 'revoked'),
    ackedSeqs: () => feedAcks.all(),
    log,
  });
  await parts.start({
    name: 'study index and archive retention',
    start: () => {
      studyIndex.start();
      archiveRetention.start(config.journal.trimIntervalMs);
    },
    stop: () => Promise.all([archiveRetention.stop(), studyIndex.stop()]),
  });
  await parts.start({ name: 'operations sampler', start: () => operations.start({ status, flow: (feed) => backlog.flow(feed), sources: sourceStatus, metrics }) });
  log.info({ httpPort: httpAddress.port, sourcePorts: Object.fromEntries(mllpPorts) }, 'agent started');

  let stopped: Promise<void> | undefined;
  return {
    config,
    httpPort: httpAddress.port,
    sourcePorts: mllpPorts,
    mllpPorts,
    status,
    reconnect,
    feedControl,
    ledger,
    downlink,
    stop: () =>
      (stopped ??= (async () => {
        log.info('agent stopping');
        await parts.stop();
        log.info('agent stopped');
      })()),
  };
}
