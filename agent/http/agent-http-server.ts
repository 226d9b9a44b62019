// The agent's HTTP endpoint: the router for status, health, metrics, the
// dashboard and admin routes. The local copy and ingest for local applications
// (/v1/records, /v1/ingest) are the HTTP ingest source's
// (agent/sources/http-ingest/http-ingest-source.ts, with its failure modes);
// this file hands it those paths and owns the listener they share.
//
// Failure modes handled:
//  1. A route that throws: 500 naming the agent log, or the socket cut once
//     headers are out; the log line carries the route without a record's key.
//  2. stop() with keep-alive clients still posting: every answer says
//     `Connection: close`, and after STOP_GRACE_MS what is left is cut.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import type { AdminRequestHandler } from './feed-control-routes.js';
import { ingestRouteOf, type HttpIngestSource } from '../sources/http-ingest/index.js';
import { sendError, sendJson } from './json-response.js';
import type { HttpTls } from './http-tls.js';
import { readBody } from './request-body.js';
import type { HttpOperations } from './operator-routes.js';
import type { RequestGuard } from './request-guard.js';
import type { MessageBrowser } from '../operations/index.js';
import { answerMessageRoute } from './message-routes.js';
import type { StudyBrowser } from '../imaging/index.js';
import { answerImagingRoute } from './imaging-routes.js';

/** How long stop() waits for requests in progress before cutting connections, in ms. */
const STOP_GRACE_MS = 2_000;

export interface AgentHttpLogger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface AgentHttpServerOptions {
  host: string;
  port: number;
  /** /v1/ingest and /v1/records: the HTTP ingest source, which this server's listener carries. */
  ingest: HttpIngestSource;
  status: () => unknown;
  metrics: Registry;
  /** Drops every relay stream or backoff wait and reconnects now (POST /v1/admin/reconnect); absent = 404. */
  reconnect?: () => void;
  /** POST /v1/admin/feeds/{feed}/pause|resume|revoke|reenable (agent/control); absent = 404. */
  feedAdmin?: AdminRequestHandler;
  /** GET /v1/inbound, POST /v1/inbound/{channel}/pause|resume, /v1/inbound/events/{id}/replay|refuse (inbound-routes.ts); absent = 404. */
  inbound?: AdminRequestHandler;
  /** The dashboard, login, live channel, /readyz and the login guard (operator-routes.ts); absent = no dashboard, nothing guarded. */
  operations?: HttpOperations;
  /** Checked before any route and upgrade (request-guard.ts: the Host header); absent = nothing checked. */
  guard?: RequestGuard;
  /** /v1/messages and /v1/rejections (message-routes.ts), behind the login; absent = 404. */
  messages?: MessageBrowser;
  /** /v1/studies/… (imaging-routes.ts), behind the login; absent = 404. */
  studies?: StudyBrowser;
  /** HTTPS instead of HTTP (http.tls). */
  tls?: HttpTls | null;
  log: AgentHttpLogger;
}

export class AgentHttpServer {
  private readonly server: Server;
  private stopping = false;

  constructor(private readonly options: AgentHttpServerOptions) {
    const listener: RequestListener = (req, res) => {
      const refusal = options.guard?.check(req);
      if (refusal) {
        req.resume();
        return sendError(res, refusal.status, refusal.code, refusal.message, { connection: 'close' });
      }
      this.route(req, res).catch((error: unknown) => {
        // The path, not the URL: a record's key (a patient id) is part of it.
        options.log.error({ err: error, method: req.method, route: routeOf(req.url) }, 'HTTP request failed');
        if (!res.headersSent) sendError(res, 500, 'internal', 'internal error; see the agent log');
        else res.destroy();
      });
    };
    // With a client CA, a certificate is asked for but not required: it is one way
    // for a local application to prove who it is (local-app-auth.ts reads it only
    // when TLS verified it); browsers and token holders connect without one.
    const clientCerts = options.tls?.clientCa ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: false } : {};
    this.server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key, ...clientCerts }, listener) : createServer(listener);
    this.server.keepAliveTimeout = 5_000;
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const refusal = options.guard?.check(req);
      if (refusal || !options.operations) {
        socket.end(`HTTP/1.1 ${refusal ? '421 Misdirected Request' : '404 Not Found'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
        return;
      }
      options.operations.upgrade(req, socket, head);
    });
  }

  async start(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  /**
   * Stops accepting, lets requests in progress finish, and ends every connection.
   * A client that keeps sending on a keep-alive connection (a local application
   * posting rows) would otherwise hold close() open forever: while stopping, every
   * answer says `Connection: close`, and after STOP_GRACE_MS what is left is cut.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    // Open dashboards hold upgraded sockets the HTTP server would wait for.
    await this.options.operations?.close();
    await new Promise<void>((resolve) => {
      const grace = setTimeout(() => this.server.closeAllConnections(), STOP_GRACE_MS);
      this.server.close(() => {
        clearTimeout(grace);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.stopping) res.setHeader('connection', 'close');
    const url = new URL(req.url ?? '/', 'http://agent');
    const path = url.pathname;
    // Login, dashboard and readiness first: they also refuse what needs a login.
    if (this.options.operations && (await this.options.operations.handle(req, res, url))) return;
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '/healthz') return sendJson(res, 200, { ok: true });
      if (path === '/v1/status') return sendJson(res, 200, this.options.status());
      if (path === '/metrics') {
        res.writeHead(200, { 'content-type': this.options.metrics.contentType });
        res.end(await this.options.metrics.metrics());
        return;
      }
    }
    const browsed = this.options.messages && answerMessageRoute(this.options.messages, req.method ?? 'GET', url);
    if (browsed) return sendJson(res, browsed.status, browsed.body);
    if (this.options.studies && (await answerImagingRoute(this.options.studies, req, res, url, this.options.log))) return;
    if (await this.options.ingest.handle(req, res, url)) return;
    // Operator action, for after the line is repaired, so the agent need not sit out
    // a long backoff. The login (http.admin), and with or without it the
    // same-origin JSON and CSRF token a browser must send, are checked by the
    // operations routes above.
    if (path === '/v1/admin/reconnect' && this.options.reconnect) {
      if (req.method !== 'POST') return sendError(res, 405, 'method_not_allowed', 'use POST to reconnect', { allow: 'POST' });
      req.resume();
      this.options.reconnect();
      return sendJson(res, 202, { reconnecting: true });
    }
    // Same trust as reconnect: the operations routes above checked the login.
    if (path.startsWith('/v1/admin/feeds/') && this.options.feedAdmin) {
      const answer = await this.options.feedAdmin({
        method: req.method ?? 'GET',
        path,
        origin: `http ${req.socket.remoteAddress ?? 'unknown'}`,
        readBody: (limit) => readBody(req, limit),
      });
      if (answer) return sendJson(res, answer.status, answer.body, answer.headers);
    }
    if ((path === '/v1/inbound' || path.startsWith('/v1/inbound/')) && this.options.inbound) {
      const answer = await this.options.inbound({
        method: req.method ?? 'GET',
        path,
        origin: `http ${req.socket.remoteAddress ?? 'unknown'}`,
        readBody: (limit) => readBody(req, limit),
      });
      if (answer) return sendJson(res, answer.status, answer.body, answer.headers);
    }
    sendError(res, 404, 'not_found', `no such endpoint: ${req.method} ${routeOf(path)}`);
  }
}

/** The route of a URL for a log line: the path with a record's key left out. */
function routeOf(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0]!;
  return ingestRouteOf(path);
}
