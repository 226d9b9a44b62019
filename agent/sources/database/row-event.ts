// A captured row change as a journal event, the same for every database kind:
// stream `<source>.<table>` (or the table's own), key the primary key (one column's
// text, or a JSON array of the columns' texts when composite, so "1|2" and ["1","2"]
// never collide), op upsert or delete, body the row as JSON with types that survive
// the trip, headers with the table, the position, the transaction and its commit time.
import type { EventInput } from '../../store/index.js';

/** A column value as it goes into the JSON body (see canonicalValue). */
export type CaptureValue = string | number | boolean | null | CaptureValue[] | { [key: string]: CaptureValue };
export type CaptureRow = Record<string, CaptureValue>;

/** The content type of a captured row's body. */
export const CAPTURE_CONTENT_TYPE = 'json';

/**
 * A driver's value in the form that survives JSON and every consumer's parser:
 * bigint and exact numerics as strings (a driver hands NUMERIC/DECIMAL as text
 * already; keep it), binary as base64, dates as ISO 8601 in UTC (with the Z),
 * JSON columns as themselves. Numbers are kept only when they are safe integers or
 * floating-point columns (the driver decides; pass text for exact types).
 */
export function canonicalValue(value: unknown): CaptureValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (Array.isArray(value)) return value.map(canonicalValue);
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'object') {
    const out: Record<string, CaptureValue> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = canonicalValue(v);
    return out;
  }
  return value as string | boolean;
}

/** The key of a row: one column's text, or the JSON array of the texts of a composite key. */
export function captureKey(keyValues: readonly CaptureValue[]): string {
  const texts = keyValues.map((v) => (v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v)));
  return texts.length === 1 ? texts[0]! : JSON.stringify(texts);
}

/** The headers every captured event carries (plus any the kind adds). */
export interface CaptureHeaders {
  /** "schema.table" as the server names it. */
  table: string;
  /** The position of the change's transaction (LSN, GTID, watermark) as text. */
  position: string;
  /** The source database's transaction id, where it has one. */
  txid?: string;
  /** When the transaction committed in the source database, ISO 8601. */
  commitTime?: string;
  /** The table's schema version when the row was read. */
  schemaVersion: number;
  /** "true" on rows copied by the snapshot rather than read from the change stream. */
  snapshot?: 'true';
}

export interface RowChange {
  stream: string;
  op: 'upsert' | 'delete';
  /** The key columns' values, in key order. */
  key: readonly CaptureValue[];
  /** The row (for a delete: what the server sent, at least the key). */
  row: CaptureRow;
  headers: CaptureHeaders;
}

/** A row change as the journal event a capture source appends. */
export function rowEvent(change: RowChange): EventInput {
  const headers: Record<string, string> = {
    table: change.headers.table,
    position: change.headers.position,
    schemaVersion: String(change.headers.schemaVersion),
  };
  if (change.headers.txid !== undefined) headers.txid = change.headers.txid;
  if (change.headers.commitTime !== undefined) headers.commitTime = change.headers.commitTime;
  if (change.headers.snapshot) headers.snapshot = 'true';
  return {
    stream: change.stream,
    key: captureKey(change.key),
    op: change.op,
    contentType: CAPTURE_CONTENT_TYPE,
    body: Buffer.from(JSON.stringify(change.row)),
    headers,
  };
}
