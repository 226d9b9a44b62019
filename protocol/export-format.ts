// The signed export directory (`wardline relay export`, the Export RPC) as both
// sides read it: the relay writes it (cloud-relay/exit), the agent verifies and
// restores from it (agent/exit). Everything both must agree on is here — file
// names, the manifest's shape, one NDJSON line per event — so the writer and
// the verifier cannot drift apart.
//
//   manifest.json          FHIR Bulk Data-shaped manifest, signed
//   manifest.json.minisig  minisign signature of manifest.json by the relay key
//   relay-signing.pub      the relay's public key (a convenience: check against a copy you trust)
//   SHA256SUMS             `sha256sum -c` lines for every file of output[]
//   feeds/<feed>.ndjson    one line per event (exportEventLine)
//   blobs/<sha256>         each chunk the feeds' blob-ref events name
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { JournalEvent } from './event.js';
import { BLOB_REF_CONTENT_TYPE } from './imaging-instance.js';
import { NAME_PATTERN } from './names.js';
import { toVendorEventJson, toVendorEventLine } from './vendor-event-json.js';

/** extension.wardline.format of every export this release writes. */
export const EXPORT_FORMAT = 'wardline-export-v1';
export const EXPORT_MANIFEST_FILE = 'manifest.json';
export const EXPORT_SIGNATURE_FILE = 'manifest.json.minisig';
export const EXPORT_PUBLIC_KEY_FILE = 'relay-signing.pub';
export const EXPORT_SUMS_FILE = 'SHA256SUMS';
/** The files of an export that output[] does not list, in the order the relay writes (and streams) them last. */
export const EXPORT_FIXED_FILES = [EXPORT_SUMS_FILE, EXPORT_PUBLIC_KEY_FILE, EXPORT_MANIFEST_FILE, EXPORT_SIGNATURE_FILE] as const;
/** output[].type of a feed's NDJSON file. */
export const FEED_EVENTS_TYPE = 'WardlineFeedEvents';
/** output[].type of one blob chunk. */
export const BLOB_CHUNK_TYPE = 'WardlineBlobChunk';
/** The untrusted comment line of every export signature (the verifier insists on it, so no byte of the file goes unchecked). */
export const EXPORT_SIGNATURE_COMMENT = 'signature from wardline relay export';

/** The path of a feed's NDJSON file inside the export. */
export function feedExportPath(feed: string): string {
  return `feeds/${feed}.ndjson`;
}

/** The path of a blob chunk inside the export. */
export function blobExportPath(chunkSha256: string): string {
  return `blobs/${chunkSha256}`;
}

const FEED_PATH = /^feeds\/([A-Za-z0-9._-]{1,128})\.ndjson$/;
const BLOB_PATH = /^blobs\/([0-9a-f]{64})$/;

/**
 * True for a path an export may hold: a fixed file, a feed's NDJSON or a blob
 * chunk, "/"-separated, never "..", never absolute. A client writing parts it
 * receives takes no other path, so a relay cannot write outside the directory.
 */
export function isExportPath(path: string): boolean {
  if ((EXPORT_FIXED_FILES as readonly string[]).includes(path)) return true;
  const feed = FEED_PATH.exec(path);
  if (feed) return NAME_PATTERN.test(feed[1]!) && feed[1] !== '.' && feed[1] !== '..';
  return BLOB_PATH.test(path);
}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 as 64 lowercase hex digits');
const count = z.number().int().nonnegative();

export const ExportFeedOutputSchema = z.strictObject({
  type: z.literal(FEED_EVENTS_TYPE),
  url: z.string(),
  feed: z.string().regex(NAME_PATTERN),
  count,
  bytes: count,
  sha256: sha256Hex,
});
export const ExportBlobOutputSchema = z.strictObject({
  type: z.literal(BLOB_CHUNK_TYPE),
  url: z.string(),
  count: z.literal(1),
  bytes: count,
  sha256: sha256Hex,
});
export const ExportOutputSchema = z.discriminatedUnion('type', [ExportFeedOutputSchema, ExportBlobOutputSchema]);

/** What the relay held of one feed when it exported it (from scanFeed and the feed's position). */
export const ExportFeedSchema = z.strictObject({
  feed: z.string().regex(NAME_PATTERN),
  /** The last seq stored (agents resume after it). */
  highWaterSeq: count,
  /** The last seq vendors may read; the export holds every event through it. */
  visibleSeq: count,
  events: count,
  bodyBytes: count,
  /** Leaves of the RFC 9162 tree over (seq, SHA-256 of body): equal to events. */
  treeSize: count,
  merkleRoot: sha256Hex,
});

/** The newest egress-ledger head the relay received from the hospital's agent for a feed (0 and "" before any). */
export const ExportLedgerHeadSchema = z.strictObject({
  feed: z.string().regex(NAME_PATTERN),
  ledgerIndex: count,
  ledgerHead: z.union([sha256Hex, z.literal('')]),
});

export const ExportManifestSchema = z.strictObject({
  /** ISO 8601: when the relay started reading (FHIR Bulk Data's transactionTime). */
  transactionTime: z.string(),
  request: z.string(),
  requiresAccessToken: z.literal(false),
  output: z.array(ExportOutputSchema),
  error: z.array(z.unknown()).max(0),
  extension: z.strictObject({
    wardline: z.strictObject({
      format: z.literal(EXPORT_FORMAT),
      hospital: z.string().min(1),
      relayId: z.string(),
      /** The signing key's id as minisign prints it. */
      signingKeyId: z.string(),
      feeds: z.array(ExportFeedSchema),
      ledgerHeads: z.array(ExportLedgerHeadSchema),
    }),
  }),
});

export type ExportOutput = z.output<typeof ExportOutputSchema>;
export type ExportFeed = z.output<typeof ExportFeedSchema>;
export type ExportLedgerHead = z.output<typeof ExportLedgerHeadSchema>;
export type ExportManifest = z.output<typeof ExportManifestSchema>;

/** The manifest file's bytes: two-space JSON and a final newline. */
export function exportManifestText(manifest: ExportManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** SHA256SUMS for these outputs: `<hex>  <path>` lines, as `sha256sum` writes and `sha256sum -c` reads them. */
export function exportSumsText(output: readonly ExportOutput[]): string {
  return output.map((o) => `${o.sha256}  ${o.url}\n`).join('');
}

/**
 * The signature's trusted comment: what the relay vouches for besides the
 * manifest's bytes, shown by `minisign -V`. One line.
 */
export function exportTrustedComment(hospital: string, transactionTime: string, manifestSha256: string): string {
  return `${EXPORT_FORMAT} hospital=${hospital} time=${transactionTime} manifest-sha256=${manifestSha256}`;
}

/** Reads a trusted comment back; undefined when it is not one exportTrustedComment wrote. */
export function parseExportTrustedComment(text: string): { hospital: string; transactionTime: string; manifestSha256: string } | undefined {
  const match = /^wardline-export-v1 hospital=(\S+) time=(\S+) manifest-sha256=([0-9a-f]{64})$/.exec(text);
  return match ? { hospital: match[1]!, transactionTime: match[2]!, manifestSha256: match[3]! } : undefined;
}

/**
 * One NDJSON line (with its "\n") of a feed's export file: the vendor line
 * (toVendorEventLine) with "bodySha256" added before the final "}". A json
 * body whose raw text holds CR or LF is the one exception: the vendor line
 * turns those into spaces, which would lose the body's exact bytes (and so its
 * hash and its Merkle leaf), so such a body is written as bodyBase64, the
 * vendor format's own form for a body it does not pass through as is.
 */
export function exportEventLine(event: JournalEvent, bodySha256: Uint8Array): string {
  const hash = Buffer.from(bodySha256).toString('hex');
  if (isJsonContentType(event.contentType) && (event.body.includes(CR) || event.body.includes(LF))) {
    const vendor = toVendorEventJson(event);
    if (vendor.body !== undefined) {
      delete vendor.body;
      vendor.bodyBase64 = event.body.toString('base64');
      return `${JSON.stringify(vendor).slice(0, -1)},"bodySha256":"${hash}"}\n`;
    }
  }
  const line = toVendorEventLine(event);
  return `${line.slice(0, -2)},"bodySha256":"${hash}"}\n`;
}

/** A line of an export file read back: the event as the relay held it and the hash the line claims for its body. */
export interface ParsedExportLine {
  event: JournalEvent;
  /** The line's bodySha256, hex (not checked here: compare with SHA-256 of event.body). */
  bodySha256: string;
}

/** A line that is not one exportEventLine writes; the message says what is wrong. */
export class ExportLineError extends Error {
  override name = 'ExportLineError';
}

/**
 * Parses one line (without its "\n") of a feed's export file back into the
 * event: hl7v2 text as UTF-8 bytes, bodyBase64 as its bytes, a json body as
 * the raw JSON text of the line's body member. The line must be exactly what
 * exportEventLine writes for that event, so nothing in it goes unchecked.
 * @throws ExportLineError naming what is wrong.
 */
export function parseExportEventLine(line: string): ParsedExportLine {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(line) as Record<string, unknown>;
  } catch (error) {
    throw new ExportLineError(`not JSON: ${(error as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ExportLineError('not a JSON object');
  const { seq, stream, key, op, ts, source, contentType, headers, body, bodyBase64, bodySha256 } = json;
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) throw new ExportLineError('seq is not a non-negative integer');
  if (typeof stream !== 'string' || typeof key !== 'string' || typeof source !== 'string' || typeof contentType !== 'string' || typeof ts !== 'string') {
    throw new ExportLineError('stream, key, ts, source and contentType must be strings');
  }
  if (op !== 'upsert' && op !== 'delete') throw new ExportLineError(`op must be "upsert" or "delete", got ${JSON.stringify(op)}`);
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers) || Object.values(headers).some((v) => typeof v !== 'string')) {
    throw new ExportLineError('headers must be an object of strings');
  }
  if (typeof bodySha256 !== 'string' || !/^[0-9a-f]{64}$/.test(bodySha256)) throw new ExportLineError('bodySha256 is not 64 lowercase hex digits');
  const tsMs = Date.parse(ts);
  if (!Number.isFinite(tsMs)) throw new ExportLineError(`ts ${JSON.stringify(ts)} is not an ISO 8601 time`);
  let bytes: Buffer;
  if (typeof bodyBase64 === 'string') bytes = Buffer.from(bodyBase64, 'base64');
  else if (contentType === 'hl7v2' && typeof body === 'string') bytes = Buffer.from(body, 'utf8');
  else if (isJsonContentType(contentType) && body !== undefined) {
    // The raw text sits between the envelope the writer serialised and the bodySha256 member.
    const envelope = { seq, stream, key, op, ts, source, contentType, headers };
    const prefix = `${JSON.stringify(envelope).slice(0, -1)},"body":`;
    const suffix = `,"bodySha256":"${bodySha256}"}`;
    if (!line.startsWith(prefix) || !line.endsWith(suffix)) throw new ExportLineError('the line is not in the export form (members out of order or respelled)');
    bytes = Buffer.from(line.slice(prefix.length, line.length - suffix.length), 'utf8');
  } else throw new ExportLineError('the line carries neither body nor bodyBase64 in a form its contentType allows');
  const event: JournalEvent = { seq: seq as number, stream, key, op, tsMs, source, contentType, body: bytes, headers: headers as Record<string, string> };
  // Written back, the event must give this very line: any respelling (escapes, spacing, order, a base64 that is
  // not canonical) is a change to the file even where the values survive.
  if (exportEventLine(event, Buffer.from(bodySha256, 'hex')) !== `${line}\n`) throw new ExportLineError('the line is not exactly as the relay writes it for its event');
  return { event, bodySha256 };
}

/** SHA-256 of an event's body, hex: what a line's bodySha256 must say. */
export function bodySha256Hex(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

const CR = 0x0d;
const LF = 0x0a;

function isJsonContentType(contentType: string): boolean {
  return contentType === 'json' || contentType === BLOB_REF_CONTENT_TYPE;
}
