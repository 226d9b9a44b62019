// Listens: one gRPC server (Replication for agents, Feeds — Subscribe, Commit, GetConsumer — and Inbound for vendors) and one
// HTTP server (feed NDJSON, inbound writes and receipts, status, metrics, health), both over TLS when the
// config has tls (plaintext only with allowPlaintext). Owns the order of
// start-up and shutdown of the two servers and their shared grace period;
// builds nothing itself and closes no store (main.ts does both).
import { createServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Server as GrpcServer, ServerCredentials, type ChannelOptions } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FeedsService, InboundService } from '../protocol/index.js';
import { formatListenAddress, listenFailureMessage, type ListenAddress } from '../runtime/index.js';
import { ListenError } from './errors.js';
import type { FeedSubscribeService } from './feeds/index.js';
import type { GrpcServerConfig } from './grpc/index.js';
import type { InboundRoutes } from './http/index.js';
import type { InboundGrpcService } from './inbound/index.js';
import type { ReplicationService } from './ingest/index.js';
import { grpcServerCredentials, httpsServerOptions, type RelayTls } from './tls/index.js';

/** How long stop() lets streams finish before cutting them, in milliseconds. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5_000;
/**
 * Streams one gRPC connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS).
 * An agent uses one, a vendor one per feed it follows; a client opening thousands at once
 * had the relay dispatch them all in one turn of its event loop (seconds without
 * answering anyone); past this the client's own HTTP/2 layer queues them.
 */
export const GRPC_MAX_CONCURRENT_STREAMS = 100;
/** Room for the Batch fields around the payload, so an at-limit payload still fits a gRPC message, in bytes. */
export const GRPC_MESSAGE_HEADROOM_BYTES = 64 * 1024;

export interface RelayServerOptions {
  /** grpcServerConfigOf(config.grpc): listen address, message bound (bytes), keepalive (milliseconds). */
  grpc: GrpcServerConfig;
  http: { listen: ListenAddress };
  /** TLS for both endpoints; undefined serves plaintext (the config said allowPlaintext). */
  tls: RelayTls | undefined;
  replication: ReplicationService;
  subscriptions: FeedSubscribeService;
  httpHandler: RequestListener;
  /** Vendors' inbound API: the gRPC Inbound service, and the HTTP routes (mounted in httpHandler) whose long-polls stop() ends. Absent = not served. */
  inbound?: { service: InboundGrpcService; routes: InboundRoutes };
  logger: Logger;
  /** The config file, named when a port cannot be bound. */
  configSource?: string;
  /** Default DEFAULT_SHUTDOWN_GRACE_MS. */
  shutdownGraceMs?: number;
}

export interface RelayPorts {
  grpcPort: number;
  httpPort: number;
}

type ServerState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

export class RelayServer {
  private state: ServerState = 'new';
  private grpcServer: GrpcServer | undefined;
  private httpServer: HttpServer | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: RelayServerOptions) {}

  /** True once both servers listen, until stop() begins (GET /readyz). */
  get listening(): boolean {
    return this.state === 'running';
  }

  /** Binds both servers; resolves with the ports actually bound (useful with port 0). */
  async start(): Promise<RelayPorts> {
    if (this.state !== 'new') throw new Error(`RelayServer.start() called when ${this.state}`);
    this.state = 'starting';
    const { grpc, http, logger } = this.options;
    try {
      this.grpcServer = new GrpcServer(grpcServerOptions(grpc));
      this.grpcServer.addService(this.options.replication.definition, this.options.replication.implementation);
      this.grpcServer.addService(FeedsService, this.options.subscriptions.implementation);
      if (this.options.inbound) this.grpcServer.addService(InboundService, this.options.inbound.service.implementation);
      const { tls } = this.options;
      const grpcPort = await bindGrpc(this.grpcServer, grpc.listen, grpcServerCredentials(tls), this.options.configSource);
      this.httpServer = tls ? createHttpsServer(httpsServerOptions(tls), this.options.httpHandler) : createServer(this.options.httpHandler);
      const httpPort = await listenHttp(this.httpServer, http.listen, this.options.configSource);
      this.state = 'running';
      const transport = !tls ? 'plaintext' : !tls.clientCa ? 'tls' : tls.requireClientCert ? 'mutual tls (client certificate required)' : 'mutual tls (client certificate optional)';
      logger.info({ grpc: `${grpc.listen.host}:${grpcPort}`, http: `${http.listen.host}:${httpPort}`, transport }, 'relay listening');
      if (!tls) logger.warn('TLS is off (allowPlaintext: true): agents, vendors and their data cross the network in clear; use this for local development only');
      return { grpcPort, httpPort };
    } catch (error) {
      this.grpcServer?.forceShutdown();
      this.httpServer?.close();
      this.state = 'stopped';
      throw error;
    }
  }

  /**
   * Stops gracefully: no new calls or connections; agent streams finish their
   * queued batches and end with UNAVAILABLE; vendor streams end; whatever is left
   * after the grace period is cut. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    if (this.state === 'new' || this.state === 'stopped') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    const { logger } = this.options;
    const grace = this.options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
    const grpcServer = this.grpcServer!;
    const httpServer = this.httpServer!;

    const grpcClosed = new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve()));
    const httpClosed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
    httpServer.closeIdleConnections();
    this.options.subscriptions.closeAll();
    this.options.inbound?.service.closeAll();
    this.options.inbound?.routes.close();
    const graceful = Promise.all([this.options.replication.closeAll(), grpcClosed, httpClosed]);

    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), grace)));
    const outcome = await Promise.race([graceful.then(() => 'clean' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      logger.warn({ graceMs: grace }, 'relay streams did not finish in time; cutting them');
      grpcServer.forceShutdown();
      httpServer.closeAllConnections();
      await Promise.all([grpcClosed, httpClosed]);
    }
    this.state = 'stopped';
    logger.info('relay stopped');
  }
}

function grpcServerOptions(grpc: RelayServerOptions['grpc']): ChannelOptions {
  return {
    // A batch at maxBatchBytes plus its envelope must fit; anything bigger is
    // refused by grpc-js with RESOURCE_EXHAUSTED before it is even buffered whole.
    'grpc.max_receive_message_length': grpc.maxBatchBytes + GRPC_MESSAGE_HEADROOM_BYTES,
    'grpc.max_concurrent_streams': GRPC_MAX_CONCURRENT_STREAMS,
    // Agents ping every few seconds, with or without an open call, to notice a cut
    // line quickly. grpc-js 1.14 servers do not enforce a ping policy, but these
    // state the contract (and hold if a proxy or another server implementation does).
    'grpc.keepalive_permit_without_calls': grpc.keepalive.permitWithoutCalls ? 1 : 0,
    'grpc.http2.min_ping_interval_without_data_ms': grpc.keepalive.minPingIntervalMs,
    // The relay pings too, so a vanished agent's stream (and its slot in status) goes away.
    'grpc.keepalive_time_ms': grpc.keepalive.pingIntervalMs,
    'grpc.keepalive_timeout_ms': grpc.keepalive.pingTimeoutMs,
  };
}

function bindGrpc(server: GrpcServer, listen: ListenAddress, credentials: ServerCredentials, source = '(inline relay config)'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(formatListenAddress(listen), credentials, (error, port) => {
      if (error) reject(new ListenError('grpc.listen', listenFailureMessage('grpc.listen', listen, source, error), { cause: error }));
      else resolve(port);
    });
  });
}

function listenHttp(server: HttpServer, listen: ListenAddress, source = '(inline relay config)'): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(new ListenError('http.listen', listenFailureMessage('http.listen', listen, source, error), { cause: error }));
    server.once('error', onError);
    server.listen(listen.port, listen.host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
