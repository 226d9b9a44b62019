// Turns the body of POST /v1/ingest/{stream} into journal events: a JSON object or
// an array of objects, each with a non-empty `key` (string or number). Pure, so
// every way a local application can get it wrong has a precise message.
import type { EventOp } from '../../protocol/index.js';
import type { EventInput } from '../store/index.js';

export class IngestRequestError extends Error {
  override name = 'IngestRequestError';
  constructor(
    message: string,
    readonly httpStatus: number,
  ) {
    super(message);
  }
}

/** Most rows accepted in one request. */
export const MAX_ROWS_PER_REQUEST = 10_000;

export function parseIngestRows(stream: string, text: string, op: EventOp): EventInput[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new IngestRequestError(`body is not valid JSON: ${(cause as Error).message}`, 400);
  }
  const rows = Array.isArray(parsed) ? parsed : [parsed];
  if (rows.length === 0) throw new IngestRequestError('body is an empty array: nothing to ingest', 400);
  if (rows.length > MAX_ROWS_PER_REQUEST) {
    throw new IngestRequestError(`body holds ${rows.length} rows; at most ${MAX_ROWS_PER_REQUEST} per request`, 413);
  }
  return rows.map((row, i) => {
    const where = Array.isArray(parsed) ? `row ${i}` : 'the row';
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new IngestRequestError(`${where} is not a JSON object`, 400);
    }
    const key = (row as Record<string, unknown>).key;
    if (!((typeof key === 'string' && key.length > 0) || (typeof key === 'number' && Number.isFinite(key)))) {
      throw new IngestRequestError(`${where} has no "key" (expected a non-empty string or a number)`, 400);
    }
    return {
      stream,
      key: String(key),
      op,
      contentType: 'json',
      body: Buffer.from(JSON.stringify(row), 'utf8'),
      headers: {},
    };
  });
}
