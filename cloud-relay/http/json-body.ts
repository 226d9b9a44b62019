// JSON bodies of the relay's HTTP API: a request's, read whole under a small
// bound, and an answer's, one document and a newline.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadRequestError } from '../errors.js';

/** Enrolment bodies are a token and a CSR, commits a cursor: a few kilobytes. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

/** The request body parsed as JSON; BadRequestError (parameter "body") past MAX_JSON_BODY_BYTES or when it is not JSON. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BODY_BYTES) throw new BadRequestError(`body: larger than ${MAX_JSON_BODY_BYTES} bytes`, 'body');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new BadRequestError('body: expected JSON', 'body');
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }).end(`${JSON.stringify(body)}\n`);
}
