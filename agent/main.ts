// The agent's composition root: reads the config once, builds every part, hands
// each its typed options, and wires them. Nothing deeper reads the config or the
// environment.
import { hostname } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { WARDLINE_VERSION } from '../protocol/index.js';
import { createStatusProvider, toMetricsSnapshot, type AgentStatus, type SourceStatus } from './agent-status.js';
import { loadAgentConfig, type LoadedAgentConfig } from './config.js';
import { AgentHttpServer, HTTP_SOURCE } from './http/agent-http-server.js';
import { createAgentMetrics } from './metrics/agent-metrics.js';
import { GrpcRelayTransport } from './replicator/grpc-relay-transport.js';
import { Replicator } from './replicator/replicator.js';
import { DEFAULT_HL7_MAPPING, mergeMapping } from './sources/hl7/index.js';
import { MllpListener } from './sources/mllp-listener.js';
import { FeedAcks, Journal, LocalCopy, openAgentDatabase } from './store/index.js';

export interface RunningAgent {
  config: LoadedAgentConfig;
  httpPort: number;
  /** Bound MLLP ports by source name. */
  mllpPorts: Map<string, number>;
  status(): AgentStatus;
  /** Drops every relay stream or backoff wait and reconnects now. */
  reconnect(): void;
  stop(): Promise<void>;
}

export interface StartAgentOptions {
  logger?: Logger;
}

export async function startAgent(configOrFile: string | LoadedAgentConfig, options: StartAgentOptions = {}): Promise<RunningAgent> {
  const config = typeof configOrFile === 'string' ? loadAgentConfig(configOrFile) : configOrFile;
  const log = options.logger ?? pino({ level: config.log.level, base: { part: 'agent', hospital: config.hospital.id } });
  const startedAtMs = Date.now();
  const agentId = config.agentId ?? `${config.hospital.id}@${hostname()}`;

  const db = openAgentDatabase(join(config.dataDir, 'agent.db'));
  const journal = new Journal(db);
  const localCopy = new LocalCopy(db);
  const feedAcks = new FeedAcks(db);
  log.info({ dataDir: config.dataDir, headSeq: journal.head }, 'journal opened');

  const replicators = config.relays.map((relay) => {
    const feeds = config.feeds.filter((f) => f.relay === relay.name);
    return new Replicator({
      relayName: relay.name,
      transport: new GrpcRelayTransport({
        address: relay.address,
        connectTimeoutMs: relay.connectTimeoutMs,
        handshakeTimeoutMs: relay.handshakeTimeoutMs,
        keepaliveTimeMs: relay.keepaliveTimeMs,
        keepaliveTimeoutMs: relay.keepaliveTimeoutMs,
        maxSendBytes: config.replication.batchMaxBytes * 2 + 64 * 1024,
      }),
      journal,
      feedAcks,
      feeds: feeds.map((f) => ({ name: f.name, streams: f.streams, policyVersion: 0 })),
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
      log,
    });
  });

  const listeners = config.sources.map(
    (source) =>
      new MllpListener({
        name: source.name,
        host: source.listen.host,
        port: source.listen.port,
        writer: journal,
        mapping: mergeMapping(source.mapping, DEFAULT_HL7_MAPPING),
        maxFrameBytes: source.maxFrameBytes,
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
  const status = createStatusProvider({
    hospital: { id: config.hospital.id, name: config.hospital.name },
    agentId,
    version: WARDLINE_VERSION,
    startedAtMs,
    journal,
    feedAcks,
    replicators: () => replicators.map((r) => r.status()),
    sources: sourceStatus,
  });
  const metrics = createAgentMetrics(() => toMetricsSnapshot(status()));

  http = new AgentHttpServer({
    host: config.http.listen.host,
    port: config.http.listen.port,
    writer: journal,
    localCopy,
    status,
    metrics,
    log,
  });

  const mllpPorts = new Map<string, number>();
  const httpAddress = await http.start();
  for (const [i, listener] of listeners.entries()) {
    const bound = await listener.start();
    mllpPorts.set(config.sources[i]!.name, bound.port);
  }
  for (const replicator of replicators) replicator.start();
  log.info({ httpPort: httpAddress.port, mllpPorts: Object.fromEntries(mllpPorts) }, 'agent started');

  let stopped: Promise<void> | undefined;
  return {
    config,
    httpPort: httpAddress.port,
    mllpPorts,
    status,
    reconnect: () => replicators.forEach((r) => r.reconnectNow()),
    stop: () =>
      (stopped ??= (async () => {
        log.info('agent stopping');
        // Sources first: every message already received is committed and acknowledged.
        await Promise.all(listeners.map((l) => l.stop()));
        await http.stop();
        await Promise.all(replicators.map((r) => r.stop()));
        db.close();
        log.info('agent stopped');
      })()),
  };
}

function toMs(value: Date | number): number {
  return typeof value === 'number' ? value : value.getTime();
}
