// The `sink:` of an inbound channel in agent.yaml: where its events are delivered
// (an HIS over MLLP, a webhook, an inbox table) and, for HL7, how a JSON body
// becomes the message. Secrets are named by file (secretFile, passwordFile) and
// read by sink-secrets.ts at load, like every other secret file.
import { z } from 'zod';
import { hostPortSchema } from '../../../runtime/index.js';
import { DatabaseConnectionSchema, SqlIdentifierSchema, TableNameSchema } from '../../sources/database/index.js';
import { parseHl7Path } from '../../hl7/index.js';
import type { InboundFieldType } from '../../../protocol/index.js';

/** MLLP connections kept open to the HIS, each with one message in flight. */
export const DEFAULT_MLLP_SINK_CONNECTIONS = 4;
/** How long the HIS has to answer one message before the attempt is retried. */
export const DEFAULT_MLLP_ACK_TIMEOUT_MS = 30_000;
/** How long a TCP (and TLS) connect to the HIS may take. */
export const DEFAULT_SINK_CONNECT_TIMEOUT_MS = 10_000;
/** How long a webhook endpoint has to answer one POST. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 30_000;
/** The inbox table's name when the config gives none. */
export const DEFAULT_INBOX_TABLE = 'wardline_inbox';
/** MSH-5 when the config names no receiving application. */
export const DEFAULT_RECEIVING_APPLICATION = 'HIS';

/** The messages a JSON body can be built into. */
export const HL7_SINK_MESSAGES = ['SRM^S01', 'ADT^A04', 'DFT^P03'] as const;
export type Hl7SinkMessage = (typeof HL7_SINK_MESSAGES)[number];

/** Segments each message is made of, in order; `required` ones are always written. */
export const HL7_MESSAGE_SEGMENTS: Readonly<Record<Hl7SinkMessage, readonly { id: string; required: boolean }[]>> = {
  'SRM^S01': [
    { id: 'ARQ', required: true },
    { id: 'PID', required: true },
    { id: 'AIS', required: false },
    { id: 'AIP', required: false },
  ],
  'ADT^A04': [
    { id: 'EVN', required: true },
    { id: 'PID', required: true },
    { id: 'PV1', required: true },
  ],
  'DFT^P03': [
    { id: 'EVN', required: true },
    { id: 'PID', required: true },
    { id: 'PV1', required: false },
    { id: 'FT1', required: true },
  ],
};

const JSON_PATH = /^\$(\.[A-Za-z_][A-Za-z0-9_-]*)+$/;
const JsonPathSchema = z.string().regex(JSON_PATH, { error: 'expected a JSON path such as "$.patient.id" (object members only)' });

/**
 * One mapped HL7 field: a JSON path (required: a body without it is unmappable),
 * `{ path, optional: true }` (left empty when absent), or `{ value }` (fixed text).
 */
export const Hl7FieldSourceSchema = z.union([
  JsonPathSchema,
  z.strictObject({
    path: JsonPathSchema,
    optional: z.boolean().default(false),
    /** The type a vendor's body must give (declared to the relay); default any value but null or "". */
    type: z.enum(['string', 'number', 'any']).default('any'),
  }),
  z.strictObject({ value: z.string() }),
]);
export type Hl7FieldSource = z.output<typeof Hl7FieldSourceSchema>;

/** Why a mapping key is not a field path the builder writes (SEG-f, SEG-f.c, SEG-f.c.s, SEG-f[r]…, one segment of each id, no MSH), or undefined. */
function fieldPathProblem(path: string): string | undefined {
  try {
    const parsed = parseHl7Path(path);
    if (parsed.occurrence !== undefined) return `${path}: a message has one segment of each id; drop the [n] after the segment`;
    if (parsed.segment === 'MSH') return `${path}: MSH is written by Wardline (MSH-10 is the inbound id); map the other segments`;
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

const TlsClientSchema = z.strictObject({
  /** PEM file of the CA that signed the server's certificate; absent = the system's CAs. */
  caFile: z.string().min(1).optional(),
  /** The name the server's certificate must carry; default the host of address/url. */
  serverName: z.string().min(1).optional(),
});
export type SinkTlsConfig = z.output<typeof TlsClientSchema>;

export const MllpSinkConfigSchema = z
  .strictObject({
    kind: z.literal('mllp'),
    /** The HIS's MLLP listener, host:port. */
    address: hostPortSchema(),
    connections: z.number().int().min(1).max(64).default(DEFAULT_MLLP_SINK_CONNECTIONS),
    ackTimeoutMs: z.number().int().min(100).max(600_000).default(DEFAULT_MLLP_ACK_TIMEOUT_MS),
    connectTimeoutMs: z.number().int().min(100).max(120_000).default(DEFAULT_SINK_CONNECT_TIMEOUT_MS),
    /** TLS to the HIS (MLLP over TLS); absent = plain TCP. */
    tls: TlsClientSchema.optional(),
    /** MSH-5 and MSH-6. */
    receivingApplication: z.string().min(1).default(DEFAULT_RECEIVING_APPLICATION),
    receivingFacility: z.string().default(''),
    /** MSH-11: P production, T training, D debugging. */
    processingId: z.enum(['P', 'T', 'D']).default('P'),
    /** The message a JSON body is built into; absent = only hl7v2 bodies (passed through). */
    message: z.enum(HL7_SINK_MESSAGES).optional(),
    /** HL7 field path → where its value comes from. */
    mapping: z.record(z.string(), Hl7FieldSourceSchema).default({}),
  })
  .superRefine((sink, ctx) => {
    if (sink.message === undefined) {
      if (Object.keys(sink.mapping).length > 0) ctx.addIssue({ code: 'custom', path: ['message'], message: `a mapping needs the message it builds: one of ${HL7_SINK_MESSAGES.join(', ')}` });
      return;
    }
    const segments = new Set(HL7_MESSAGE_SEGMENTS[sink.message].map((s) => s.id));
    for (const path of Object.keys(sink.mapping)) {
      const problem = fieldPathProblem(path);
      if (problem !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['mapping', path], message: problem });
        continue;
      }
      const segment = parseHl7Path(path).segment;
      if (!segments.has(segment)) {
        ctx.addIssue({ code: 'custom', path: ['mapping', path], message: `${sink.message} has no ${segment} segment (it has ${[...segments].join(', ')})` });
      }
    }
  });
export type MllpSinkConfig = z.output<typeof MllpSinkConfigSchema>;

export const WebhookSinkConfigSchema = z.strictObject({
  kind: z.literal('webhook'),
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  /** File holding the Standard Webhooks secret, "whsec_" and base64 (owner-only, as every secret file). */
  secretFile: z.string().min(1),
  timeoutMs: z.number().int().min(100).max(600_000).default(DEFAULT_WEBHOOK_TIMEOUT_MS),
  /** For https:// URLs: the CA of the endpoint's certificate. */
  tls: TlsClientSchema.optional(),
});
export type WebhookSinkConfig = z.output<typeof WebhookSinkConfigSchema>;

export const InboxColumnsSchema = z
  .strictObject({
    id: SqlIdentifierSchema.default('id'),
    channel: SqlIdentifierSchema.default('channel'),
    eventKey: SqlIdentifierSchema.default('event_key'),
    vendor: SqlIdentifierSchema.default('vendor'),
    contentType: SqlIdentifierSchema.default('content_type'),
    body: SqlIdentifierSchema.default('body'),
    receivedAt: SqlIdentifierSchema.default('received_at'),
    expiresAt: SqlIdentifierSchema.default('expires_at'),
    deliveredAt: SqlIdentifierSchema.default('delivered_at'),
    status: SqlIdentifierSchema.default('status'),
    statusReason: SqlIdentifierSchema.default('status_reason'),
    hisReference: SqlIdentifierSchema.default('his_reference'),
    decidedAt: SqlIdentifierSchema.default('decided_at'),
  })
  .prefault({});
export type InboxColumns = z.output<typeof InboxColumnsSchema>;

export const InboxSinkConfigSchema = z.strictObject({
  kind: z.literal('inbox'),
  dialect: z.enum(['postgres', 'mysql']),
  connection: DatabaseConnectionSchema,
  /** "table" or "schema.table". */
  table: TableNameSchema.default(DEFAULT_INBOX_TABLE),
  columns: InboxColumnsSchema,
  /** Create the table (and nothing else) when it is missing. */
  createTable: z.boolean().default(false),
});
export type InboxSinkConfig = z.output<typeof InboxSinkConfigSchema>;

export const SinkConfigSchema = z.discriminatedUnion('kind', [MllpSinkConfigSchema, WebhookSinkConfigSchema, InboxSinkConfigSchema]);
export type SinkConfig = z.output<typeof SinkConfigSchema>;

/** What a channel must declare to the relay so it refuses bodies this sink could not map. */
export interface SinkRequirements {
  requiredFields: { path: string; type: InboundFieldType }[];
}

/** The JSON paths an MLLP sink's mapping requires (each once, in mapping order); other sinks take any JSON. */
export function sinkRequirements(sink: SinkConfig): SinkRequirements {
  if (sink.kind !== 'mllp' || sink.message === undefined) return { requiredFields: [] };
  const seen = new Map<string, InboundFieldType>();
  for (const source of Object.values(sink.mapping)) {
    if (typeof source === 'string') {
      if (!seen.has(source)) seen.set(source, 'any');
    } else if ('path' in source && !source.optional && !seen.has(source.path)) {
      seen.set(source.path, source.type);
    }
  }
  return { requiredFields: [...seen].map(([path, type]) => ({ path, type })) };
}
