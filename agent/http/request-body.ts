import type { IncomingMessage } from 'node:http';
import { BodyTooLargeError } from './errors.js';

/**
 * Reads a request body as bytes, refusing one larger than `limitBytes` (BodyTooLargeError;
 * the rest is drained, not buffered). With a Content-Length the buffer is allocated once
 * and filled as chunks arrive: concatenating 14 MB at the end would hold the event loop
 * for tens of milliseconds in one go.
 */
export function readBodyBytes(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    const into = Number.isSafeInteger(declared) && declared >= 0 && declared <= limitBytes ? Buffer.allocUnsafe(declared) : null;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size + chunk.length > limitBytes || (into !== null && size + chunk.length > into.length)) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLargeError(limitBytes));
        return;
      }
      if (into !== null) chunk.copy(into, size);
      else chunks.push(chunk);
      size += chunk.length;
    });
    req.on('end', () => resolve(into !== null ? into.subarray(0, size) : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/** Reads a request body as UTF-8, refusing one larger than `limitBytes` (the rest is drained, not buffered). */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<string> {
  return (await readBodyBytes(req, limitBytes)).toString('utf8');
}
