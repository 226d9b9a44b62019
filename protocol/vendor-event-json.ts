// The JSON shape of one event as vendors read it (one NDJSON line of
// GET /v1/feeds/{feed}/events, and `wardline feed tail`). Part of the external contract.
import { isUtf8 } from 'node:buffer';
import type { JournalEvent } from './event.js';

export interface VendorEventJson {
  seq: number;
  stream: string;
  key: string;
  op: 'upsert' | 'delete';
  /** Commit time at the agent, ISO 8601. */
  ts: string;
  source: string;
  contentType: string;
  /** hl7v2: the message text; json: the row as a JSON value. */
  body?: unknown;
  /** Any other content type: the bytes, base64. */
  bodyBase64?: string;
  headers: Record<string, string>;
}

export function toVendorEventJson(event: JournalEvent): VendorEventJson {
  const json: VendorEventJson = {
    seq: event.seq,
    stream: event.stream,
    key: event.key,
    op: event.op,
    ts: new Date(event.tsMs).toISOString(),
    source: event.source,
    contentType: event.contentType,
    headers: event.headers,
  };
  // The agent stores hl7v2 as UTF-8 and json only when it parses, so the fallback
  // to base64 guards against damaged data: a vendor never gets silently altered text.
  if (event.contentType === 'hl7v2' && isUtf8(event.body)) json.body = event.body.toString('utf8');
  else if (event.contentType === 'json' && isUtf8(event.body)) {
    const parsed = parseJson(event.body.toString('utf8'));
    if (parsed.ok) json.body = parsed.value;
    else json.bodyBase64 = event.body.toString('base64');
  } else json.bodyBase64 = event.body.toString('base64');
  return json;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}
