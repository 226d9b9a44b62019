// The archive's HTTP API, behind the same login as the message browser
// (operator-routes.ts):
//   GET /v1/studies/{studyUid}                                                 the study: series, instances, per-feed acks
//   GET /v1/studies/{studyUid}/series/{seriesUid}/instances/{sopInstanceUid}   the instance, application/dicom
//
// Failure modes handled:
//  1. A UID that is not one (letters, a trailing dot, 65 characters): 400 naming
//     the path segment and what a UID looks like.
//  2. A study or instance the archive does not hold: 404 saying which.
//  3. A corrupt chunk (WL_A026): the first chunk is read before the headers go,
//     so a corrupt first chunk is a 500 naming WL_A026 and the chunk; a later one
//     cuts the connection mid-body (Content-Length is then short, so no client
//     takes the bytes for the instance). Never wrong bytes.
//  4. A large instance: streamed chunk by chunk with backpressure, never whole in memory.
//  5. A client that goes away mid-download: the archive stream is destroyed, nothing more is read.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { DicomUidSchema } from '../../protocol/index.js';
import { ArchiveCorruptError, type StudyBrowser } from '../imaging/index.js';
import { sendError, sendJson } from './json-response.js';

const PREFIX = '/v1/studies/';

/** Whether the path is one of the study routes (operator-routes.ts guards these). */
export function isStudyRoute(path: string): boolean {
  return path.startsWith(PREFIX);
}

export interface ImagingRoutesLogger {
  error(fields: object, message: string): void;
}

/** Serves the study routes; false for any other path. */
export async function answerImagingRoute(browser: StudyBrowser, req: IncomingMessage, res: ServerResponse, url: URL, log: ImagingRoutesLogger): Promise<boolean> {
  const path = url.pathname;
  if (!isStudyRoute(path)) return false;
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    req.resume();
    sendError(res, 405, 'method_not_allowed', `use GET for ${PREFIX}…`, { allow: 'GET, HEAD' });
    return true;
  }
  const parts = path.slice(PREFIX.length).split('/').map(decodeSegment);
  const shape = parts.length === 1 ? 'study' : parts.length === 5 && parts[1] === 'series' && parts[3] === 'instances' ? 'instance' : undefined;
  if (!shape) {
    sendError(res, 404, 'not_found', `expected ${PREFIX}{studyUid} or ${PREFIX}{studyUid}/series/{seriesUid}/instances/{sopInstanceUid}`);
    return true;
  }
  const named = shape === 'study' ? [['studyUid', parts[0]!]] : [['studyUid', parts[0]!], ['seriesUid', parts[2]!], ['sopInstanceUid', parts[4]!]];
  for (const [name, value] of named) {
    if (value === undefined || !DicomUidSchema.safeParse(value).success) {
      sendError(res, 400, 'bad_request', `${name}: expected a DICOM UID (digits and dots, at most 64 characters), got "${value ?? ''}"`);
      return true;
    }
  }
  const [studyUid, , seriesUid, , sopInstanceUid] = parts as [string, string, string, string, string];
  if (shape === 'study') {
    const view = await browser.study(studyUid);
    if (!view) sendError(res, 404, 'not_found', `study ${studyUid} is not in the archive (never received, or removed by archive retention)`);
    else sendJson(res, 200, view);
    return true;
  }
  const download = await browser.instance(studyUid, seriesUid, sopInstanceUid);
  if (!download) {
    sendError(res, 404, 'not_found', `instance ${sopInstanceUid} of series ${seriesUid} in study ${studyUid} is not in the archive`);
    return true;
  }
  const { body } = download.instance;
  const etag = `"${body.sha256}"`;
  const headers = {
    'content-type': 'application/dicom',
    'content-length': String(body.size),
    etag,
    'cache-control': 'private, no-cache',
    'content-disposition': `attachment; filename="${body.sopInstanceUid}.dcm"`,
    'x-content-type-options': 'nosniff',
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { etag, 'cache-control': headers['cache-control'] }).end();
    return true;
  }
  if (method === 'HEAD') {
    res.writeHead(200, headers).end();
    return true;
  }
  await sendInstance(download.open(), res, headers, (error) =>
    log.error({ err: error, sha256: body.sha256 }, `instance download cut mid-body: ${(error as Error).message}`),
  );
  return true;
}

/** Sends the stream after its first chunk has been read (and verified) without error; see failure mode 3. */
async function sendInstance(stream: Readable, res: ServerResponse, headers: Record<string, string>, cut: (error: unknown) => void): Promise<void> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first: IteratorResult<Buffer>;
  try {
    first = await iterator.next();
  } catch (error) {
    stream.destroy();
    if (error instanceof ArchiveCorruptError) return sendError(res, 500, error.code, error.message);
    throw error;
  }
  res.writeHead(200, headers);
  res.on('close', () => stream.destroy());
  try {
    for (let next = first; !next.done; next = await iterator.next()) {
      if (!res.write(next.value)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
      if (res.destroyed) return;
    }
    res.end();
  } catch (error) {
    // Headers are out: cut the connection so the short body is not taken for the instance.
    cut(error);
    res.destroy();
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
