// Turns an inbound event into the HL7 v2 message the HIS takes: a JSON body is
// built into SRM^S01, ADT^A04 or DFT^P03 by the sink's mapping; an hl7v2 body is
// passed through with MSH-10 replaced by the inbound id. Either way MSH-10 is the
// inbound id, so a resend is the same message and the HIS deduplicates on it.
//
// Failure modes handled:
//  1. A required mapped path absent, null or "" in the body, or holding an object
//     or array: unmappable, naming the HL7 field and the JSON path (never the value:
//     it is patient data).
//  2. Values holding HL7 delimiters (| ^ ~ \ &) or line breaks: escaped (\F\ \S\ \R\
//     \E\ \T\, \X0D\ \X0A\) by the one escapeHl7 of agent/hl7, so no value can add a
//     field, a component or a segment.
//  3. A passthrough body that is not a parseable message (no MSH, bad delimiters,
//     an unknown charset): unmappable with the parser's own reason.
//  4. A passthrough body in another charset (MSH-18 GB 18030…): re-encoded in it.
import { decodeHl7, encodeHl7, escapeHl7, formatHl7Timestamp, Hl7Message, parseHl7Path, STANDARD_DELIMITERS, type Hl7Path } from '../../hl7/index.js';
import { valueAtPath } from '../../../protocol/index.js';
import type { SinkDelivery } from './inbound-sink.js';
import { HL7_MESSAGE_SEGMENTS, type Hl7FieldSource, type Hl7SinkMessage, type MllpSinkConfig } from './sink-config.js';

/** MSH-3: who the HIS sees as the sender. */
export const WARDLINE_SENDING_APPLICATION = 'WARDLINE';
/** MSH-12 of every built message. */
export const BUILT_HL7_VERSION = '2.5';
/** MSH-18 of every built message: the bytes are UTF-8. */
export const BUILT_HL7_CHARSET = 'UNICODE UTF-8';

/** MSH-9 of each message: type^trigger^structure (A04 uses the ADT_A01 structure). */
const MESSAGE_TYPE: Readonly<Record<Hl7SinkMessage, string>> = {
  'SRM^S01': 'SRM^S01^SRM_S01',
  'ADT^A04': 'ADT^A04^ADT_A01',
  'DFT^P03': 'DFT^P03^DFT_P03',
};

/** A built message, or why the event does not fit. */
export type Hl7Build = { ok: true; payload: Buffer; controlId: string } | { ok: false; reason: string };

export interface Hl7BuilderOptions {
  /** MSH-4: the hospital Wardline sends for. */
  hospitalId: string;
  receivingApplication: string;
  receivingFacility: string;
  processingId: string;
  /** The message JSON bodies are built into; undefined = JSON bodies are unmappable. */
  message: Hl7SinkMessage | undefined;
  mapping: Readonly<Record<string, Hl7FieldSource>>;
}

interface MappedField {
  hl7Path: string;
  at: Hl7Path;
  source: Hl7FieldSource;
}

/** Builds each delivery's HL7 message; the mapping's paths are parsed once. */
export class Hl7MessageBuilder {
  private readonly fields: MappedField[];

  constructor(private readonly options: Hl7BuilderOptions) {
    this.fields = Object.entries(options.mapping).map(([hl7Path, source]) => ({ hl7Path, at: parseHl7Path(hl7Path), source }));
  }

  static fromConfig(config: MllpSinkConfig, hospitalId: string): Hl7MessageBuilder {
    return new Hl7MessageBuilder({
      hospitalId,
      receivingApplication: config.receivingApplication,
      receivingFacility: config.receivingFacility,
      processingId: config.processingId,
      message: config.message,
      mapping: config.mapping,
    });
  }

  /** The message for this delivery, MSH-7 at `now`. */
  build(delivery: SinkDelivery, now: Date): Hl7Build {
    if (delivery.contentType === 'hl7v2') return passthrough(delivery.body, delivery.id);
    if (delivery.contentType !== 'json') return { ok: false, reason: `the MLLP sink takes json or hl7v2 bodies, not ${delivery.contentType}` };
    const message = this.options.message;
    if (message === undefined) return { ok: false, reason: 'the sink has no message to build a JSON body into (set sink.message and sink.mapping), so only hl7v2 bodies pass' };
    let json: unknown;
    try {
      json = JSON.parse(delivery.body.toString('utf8'));
    } catch (error) {
      return { ok: false, reason: `the body is not JSON: ${(error as Error).message}` };
    }
    const segments = new Map<string, SegmentBuilder>();
    for (const field of this.fields) {
      const value = fieldValue(field, json);
      if (typeof value === 'object') return { ok: false, reason: value.problem };
      if (value === undefined) continue;
      let segment = segments.get(field.at.segment);
      if (segment === undefined) segments.set(field.at.segment, (segment = new SegmentBuilder(field.at.segment)));
      segment.set(field.at, value);
    }
    const timestamp = formatHl7Timestamp(now);
    const trigger = message.split('^')[1]!;
    const lines = [this.msh(MESSAGE_TYPE[message], delivery.id, timestamp)];
    for (const { id, required } of HL7_MESSAGE_SEGMENTS[message]) {
      let segment = segments.get(id);
      if (segment === undefined && !required) continue;
      segment ??= new SegmentBuilder(id);
      for (const [path, value] of defaultsOf(id, trigger, timestamp)) segment.setDefault(parseHl7Path(path), value);
      lines.push(segment.text());
    }
    return { ok: true, payload: Buffer.from(lines.map((line) => `${line}\r`).join(''), 'utf8'), controlId: delivery.id };
  }

  private msh(messageType: string, controlId: string, timestamp: string): string {
    const e = (text: string): string => escapeHl7(text, STANDARD_DELIMITERS);
    const o = this.options;
    return [
      'MSH',
      '^~\\&',
      WARDLINE_SENDING_APPLICATION,
      e(o.hospitalId),
      e(o.receivingApplication),
      e(o.receivingFacility),
      timestamp,
      '',
      messageType,
      controlId,
      o.processingId,
      BUILT_HL7_VERSION,
      '',
      '',
      'AL', // MSH-15: the HIS accepts or refuses at once (original mode)
      'NE',
      '',
      BUILT_HL7_CHARSET,
    ].join('|');
  }
}

/** What Wardline writes where the mapping says nothing: set ids, the event type, the recorded time. */
function defaultsOf(segment: string, trigger: string, timestamp: string): [string, string][] {
  switch (segment) {
    case 'EVN':
      return [
        ['EVN-1', trigger],
        ['EVN-2', timestamp],
      ];
    case 'PID':
    case 'AIS':
    case 'AIP':
    case 'FT1':
      return [[`${segment}-1`, '1']];
    default:
      return [];
  }
}

/** A mapped field's text; undefined to leave it empty; a problem when the body does not fit. */
function fieldValue(field: MappedField, json: unknown): string | undefined | { problem: string } {
  const source = field.source;
  if (typeof source !== 'string' && 'value' in source) return source.value;
  const path = typeof source === 'string' ? source : source.path;
  const optional = typeof source !== 'string' && source.optional;
  const value = valueAtPath(json, path);
  if (value === undefined || value === null || value === '') {
    return optional ? undefined : { problem: `${field.hl7Path}: ${path} is missing from the body (the mapping requires it)` };
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return value ? 'Y' : 'N';
  return { problem: `${field.hl7Path}: ${path} is ${Array.isArray(value) ? 'an array' : 'an object'}, not a value for one HL7 field` };
}

/** One segment's fields as repetitions × components × subcomponents, all 1-based; values escaped as they are set. */
class SegmentBuilder {
  private readonly fields: string[][][][] = [];

  constructor(private readonly id: string) {}

  set(at: Hl7Path, value: string): void {
    this.place(at, escapeHl7(value, STANDARD_DELIMITERS), true);
  }

  /** Sets a value only where the mapping left the field empty. */
  setDefault(at: Hl7Path, value: string): void {
    this.place(at, escapeHl7(value, STANDARD_DELIMITERS), false);
  }

  private place(at: Hl7Path, escaped: string, overwrite: boolean): void {
    const field = (this.fields[at.field] ??= []);
    const repetition = (field[at.repetition] ??= []);
    const component = (repetition[at.component ?? 1] ??= []);
    const index = at.subcomponent ?? 1;
    if (!overwrite && (field.some((r) => r?.some((c) => c?.some((s) => s !== undefined && s !== ''))) ?? false)) return;
    component[index] = escaped;
  }

  text(): string {
    const join = <T>(items: readonly (T | undefined)[], separator: string, each: (item: T) => string): string => {
      const parts: string[] = [];
      for (let i = 1; i < items.length; i++) parts.push(items[i] === undefined ? '' : each(items[i]!));
      return parts.join(separator);
    };
    const fields = join(this.fields, '|', (field) =>
      join(field, '~', (repetition) => join(repetition, '^', (component) => join(component, '&', (sub) => sub))),
    );
    return fields === '' ? this.id : `${this.id}|${fields}`;
  }
}

/** An hl7v2 body with MSH-10 replaced by the inbound id, in its own charset and delimiters. */
function passthrough(body: Buffer, id: string): Hl7Build {
  let message: Hl7Message;
  let encoding: string;
  try {
    const decoded = decodeHl7(body);
    encoding = decoded.encoding;
    message = Hl7Message.parse(decoded.text);
  } catch (error) {
    return { ok: false, reason: `the hl7v2 body cannot be passed through: ${(error as Error).message}` };
  }
  const d = message.delimiters;
  const [msh, ...rest] = message.segmentTexts;
  const fields = msh!.split(d.field);
  // fields[0] is "MSH" and fields[1] MSH-2, so MSH-n is fields[n - 1].
  while (fields.length < 10) fields.push('');
  fields[9] = id;
  const text = [fields.join(d.field), ...rest].map((segment) => `${segment}\r`).join('');
  return { ok: true, payload: encodeHl7(text, encoding), controlId: id };
}
