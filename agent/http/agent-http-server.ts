// The agent's HTTP endpoint: status, health, metrics, the local copy, and ingest
// for local applications. Ingest answers only after the rows are durable.
//
// Failure modes handled (data plane):
//  1. A request from an application without credentials: local-app-auth.ts
//     decides (401 / 403) before the body is read.
//  2. A body of many megabytes: parsed in slices (ingest-rows.ts) and committed in
//     slices of INGEST_COMMIT_SLICE_ROWS rows through one lane (ingest-lane.ts),
//     so HL7 ACKs wait for one slice at most. A request of one slice skips the
//     lane: concurrent small posts still share a group commit. Each slice is atomic; with an
//     Idempotency-Key each slice has its own dedupe key, so retrying a request
//     that failed half way stores only the slices that are missing.
//  3. The disk fills during a commit (SQLITE_FULL): 507 with the reason and how
//     many rows of the request were stored, never a bare 500.
//  4. A malformed percent-encoding in a record key: 400, not a URIError 500.
//  5. Rejections and logs never carry a body, a key or a header value: they name
//     the field and the rule (status and the dashboard show the last reason).
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import type { AdminRequestHandler } from '../control/index.js';
import type { AdmissionCheck, JournalWriter, LocalCopy, LocalRecord } from '../store/index.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { IngestLane } from '../sources/http-ingest/ingest-lane.js';
import { IngestRequestError, parseIngestRows } from '../sources/http-ingest/ingest-rows.js';
import { sendError, sendJson } from './json-response.js';
import type { HttpTls } from './http-tls.js';
import { LocalAppAuth, type LocalAppAccess } from '../sources/http-ingest/local-app-auth.js';
import { DEFAULT_MAX_INGEST_BODY_BYTES, DEFAULT_MAX_ROW_BYTES, DEFAULT_MAX_ROW_DEPTH, DEFAULT_MAX_ROWS_PER_REQUEST, type IngestLimitsConfig } from '../sources/http-ingest/local-app-config.js';
import { BodyTooLargeError } from './errors.js';
import { readBody, readBodyBytes } from './request-body.js';
import type { HttpOperations } from './operator-routes.js';
import type { RequestGuard } from './request-guard.js';
import { STREAM_NAME_GROUP } from '../../protocol/index.js';

/** Largest ingest body accepted, in bytes. */
export const MAX_INGEST_BODY_BYTES = DEFAULT_MAX_INGEST_BODY_BYTES;
/**
 * Most rows of one request committed in one transaction: the journal's group
 * commit cap (DEFAULT_MAX_GROUP_EVENTS), so a slice is never merged with more.
 */
export const INGEST_COMMIT_SLICE_ROWS = 500;
/** Most body bytes in one committed slice (rows of up to maxRowBytes would otherwise make one slice 500 MB). */
export const INGEST_COMMIT_SLICE_BYTES = 1024 * 1024;
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
  /** POST /v1/admin/feeds/{feed}/pause|resume|revoke|reenable (agent/control); absent = 404. */
  feedAdmin?: AdminRequestHandler;
  /** The dashboard, login, live channel, /readyz and the login guard (operator-routes.ts); absent = no dashboard, nothing guarded. */
  operations?: HttpOperations;
  /** Checked before any route and upgrade (request-guard.ts: the Host header); absent = nothing checked. */
  guard?: RequestGuard;
  /** HTTPS instead of HTTP (http.tls). */
  tls?: HttpTls | null;
  /** Who may read records and ingest (http.clients); absent = anonymous loopback peers only. */
  localApps?: LocalAppAuth;
  /** Bounds of one ingested row (http.ingest); absent = the defaults. */
  ingestLimits?: IngestLimitsConfig;
  log: AgentHttpLogger;
}

export interface HttpIngestStats {
  requests: number;
  rowsAccepted: number;
  rejected: number;
  lastRejection: { atMs: number; reason: string } | null;
  lastRowAtMs: number | null;
}

const INGEST_PATH = new RegExp(`^/v1/ingest/${STREAM_NAME_GROUP}$`);
const RECORD_PATH = new RegExp(`^/v1/records/${STREAM_NAME_GROUP}/(.+)$`);

export class AgentHttpServer {
  private readonly server: Server;
  private stopping = false;
  private readonly localApps: LocalAppAuth;
  /** Commits of ingest slices, one at a time across requests. */
  private readonly ingestLane = new IngestLane();
  /** Parse slices, one per turn of the event loop across requests: ten big bodies cost HL7 one slice per turn, not ten. */
  private readonly parseLane = new IngestLane();
  readonly ingestStats: HttpIngestStats = { requests: 0, rowsAccepted: 0, rejected: 0, lastRejection: null, lastRowAtMs: null };

  constructor(private readonly options: AgentHttpServerOptions) {
    this.localApps = options.localApps ?? new LocalAppAuth({ clients: [], anonymous: 'loopback', anonymousExplicit: false });
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
      const record = RECORD_PATH.exec(path);
      if (record) return this.getRecord(req, res, record[1]!, record[2]!);
    }
    if (path.startsWith('/v1/ingest/')) {
      if (req.method !== 'POST') return sendError(res, 405, 'method_not_allowed', 'use POST to ingest rows', { allow: 'POST' });
      const match = INGEST_PATH.exec(path);
      if (!match) return sendError(res, 400, 'bad_stream', 'stream names are letters, digits, ".", "_" or "-" (at most 128)');
      return this.ingest(req, res, match[1]!, url);
    }
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
    sendError(res, 404, 'not_found', `no such endpoint: ${req.method} ${routeOf(path)}`);
  }

  private getRecord(req: IncomingMessage, res: ServerResponse, stream: string, encodedKey: string): void {
    if (!this.authorize(req, res, stream, 'read')) return;
    let key: string;
    try {
      key = decodeURIComponent(encodedKey);
    } catch {
      return sendError(res, 400, 'bad_key', 'the record key is not valid percent-encoding (RFC 3986: "%" and two hex digits, UTF-8)');
    }
    const record = this.options.localCopy.get(stream, key);
    if (!record) return sendError(res, 404, 'no_record', `no record with that key in stream ${stream}`);
    sendJson(res, 200, recordToJson(record));
  }

  /**
   * The local application that may `access` `stream` (client null = anonymous);
   * undefined once a 401/403 has been answered (through `onRefusal` when given).
   */
  private authorize(
    req: IncomingMessage,
    res: ServerResponse,
    stream: string,
    access: LocalAppAccess,
    onRefusal?: (status: number, code: string, message: string) => void,
  ): { client: string | null } | undefined {
    const decision = this.localApps.authorize(req, stream, access);
    if (decision.ok) return { client: decision.client };
    req.resume();
    if (onRefusal) onRefusal(decision.status, decision.code, decision.message);
    else sendError(res, decision.status, decision.code, decision.message, decision.status === 401 ? { 'www-authenticate': LocalAppAuth.challenge } : {});
    return undefined;
  }

  private async ingest(req: IncomingMessage, res: ServerResponse, stream: string, url: URL): Promise<void> {
    this.ingestStats.requests++;
    const reject = (status: number, code: string, message: string, extra: object = {}): void => {
      this.ingestStats.rejected++;
      this.ingestStats.lastRejection = { atMs: Date.now(), reason: message };
      sendJson(res, status, { error: { code, message, ...extra } }, status === 401 ? { 'www-authenticate': LocalAppAuth.challenge } : {});
    };
    const granted = this.authorize(req, res, stream, 'write', reject);
    if (!granted) return;
    const { client } = granted;
    const contentType = req.headers['content-type'] ?? '';
    if (!/^application\/json\b/i.test(contentType)) {
      req.resume();
      return reject(415, 'unsupported_media_type', 'Content-Type must be application/json');
    }
    const opParam = url.searchParams.get('op') ?? 'upsert';
    if (opParam !== 'upsert' && opParam !== 'delete') {
      req.resume();
      return reject(400, 'bad_op', 'query parameter op must be upsert or delete');
    }
    const refusal = this.options.admission?.(HTTP_SOURCE);
    if (refusal) {
      req.resume();
      return reject(507, 'refused', refusal);
    }
    let body: Buffer;
    try {
      body = await readBodyBytes(req, MAX_INGEST_BODY_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return reject(413, 'too_large', `body exceeds ${error.limitBytes} bytes`);
      throw error;
    }
    let events;
    try {
      const limits = this.options.ingestLimits ?? { maxRowDepth: DEFAULT_MAX_ROW_DEPTH, maxRowBytes: DEFAULT_MAX_ROW_BYTES };
      events = await parseIngestRows(stream, body, opParam, { limits: { ...limits, maxRows: DEFAULT_MAX_ROWS_PER_REQUEST }, pause: () => this.parseLane.run(() => nextTurn()) });
    } catch (error) {
      if (error instanceof IngestRequestError) return reject(error.httpStatus, 'bad_request', error.message);
      throw error;
    }
    const idempotencyKey = req.headers['idempotency-key'];
    const source = client === null ? HTTP_SOURCE : `${HTTP_SOURCE}:${client}`;
    const dedupeScope = client === null ? `http|${stream}` : `${source}|${stream}`;
    const seqs: number[] = [];
    let duplicate = true;
    const slices = commitSlices(events);
    for (const [i, slice] of slices.entries()) {
      const append = () =>
        this.options.writer.append({
          source,
          events: slice,
          // A header value holds no line feed, so "<key>\n<slice>" never meets a client's own key.
          dedupe: typeof idempotencyKey === 'string' && idempotencyKey ? { scope: dedupeScope, id: i === 0 ? idempotencyKey : `${idempotencyKey}\n${i}` } : undefined,
        });
      try {
        // A one-slice request goes straight to the group commit, where concurrent small posts share an fsync as before.
        const result = await (slices.length > 1 ? this.ingestLane.run(append) : append());
        seqs.push(...result.seqs);
        duplicate &&= result.duplicate;
        this.ingestStats.rowsAccepted += result.duplicate ? 0 : slice.length;
      } catch (error) {
        const stored = seqs.length;
        if (!isDiskFull(error)) {
          this.options.log.error({ err: error, stream, storedRows: stored, rows: events.length }, 'HTTP ingest failed in the journal');
          return reject(500, 'internal', `the agent could not store the rows: ${stored} of ${events.length} rows of this request were stored; see the agent log`, { storedRows: stored });
        }
        this.options.log.error({ err: error, stream, storedRows: stored, rows: events.length }, 'HTTP ingest refused: the disk is full');
        return reject(
          507,
          'disk_full',
          `the agent's disk is full: ${stored} of ${events.length} rows of this request were stored, the rest were not; retry later` +
            (slices.length > 1 ? ' (with the same Idempotency-Key, only the missing rows are stored)' : ''),
          { storedRows: stored },
        );
      }
    }
    this.ingestStats.lastRowAtMs = Date.now();
    sendJson(res, 200, { stream, seqs, duplicate });
  }
}

/** Splits a request's events into the slices committed one transaction each: deterministic, so a retry slices alike. */
export function commitSlices<T extends { body: Buffer }>(events: readonly T[], maxRows = INGEST_COMMIT_SLICE_ROWS, maxBytes = INGEST_COMMIT_SLICE_BYTES): T[][] {
  const slices: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const event of events) {
    if (current.length > 0 && (current.length >= maxRows || bytes + event.body.length > maxBytes)) {
      slices.push(current);
      current = [];
      bytes = 0;
    }
    current.push(event);
    bytes += event.body.length;
  }
  if (current.length > 0) slices.push(current);
  return slices;
}

/** SQLite could not write for lack of space (SQLITE_FULL, or ENOSPC underneath). */
export function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_FULL') || code === 'ENOSPC');
}

/** The route of a URL for a log line: the path with a record's key left out. */
function routeOf(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0]!;
  return RECORD_PATH.test(path) ? path.replace(RECORD_PATH, '/v1/records/$1/{key}') : path;
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



