// The agent's HTTP endpoint: status, health, metrics, the local copy, and ingest
// for local applications. Ingest answers only after the rows are durable.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import type { AdminRequestHandler } from '../admin/index.js';
import type { AdmissionCheck, JournalWriter, LocalCopy, LocalRecord } from '../store/index.js';
import { IngestRequestError, parseIngestRows } from './ingest-rows.js';
import { sendError, sendJson } from './json-response.js';
import { readBody } from './request-body.js';
import type { HttpTls } from './http-tls.js';
import type { HttpOperations } from './operations-routes.js';
import type { RequestGuard } from './request-guard.js';

/** Largest ingest body accepted, in bytes. */
export const MAX_INGEST_BODY_BYTES = 16 * 1024 * 1024;
/** How long stop() waits for requests in progress before cutting connections, in ms. */
const STOP_GRACE_MS = 2_000;

/** The source name recorded on events ingested over HTTP. */
export const HTTP_SOURCE = 'http';

export interface AgentHttpLogger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface AgentHttpServerOptions {
  host: string;
  port: number;
  writer: JournalWriter;
  localCopy: LocalCopy;
  status: () => unknown;
  metrics: Registry;
  admission?: AdmissionCheck;
  /** Drops every relay stream or backoff wait and reconnects now (POST /v1/admin/reconnect); absent = 404. */
  reconnect?: () => void;
  /** POST /v1/admin/feeds/{feed}/pause|resume|revoke|reenable (agent/admin); absent = 404. */
  feedAdmin?: AdminRequestHandler;
  /** The dashboard, login, live channel, /readyz and the login guard (operations-routes.ts); absent = no dashboard, nothing guarded. */
  operations?: HttpOperations;
  /** Checked before any route and upgrade (request-guard.ts: the Host header); absent = nothing checked. */
  guard?: RequestGuard;
  /** HTTPS instead of HTTP (http.tls). */
  tls?: HttpTls | null;
  log: AgentHttpLogger;
}

export interface HttpIngestStats {
  requests: number;
  rowsAccepted: number;
  rejected: number;
  lastRejection: { atMs: number; reason: string } | null;
  lastRowAtMs: number | null;
}

const STREAM = '([A-Za-z0-9][A-Za-z0-9._-]{0,127})';
const INGEST_PATH = new RegExp(`^/v1/ingest/${STREAM}$`);
const RECORD_PATH = new RegExp(`^/v1/records/${STREAM}/(.+)$`);

export class AgentHttpServer {
  private readonly server: Server;
  private stopping = false;
  readonly ingestStats: HttpIngestStats = { requests: 0, rowsAccepted: 0, rejected: 0, lastRejection: null, lastRowAtMs: null };

  constructor(private readonly options: AgentHttpServerOptions) {
    const listener: RequestListener = (req, res) => {
      const refusal = options.guard?.check(req);
      if (refusal) {
        req.resume();
        return sendError(res, refusal.status, refusal.code, refusal.message, { connection: 'close' });
      }
      this.route(req, res).catch((error: unknown) => {
        options.log.error({ err: error, url: req.url }, 'HTTP request failed');
        if (!res.headersSent) sendError(res, 500, 'internal', 'internal error; see the agent log');
        else res.destroy();
      });
    };
    this.server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, listener) : createServer(listener);
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
      const record = RECORD_PATH.exec(path);
      if (record) return this.getRecord(res, record[1]!, decodeURIComponent(record[2]!));
    }
    if (path.startsWith('/v1/ingest/')) {
      if (req.method !== 'POST') return sendError(res, 405, 'method_not_allowed', 'use POST to ingest rows', { allow: 'POST' });
      const match = INGEST_PATH.exec(path);
      if (!match) return sendError(res, 400, 'bad_stream', 'stream names are letters, digits, ".", "_" or "-" (at most 128)');
      return this.ingest(req, res, match[1]!, url);
    }
    // Operator action, for after the line is repaired, so the agent need not sit out
    // a long backoff. The login (http.admin) is checked by the operations routes
    // above; without one, whoever reaches the listen address can call it.
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
    sendError(res, 404, 'not_found', `no such endpoint: ${req.method} ${path}`);
  }

  private getRecord(res: ServerResponse, stream: string, key: string): void {
    const record = this.options.localCopy.get(stream, key);
    if (!record) return sendError(res, 404, 'no_record', `no record ${key} in stream ${stream}`);
    sendJson(res, 200, recordToJson(record));
  }

  private async ingest(req: IncomingMessage, res: ServerResponse, stream: string, url: URL): Promise<void> {
    this.ingestStats.requests++;
    const reject = (status: number, code: string, message: string): void => {
      this.ingestStats.rejected++;
      this.ingestStats.lastRejection = { atMs: Date.now(), reason: message };
      sendError(res, status, code, message);
    };
    const contentType = req.headers['content-type'] ?? '';
    if (!/^application\/json\b/i.test(contentType)) {
      req.resume();
      return reject(415, 'unsupported_media_type', `expected Content-Type application/json, got "${contentType}"`);
    }
    const opParam = url.searchParams.get('op') ?? 'upsert';
    if (opParam !== 'upsert' && opParam !== 'delete') {
      req.resume();
      return reject(400, 'bad_op', `op must be upsert or delete, got "${opParam}"`);
    }
    const refusal = this.options.admission?.(HTTP_SOURCE);
    if (refusal) {
      req.resume();
      return reject(507, 'refused', refusal);
    }
    let text: string;
    try {
      text = await readBody(req, MAX_INGEST_BODY_BYTES);
    } catch (error) {
      return reject(413, 'too_large', (error as Error).message);
    }
    let events;
    try {
      events = parseIngestRows(stream, text, opParam);
    } catch (error) {
      if (error instanceof IngestRequestError) return reject(error.httpStatus, 'bad_request', error.message);
      throw error;
    }
    const idempotencyKey = req.headers['idempotency-key'];
    const result = await this.options.writer.append({
      source: HTTP_SOURCE,
      events,
      dedupe: typeof idempotencyKey === 'string' && idempotencyKey ? { scope: `http|${stream}`, id: idempotencyKey } : undefined,
    });
    this.ingestStats.rowsAccepted += result.duplicate ? 0 : events.length;
    this.ingestStats.lastRowAtMs = Date.now();
    sendJson(res, 200, { stream, seqs: result.seqs, duplicate: result.duplicate });
  }
}

function recordToJson(record: LocalRecord): object {
  const text = record.body.toString('utf8');
  return {
    stream: record.stream,
    key: record.key,
    seq: record.seq,
    ts: new Date(record.tsMs).toISOString(),
    source: record.source,
    contentType: record.contentType,
    body: record.contentType === 'json' ? JSON.parse(text) : record.contentType === 'hl7v2' ? text : undefined,
    bodyBase64: record.contentType === 'json' || record.contentType === 'hl7v2' ? undefined : record.body.toString('base64'),
    headers: record.headers,
  };
}



