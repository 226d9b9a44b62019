// An MLLP source's entry in agent.yaml (`sources[i]` with kind: mllp): the schema,
// and the conversion to the listener's options.
import { z } from 'zod';
import { DEFAULT_MLLP_PORT, NameSchema, StreamNameSchema } from '../../../protocol/index.js';
import { hostPortSchema } from '../../../runtime/index.js';
import { DEFAULT_HL7_MAPPING, mergeMapping } from '../../hl7/index.js';
import type { SourceParts } from '../source.js';
import { MLLP_LIMIT_KEYS } from './mllp-limits-config.js';
import type { MllpLogger } from './hl7-intake.js';
import type { MllpListenerOptions } from './mllp-listener.js';

export const Hl7MappingRuleSchema = z.strictObject({
  /** "ADT", "ADT^A08" or "*". */
  messageType: z.string().regex(/^(\*|[A-Z0-9]{3}(\^[A-Z0-9]{2,3})?)$/, 'expected a message type such as ADT, ADT^A08 or *'),
  stream: StreamNameSchema,
  keyPaths: z.array(z.string().min(3)).min(1),
});
export type Hl7MappingRuleConfig = z.output<typeof Hl7MappingRuleSchema>;

export const MllpSourceConfigSchema = z.strictObject({
  kind: z.literal('mllp'),
  name: NameSchema,
  listen: hostPortSchema().prefault(`0.0.0.0:${DEFAULT_MLLP_PORT}`),
  /** Rules consulted before the defaults (ADT -> adt, ORU -> results, ...). */
  mapping: z.array(Hl7MappingRuleSchema).default([]),
  maxFrameBytes: z.number().int().positive().optional(),
  /** maxConnections, maxBufferedBytes, maxSegments, idleTimeout (mllp-limits-config.ts). */
  ...MLLP_LIMIT_KEYS,
  /** Still accepted when the disk is critical (e.g. the LIS with critical lab results). */
  critical: z.boolean().default(false),
});
export type MllpSourceConfig = z.output<typeof MllpSourceConfigSchema>;

/** The listener's options for a configured source: its mapping merged over the defaults, its limits, the parts it is handed. */
export function mllpListenerOptions(source: MllpSourceConfig, parts: SourceParts & Pick<MllpListenerOptions, 'log' | 'observeAckLatency'>): MllpListenerOptions {
  return {
    name: source.name,
    host: source.listen.host,
    port: source.listen.port,
    writer: parts.writer,
    admission: parts.admission,
    mapping: mergeMapping(source.mapping, DEFAULT_HL7_MAPPING),
    maxFrameBytes: source.maxFrameBytes,
    maxConnections: source.maxConnections,
    maxBufferedBytes: source.maxBufferedBytes,
    maxSegments: source.maxSegments,
    idleTimeoutMs: source.idleTimeout,
    log: parts.log,
    observeAckLatency: parts.observeAckLatency,
  };
}
