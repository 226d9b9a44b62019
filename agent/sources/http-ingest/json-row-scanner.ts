// Splits an ingest body (one JSON object, or an array of them) into the byte
// spans of its rows without parsing it, checking each row's depth and size on
// the way. Structural characters of JSON are ASCII, so the scan runs over the
// UTF-8 bytes as they arrived; each row is then parsed on its own, small.
//
// Failure modes handled:
//  1. A row nested thousands of levels deep: refused as soon as the scan passes
//     the depth limit, before anything recursive (JSON.parse, JSON.stringify, a
//     vendor's reader) sees it.
//  2. A row larger than the row limit: refused when its span passes the limit.
//  3. A 16 MB body: the scan stops after every `sliceBytes` with a `null` in the
//     sequence, so its driver can give the event loop back (HL7 ACKs go first).
//  4. Unbalanced or truncated text, or something after the top level: a precise
//     error with the byte offset, never the text itself (it may hold a patient's
//     name).
import { AgentError, AgentErrorCode } from '../../errors.js';

/** A row's bytes in the body: [start, end). */
export interface RowSpan {
  start: number;
  end: number;
  /** "row 3" in an array, "the row" for a body that is one object: how errors name it. */
  where: string;
}

export interface RowScanLimits {
  /** Deepest nesting of one row; the row object itself is 1. */
  maxRowDepth: number;
  /** Largest row, in bytes. */
  maxRowBytes: number;
  /** Most rows. */
  maxRows: number;
}

/** What was wrong with a body: the rule broken, where, and the HTTP status that says so. */
export class RowScanError extends AgentError {
  constructor(message: string, readonly httpStatus: 400 | 413, readonly rule: 'json' | 'shape' | 'depth' | 'row_size' | 'rows', options?: { cause?: unknown }) {
    super(message, AgentErrorCode.INGEST_ROWS, options);
  }
}

const OPEN_OBJECT = 0x7b; // {
const CLOSE_OBJECT = 0x7d; // }
const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

/** The index of the quote that ends the string `from` is in (an unescaped `"`), or -1. */
function closingQuote(body: Uint8Array, from: number): number {
  for (let at = from; ; at++) {
    at = body.indexOf(QUOTE, at);
    if (at < 0) return -1;
    let backslashes = 0;
    while (at - 1 - backslashes >= from && body[at - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * Yields each row's span in order, and `null` after every `sliceBytes` scanned
 * (a place to yield the event loop). Throws RowScanError for a body that breaks
 * a limit or is not an object or array of objects at the top level. The spans
 * are not validated JSON: each must still be parsed.
 */
export function* scanJsonRows(body: Uint8Array, limits: RowScanLimits, sliceBytes: number): Generator<RowSpan | null, void, undefined> {
  let i = 0;
  while (i < body.length && isSpace(body[i]!)) i++;
  if (i === body.length) throw new RowScanError('body is empty: expected a JSON object or an array of objects', 400, 'json');
  const first = body[i]!;
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) throw new RowScanError('body is not a JSON object or an array of objects', 400, 'shape');
  const isArray = first === OPEN_ARRAY;
  if (isArray) i++;
  // Nesting inside the current row: the row object itself is 1, between rows 0.
  let depth = 0;
  let inString = false;
  let rowStart = -1;
  /** Between rows of the array: true after a row, until the comma. */
  let afterRow = false;
  let rows = 0;
  let closed = false;
  let nextPause = i + sliceBytes;
  const where = (): string => (isArray ? `row ${rows}` : 'the row');

  for (; i < body.length && !closed; i++) {
    if (i >= nextPause) {
      nextPause = i + sliceBytes;
      yield null;
    }
    const byte = body[i]!;
    if (depth > 0 && i - rowStart >= limits.maxRowBytes) {
      throw new RowScanError(`${where()} is larger than ${limits.maxRowBytes} bytes (http.ingest.maxRowBytes)`, 400, 'row_size');
    }
    if (inString) {
      // Strings are most of a row: jump to the closing quote natively rather than byte by byte.
      const close = closingQuote(body, i);
      if (close < 0) break;
      if (close - rowStart >= limits.maxRowBytes) {
        throw new RowScanError(`${where()} is larger than ${limits.maxRowBytes} bytes (http.ingest.maxRowBytes)`, 400, 'row_size');
      }
      i = close;
      inString = false;
      continue;
    }
    if (isSpace(byte)) continue;
    if (depth === 0) {
      // Between rows (only an array has more than one).
      if (isArray && byte === COMMA && afterRow) {
        afterRow = false;
        continue;
      }
      if (isArray && byte === CLOSE_ARRAY && (afterRow || rows === 0)) {
        closed = true;
        continue;
      }
      if (afterRow) throw new RowScanError(`body is not valid JSON: expected "," or "]" after row ${rows - 1}, at byte ${i}`, 400, 'json');
      if (byte !== OPEN_OBJECT) throw new RowScanError(`${where()} is not a JSON object (at byte ${i})`, 400, 'shape');
      if (rows >= limits.maxRows) throw new RowScanError(`body holds more than ${limits.maxRows} rows; at most ${limits.maxRows} per request`, 413, 'rows');
      rowStart = i;
    }
    if (byte === QUOTE) inString = true;
    else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      depth++;
      if (depth > limits.maxRowDepth) throw new RowScanError(`${where()} is nested deeper than ${limits.maxRowDepth} levels (http.ingest.maxRowDepth)`, 400, 'depth');
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
      depth--;
      if (depth === 0) {
        yield { start: rowStart, end: i + 1, where: where() };
        rows++;
        afterRow = true;
        if (!isArray) closed = true;
      }
    }
  }
  if (!closed) throw new RowScanError('body is not valid JSON: it ends before the last row or array is closed', 400, 'json');
  for (; i < body.length; i++) {
    if (!isSpace(body[i]!)) throw new RowScanError(`body is not valid JSON: unexpected text after the end, at byte ${i}`, 400, 'json');
  }
  if (rows === 0) throw new RowScanError('body is an empty array: nothing to ingest', 400, 'json');
}
