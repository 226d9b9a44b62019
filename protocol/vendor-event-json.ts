// The JSON shape of one event as vendors read it (one NDJSON line of
// GET /v1/feeds/{feed}/events, and `wardline feed tail`). Part of the external contract.
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
  if (event.contentType === 'hl7v2') json.body = event.body.toString('utf8');
  else if (event.contentType === 'json') json.body = parseJsonOrText(event.body.toString('utf8'));
  else json.bodyBase64 = event.body.toString('base64');
  return json;
}

function parseJsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // A json event the agent accepted is always valid JSON; this guards only
    // against a relay restored from an older or damaged export.
    return text;
  }
}
