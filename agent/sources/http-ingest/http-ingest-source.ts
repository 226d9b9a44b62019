// Local applications' input over HTTP: POST /v1/ingest/{stream} (rows in, seqs
// out once durable) and GET /v1/records/{stream}/{key} (the local copy), as a
// Source. It rides on the agent's HTTP listener (agent/http/agent-http-server.ts
// routes these paths here), so start() and stop() bind nothing: the listener's
// own start and stop decide when requests arrive, and status() says "listening"
// for as long as the agent runs, as /v1/status always has.
//
// Failure modes handled:
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
//  6. The admission check refuses (disk critical): 507 with its reason, before the
//     body is read; nothing is appended.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { LocalCopy, LocalRecord } from '../../store/index.js';
import type { Source, SourceParts, SourceStatus } from '../source.js';
import { httpRejectionKind, type RejectionKind } from '../rejection-kind.js';
import { sendError, sendJson } from '../../http/index.js';
import { BodyTooLargeError } from '../../http/index.js';
import { readBodyBytes } from '../../http/index.js';
import { STREAM_NAME_GROUP } from '../../../protocol/index.js';
import { HTTP_SOURCE } from './http-ingest-config.js';
import { IngestLane } from './ingest-lane.js';
import { IngestRequestError, parseIngestRows } from './ingest-rows.js';
import { LocalAppAuth, type LocalAppAccess } from './local-app-auth.js';
import { DEFAULT_MAX_INGEST_BODY_BYTES, DEFAULT_MAX_ROW_BYTES, DEFAULT_MAX_ROW_DEPTH, DEFAULT_MAX_ROWS_PER_REQUEST, type IngestLimitsConfig } from './local-app-config.js';

export { HTTP_SOURCE };

/** Largest ingest body accepted, in bytes. */
export const MAX_INGEST_BODY_BYTES = DEFAULT_MAX_INGEST_BODY_BYTES;
/**
 * Most rows of one request committed in one transaction: the journal's group
 * commit cap (DEFAULT_MAX_GROUP_EVENTS), so a slice is never merged with more.
 */
export const INGEST_COMMIT_SLICE_ROWS = 500;
/** Most body bytes in one committed slice (rows of up to maxRowBytes would otherwise make one slice 500 MB). */
export const INGEST_COMMIT_SLICE_BYTES = 1024 * 1024;

/** The logging the source needs; a pino logger fits. */
export interface HttpIngestLogger {
  error(fields: object, message: string): void;
}

export interface HttpIngestSourceOptions extends SourceParts {
  /** What GET /v1/records reads. */
  localCopy: LocalCopy;
  /** Who may read records and ingest (http.clients); absent = anonymous loopback peers only. */
  localApps?: LocalAppAuth;
  /** Bounds of one ingested row (http.ingest); absent = the defaults. */
  ingestLimits?: IngestLimitsConfig;
  log: HttpIngestLogger;
  /** Clock for the status' timestamps, in ms since the epoch; default Date.now. */
  nowMs?: () => number;
}

export interface HttpIngestStats {
  requests: number;
  rowsAccepted: number;
  rejected: number;
  lastRejection: { atMs: number; reason: string; kind: RejectionKind } | null;
  lastRowAtMs: number | null;
}

const INGEST_PATH = new RegExp(`^/v1/ingest/${STREAM_NAME_GROUP}$`);
const RECORD_PATH = new RegExp(`^/v1/records/${STREAM_NAME_GROUP}/(.+)$`);

/** The HTTP ingest API as a Source; handle() takes the requests the agent's router hands it. */
export class HttpIngestSource implements Source {
  readonly name = HTTP_SOURCE;
  readonly kind = 'http' as const;
  readonly stats: HttpIngestStats = { requests: 0, rowsAccepted: 0, rejected: 0, lastRejection: null, lastRowAtMs: null };
  private readonly localApps: LocalAppAuth;
  /** Commits of ingest slices, one at a time across requests. */
  private readonly ingestLane = new IngestLane();
  /** Parse slices, one per turn of the event loop across requests: ten big bodies cost HL7 one slice per turn, not ten. */
  private readonly parseLane = new IngestLane();
  private readonly nowMs: () => number;

  constructor(private readonly options: HttpIngestSourceOptions) {
    this.localApps = options.localApps ?? new LocalAppAuth({ clients: [], anonymous: 'loopback', anonymousExplicit: false });
    this.nowMs = options.nowMs ?? (() => Date.now());
  }

  /** Binds nothing: requests arrive through the agent's HTTP listener, which its owner starts. */
  start(): Promise<null> {
    return Promise.resolve(null);
  }

  /** Nothing to close: the agent's HTTP listener lets requests in progress finish when it stops. */
  stop(): Promise<void> {
    return Promise.resolve();
  }

  status(): SourceStatus {
    const { stats } = this;
    return {
      name: HTTP_SOURCE,
      kind: 'http',
      state: 'listening',
      received: stats.requests,
      acknowledged: stats.requests - stats.rejected,
      rejected: stats.rejected,
      duplicates: 0,
      lastRejection: stats.lastRejection,
      lastMessageAtMs: stats.lastRowAtMs,
    };
  }

  /** Answers `req` when its path is this source's (/v1/ingest/…, GET or HEAD /v1/records/…); false when it is not. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const path = url.pathname;
    if (req.method === 'GET' || req.method === 'HEAD') {
      const record = RECORD_PATH.exec(path);
      if (record) {
        this.getRecord(req, res, record[1]!, record[2]!);
        return true;
      }
    }
    if (!path.startsWith('/v1/ingest/')) return false;
    if (req.method !== 'POST') {
      sendError(res, 405, 'method_not_allowed', 'use POST to ingest rows', { allow: 'POST' });
      return true;
    }
    const match = INGEST_PATH.exec(path);
    if (!match) {
      sendError(res, 400, 'bad_stream', 'stream names are letters, digits, ".", "_" or "-" (at most 128)');
      return true;
    }
    await this.ingest(req, res, match[1]!, url);
    return true;
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
    this.stats.requests++;
    const reject = (status: number, code: string, message: string, extra: object = {}): void => {
      this.stats.rejected++;
      this.stats.lastRejection = { atMs: this.nowMs(), reason: message, kind: httpRejectionKind(code) };
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
        this.stats.rowsAccepted += result.duplicate ? 0 : slice.length;
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
    this.stats.lastRowAtMs = this.nowMs();
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

/** The route of a path for a log line: a record's key (a patient id) left out. */
export function ingestRouteOf(path: string): string {
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
