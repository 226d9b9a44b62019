// The JSON shape of one event as vendors read it (one NDJSON line of
// GET /v1/feeds/{feed}/events, a NATS JetStream message, `wardline feed tail`).
// Part of the external contract: protocol/schema/feed-event.schema.json describes
// it, vendor-event.ts maps the same logical event to gRPC, and docs/vendor-guide.md
// says what each field means. The export's event lines (export-format.ts) are the
// same document without the feed context (hospital, feed, prevSeq).
import { isUtf8 } from 'node:buffer';
import type { JournalEvent } from './event.js';
import { BLOB_REF_CONTENT_TYPE } from './imaging-instance.js';

/** Where an event sits in the feed a vendor reads: absent only in the export's lines, which name their feed once in the manifest. */
export interface VendorEventContext {
  hospital: string;
  feed: string;
  /** The seq of the feed's previous event passing the read's filters; 0 when there is none (see FeedEvent.prev_seq). */
  prevSeq: number;
}

export interface VendorEventJson {
  hospital?: string;
  feed?: string;
  seq: number;
  /** The seq of the previous event in the feed (with the read's filters); 0 for none. */
  prevSeq?: number;
  stream: string;
  key: string;
  op: 'upsert' | 'delete';
  /** Commit time at the agent, ISO 8601. */
  ts: string;
  source: string;
  contentType: string;
  /** hl7v2: the message text; json: the row as a JSON value; blob-ref: the imaging instance (ImagingInstanceBody) as a JSON value. */
  body?: unknown;
  /** Any other content type: the bytes, base64. */
  bodyBase64?: string;
  headers: Record<string, string>;
}

export function toVendorEventJson(event: JournalEvent, context?: VendorEventContext): VendorEventJson {
  const json: VendorEventJson = { ...envelopeOf(event, context), headers: event.headers };
  // The agent stores hl7v2 as UTF-8 and json only when it parses, so the fallback
  // to base64 guards against damaged data: a vendor never gets silently altered text.
  if (event.contentType === 'hl7v2' && isUtf8(event.body)) json.body = event.body.toString('utf8');
  else if (isJsonContentType(event.contentType) && isUtf8(event.body)) {
    const parsed = parseJson(event.body.toString('utf8'));
    if (parsed.ok) json.body = parsed.value;
    else json.bodyBase64 = event.body.toString('base64');
  } else json.bodyBase64 = event.body.toString('base64');
  return json;
}

/**
 * One NDJSON line (with its "\n") for `event`, the same document as
 * JSON.stringify(toVendorEventJson(event)) except that a json body is the stored
 * text itself, not a re-serialisation: JSON.stringify recurses once per nesting
 * level and throws on a deeply nested row (around 10,000 levels, fewer on a deep
 * stack), which would fail every page holding it, for good. JSON.parse (which V8
 * runs without recursion) only checks that the text is JSON; text that is not,
 * or that cannot be checked, is sent as bodyBase64 like any damaged body. Big
 * integers and number spelling reach the vendor as the source wrote them.
 */
export function toVendorEventLine(event: JournalEvent, context?: VendorEventContext): string {
  const text = isJsonContentType(event.contentType) && isUtf8(event.body) ? event.body.toString('utf8') : undefined;
  if (text === undefined || !parseJson(text).ok) return `${JSON.stringify(toVendorEventJson(event, context))}\n`;
  // Raw CR and LF can only be whitespace between JSON tokens (inside strings they must be escaped), so
  // replacing them keeps the value and keeps the line one line.
  const body = /[\r\n]/.test(text) ? text.replace(/[\r\n]/g, ' ') : text;
  return `${JSON.stringify({ ...envelopeOf(event, context), headers: event.headers }).slice(0, -1)},"body":${body}}\n`;
}

/** Content types whose body is JSON text: a json row, and a blob-ref event's imaging instance (which names where to GET it). */
function isJsonContentType(contentType: string): boolean {
  return contentType === 'json' || contentType === BLOB_REF_CONTENT_TYPE;
}

/**
 * The fields before headers and body: the feed context first, then the event's
 * fields in the order vendors have always seen them. Built as object literals,
 * not with conditional spreads: those made slow dictionary-mode objects, and 40
 * unread pages being written held three times the memory
 * (test/security/relay-feed-exhaustion.int.test.ts).
 */
function envelopeOf(event: JournalEvent, context: VendorEventContext | undefined): Omit<VendorEventJson, 'body' | 'bodyBase64' | 'headers'> {
  const fields = {
    stream: event.stream,
    key: event.key,
    op: event.op,
    ts: new Date(event.tsMs).toISOString(),
    source: event.source,
    contentType: event.contentType,
  };
  if (context === undefined) return { seq: event.seq, ...fields };
  return { hospital: context.hospital, feed: context.feed, seq: event.seq, prevSeq: context.prevSeq, ...fields };
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}
