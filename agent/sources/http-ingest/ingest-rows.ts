// Turns the body of POST /v1/ingest/{stream} into journal events: a JSON object or
// an array of objects, each with a non-empty `key` (string or number).
//
// Failure modes handled:
//  1. A body of many megabytes: scanned and parsed a slice at a time (about
//     `sliceBytes` of work each), giving the event loop back between slices, so
//     HL7 ACKs and other requests never wait behind one big JSON.parse.
//  2. A row too deep or too large: refused by the scan (json-row-scanner.ts) with
//     a 400 naming the limit, before anything recursive touches it.
//  3. A rejection never quotes the body: V8's JSON messages echo the text they
//     choked on (a patient's name), so only the row and the byte offset are said.
import type { EventOp } from '../../../protocol/index.js';
import type { EventInput } from '../../store/index.js';
import { AgentError, AgentErrorCode } from '../../errors.js';
import { RowScanError, scanJsonRows, type RowScanLimits, type RowSpan } from './json-row-scanner.js';

export class IngestRequestError extends AgentError {
  constructor(message: string, readonly httpStatus: number, options?: { cause?: unknown }) {
    super(message, AgentErrorCode.INGEST_REQUEST, options);
  }
}

/** About this many bytes of body are scanned and parsed between two yields of the event loop. */
export const DEFAULT_PARSE_SLICE_BYTES = 256 * 1024;

export interface ParseIngestOptions {
  limits: RowScanLimits;
  /** Bytes of work between two calls of `pause`. Default DEFAULT_PARSE_SLICE_BYTES. */
  sliceBytes?: number;
  /** Gives the event loop back between slices (setImmediate in the server). */
  pause: () => Promise<void>;
}

export async function parseIngestRows(stream: string, body: Uint8Array, op: EventOp, options: ParseIngestOptions): Promise<EventInput[]> {
  const sliceBytes = options.sliceBytes ?? DEFAULT_PARSE_SLICE_BYTES;
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const events: EventInput[] = [];
  // Parsing a row costs more than scanning it: its bytes count toward the slice too.
  let work = 0;
  try {
    for (const span of scanJsonRows(body, options.limits, sliceBytes)) {
      if (span === null) work += sliceBytes;
      else {
        events.push(rowToEvent(stream, op, text, span));
        work += span.end - span.start;
      }
      if (work >= sliceBytes) {
        work = 0;
        await options.pause();
      }
    }
  } catch (error) {
    if (error instanceof RowScanError) throw new IngestRequestError(error.message, error.httpStatus);
    throw error;
  }
  return events;
}

function rowToEvent(stream: string, op: EventOp, text: Buffer, { start, end, where }: RowSpan): EventInput {
  let row: Record<string, unknown>;
  try {
    row = JSON.parse(text.toString('utf8', start, end)) as Record<string, unknown>;
  } catch {
    throw new IngestRequestError(`${where} is not valid JSON (it starts at byte ${start} of the body)`, 400);
  }
  const key = row.key;
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
}
