// The `inbound:` section of agent.yaml as a schema: one entry per channel a relay
// may send events into. The type is derived from it; channelDeclaration turns an
// entry into what Hello declares to the relay, and deliveryPolicyOf into what the
// channel's delivery engine is handed. The sink's own schema (`sink:`) belongs to
// the sinks (sinks/sink-config.ts). agent/config.ts composes the section and checks
// what crosses parts (inboundIssues).
import { z } from 'zod';
import {
  DEFAULT_INBOUND_MAX_BODY_BYTES,
  DEFAULT_INBOUND_MAX_TTL_MS,
  DEFAULT_INBOUND_TTL_MS,
  INBOUND_CONTENT_TYPES,
  NameSchema,
  type InboundChannelDeclaration,
  type InboundFieldType,
} from '../../protocol/index.js';
import { byteSizeSchema, durationSchema } from '../../runtime/index.js';
import { SinkConfigSchema, sinkRequirements, type SinkConfig } from './sinks/index.js';

/** Keys of one channel delivered at once. */
export const DEFAULT_INBOUND_CONCURRENCY = 8;
/** Counted failures (not sinkDown) after which an event is quarantined. */
export const DEFAULT_QUARANTINE_AFTER = 10;
/** First retry delay of an event, in ms; doubles per attempt. */
export const DEFAULT_RETRY_INITIAL_MS = 1_000;
/** The longest retry delay of an event, in ms. */
export const DEFAULT_RETRY_MAX_MS = 60_000;
/** How often events answered `awaiting` (an inbox row) are asked about, in ms. */
export const DEFAULT_SETTLE_INTERVAL_MS = 2_000;
/** The most keys one channel may deliver at once. */
export const MAX_INBOUND_CONCURRENCY = 256;

/** A channel's sink: mllp, webhook or inbox, each with its own keys (sinks/sink-config.ts). */
export type InboundSinkConfig = SinkConfig;

const KEY_PATH = /^\$(\.[A-Za-z_][A-Za-z0-9_-]*)+$/;

export const InboundChannelConfigSchema = z
  .strictObject({
    channel: NameSchema,
    /** The relay (relays[].name) whose vendors write into this channel. */
    relay: NameSchema,
    /** The TTL of an event whose writer gives none: "2h", or ms. */
    ttl: durationSchema().default(DEFAULT_INBOUND_TTL_MS),
    /** The longest TTL a writer may ask for (Wardline-TTL-Ms). */
    maxTtl: durationSchema().default(DEFAULT_INBOUND_MAX_TTL_MS),
    /** The largest body the relay takes for this channel. */
    maxBodyBytes: byteSizeSchema()
      .refine((bytes) => bytes > 0, 'expected at least 1 byte')
      .default(DEFAULT_INBOUND_MAX_BODY_BYTES),
    /** Where a JSON body carries the ordering key ("$.patient.id"); absent = the writer sends it (Wardline-Key). */
    keyPath: z
      .string()
      .regex(KEY_PATH, 'expected a JSON path of object members such as "$.patient.id"')
      .optional(),
    /** Body kinds taken: json, hl7v2 (passed through to an MLLP sink). */
    accept: z.array(z.enum(INBOUND_CONTENT_TYPES)).min(1, 'expected at least one of json, hl7v2').default(['json']),
    /** Keys delivered at once (one event per key at a time). */
    concurrency: z.number().int().min(1).max(MAX_INBOUND_CONCURRENCY).default(DEFAULT_INBOUND_CONCURRENCY),
    /** Counted failures before an event is quarantined (sink-down retries do not count). */
    quarantineAfter: z.number().int().min(1).default(DEFAULT_QUARANTINE_AFTER),
    retry: z
      .strictObject({
        initialMs: z.number().int().min(1).default(DEFAULT_RETRY_INITIAL_MS),
        maxMs: z.number().int().min(1).default(DEFAULT_RETRY_MAX_MS),
      })
      .refine((retry) => retry.maxMs >= retry.initialMs, { message: 'expected maxMs at least initialMs', path: ['maxMs'] })
      .prefault({}),
    /** How often `awaiting` events are settled with the sink, in ms. */
    settleIntervalMs: z.number().int().min(100).default(DEFAULT_SETTLE_INTERVAL_MS),
    sink: SinkConfigSchema,
  })
  .superRefine((channel, ctx) => {
    if (channel.ttl > channel.maxTtl) {
      ctx.addIssue({ code: 'custom', path: ['ttl'], message: `expected at most maxTtl (${channel.maxTtl} ms), got ${channel.ttl} ms` });
    }
    // An MLLP sink builds HL7 from JSON only by a message and its mapping: without one, every JSON event would be quarantined.
    if (channel.sink.kind === 'mllp' && channel.sink.message === undefined && channel.accept.includes('json')) {
      ctx.addIssue({ code: 'custom', path: ['sink', 'message'], message: 'a channel that accepts json needs the message its bodies are built into (SRM^S01, ADT^A04 or DFT^P03) and its mapping; or accept: [hl7v2] to pass HL7 through' });
    }
  });

export type InboundChannelConfig = z.output<typeof InboundChannelConfigSchema>;

export const InboundConfigSchema = z.array(InboundChannelConfigSchema).default([]);
export type InboundConfig = z.output<typeof InboundConfigSchema>;

/** What a sink's mapping needs present in a JSON body; default the sinks' own sinkRequirements. */
export type RequiredFieldsOf = (sink: InboundSinkConfig) => { path: string; type: InboundFieldType }[];

const requiredFieldsOfSink: RequiredFieldsOf = (sink) => sinkRequirements(sink).requiredFields;

/** A problem crossing parts, with its path under the config's root. */
export interface InboundConfigIssue {
  path: (string | number)[];
  message: string;
}

/** What crosses parts: each channel's relay is declared under relays, and channel names are unique. */
export function inboundIssues(inbound: readonly InboundChannelConfig[], relayNames: ReadonlySet<string>): InboundConfigIssue[] {
  const issues: InboundConfigIssue[] = [];
  const seen = new Set<string>();
  inbound.forEach((channel, i) => {
    if (!relayNames.has(channel.relay)) {
      issues.push({ path: ['inbound', i, 'relay'], message: `expected one of the relays declared under relays (${[...relayNames].join(', ') || 'none'})` });
    }
    if (seen.has(channel.channel)) issues.push({ path: ['inbound', i, 'channel'], message: 'expected a channel name not used by another inbound channel' });
    seen.add(channel.channel);
  });
  return issues;
}

/**
 * The channel as Hello declares it to its relay: what the relay checks every
 * vendor body against, so that what it accepts the sink can map. requiredFields
 * come from the sink's mapping (sinkRequirements).
 */
export function channelDeclaration(channel: InboundChannelConfig, requirements: RequiredFieldsOf = requiredFieldsOfSink): InboundChannelDeclaration {
  return {
    name: channel.channel,
    defaultTtlMs: channel.ttl,
    maxTtlMs: channel.maxTtl,
    maxBodyBytes: channel.maxBodyBytes,
    contentTypes: [...channel.accept],
    keyPath: channel.keyPath ?? '',
    requiredFields: channel.accept.includes('json') ? requirements(channel.sink) : [],
  };
}

/** How a channel's engine delivers: its limits and retry policy. */
export interface DeliveryPolicy {
  concurrency: number;
  quarantineAfter: number;
  retryInitialMs: number;
  retryMaxMs: number;
  settleIntervalMs: number;
}

export function deliveryPolicyOf(channel: InboundChannelConfig): DeliveryPolicy {
  return {
    concurrency: channel.concurrency,
    quarantineAfter: channel.quarantineAfter,
    retryInitialMs: channel.retry.initialMs,
    retryMaxMs: channel.retry.maxMs,
    settleIntervalMs: channel.settleIntervalMs,
  };
}
