// An HL7 v2 message, parsed just enough for ingest: the agent stores the message as
// received and only needs MSH, a key field and an ACK, thousands of times a second.
// So segments are split once, fields of a segment on first access, and repetitions,
// components and subcomponents only along the path asked for.
//
// Failure modes handled:
//  1. Segments ended by CR (the standard), CRLF, or LF alone. A bare LF inside a
//     CR-terminated message is kept as data: some senders put it in report text.
//  2. Custom delimiters: whatever MSH-1 and MSH-2 declare is used, for parsing and
//     (through Hl7Header) for the ACK.
//  3. A message without MSH first, unusable delimiters, a line that is not a segment,
//     or no MSH-9/MSH-10: an Hl7Error with the table 0357 code and location.
//  4. Escape sequences the agent does not interpret (highlighting, charset switches,
//     locally defined \Z..\): kept verbatim rather than dropped.

import iconv from 'iconv-lite';
import { hl7CharsetEncoding } from './hl7-charset.js';
import { Hl7Error, Hl7ErrorCode } from './hl7-errors.js';

/** The delimiters a message declares in MSH-1 and MSH-2. */
export interface Hl7Delimiters {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
  /** v2.7's fifth encoding character, when the message declares one. */
  truncation?: string;
}

/** `|^~\&`, used when a message's own delimiters cannot be read. */
export const STANDARD_DELIMITERS: Readonly<Hl7Delimiters> = Object.freeze({
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
});

/**
 * What an acknowledgement needs from the message it answers: the delimiters and the
 * raw MSH fields. An Hl7Message is one; `readHl7Header` salvages one from a message
 * that failed to parse.
 */
export interface Hl7Header {
  readonly delimiters: Hl7Delimiters;
  /**
   * MSH-n as sent: escape sequences and inner delimiters intact, "" when absent.
   * MSH-1 is the field separator, MSH-2 the encoding characters.
   */
  mshField(n: number): string;
}

/**
 * A parsed address into a message, from `parseHl7Path`. All positions are 1-based.
 * `occurrence` undefined means "the first" for `get` and "every one" for `getAll`.
 */
export interface Hl7Path {
  segment: string;
  occurrence: number | undefined;
  field: number;
  repetition: number;
  component: number | undefined;
  subcomponent: number | undefined;
}

const PATH = /^([A-Za-z][A-Za-z0-9]{2})(?:\[(\d+)\])?-(\d+)(?:\[(\d+)\])?(?:\.(\d+)(?:\.(\d+))?)?$/;
const pathCache = new Map<string, Hl7Path>();
const PATH_CACHE_LIMIT = 1024;

/**
 * Parses a path such as `PID-3`, `PID-3.1`, `PID-3.1.2`, `PID-3[2].1` (second
 * repetition) or `OBX[3]-5` (third OBX segment). Paths are cached: mappings use a few
 * paths millions of times.
 *
 * @throws RangeError naming the path when it is not of that form.
 */
export function parseHl7Path(path: string): Hl7Path {
  const cached = pathCache.get(path);
  if (cached !== undefined) return cached;
  const m = PATH.exec(path);
  const numbers = m === null ? [] : [m[2], m[3], m[4], m[5], m[6]].map((n) => (n === undefined ? undefined : Number(n)));
  if (m === null || numbers.some((n) => n === 0)) {
    throw new RangeError(
      `Invalid HL7 path "${path}": expected SEG-field[.component[.subcomponent]], e.g. PID-3.1, OBX[2]-5 or PID-3[2].1 (positions start at 1)`,
    );
  }
  const [occurrence, field, repetition, component, subcomponent] = numbers;
  const parsed: Hl7Path = {
    segment: m[1]!.toUpperCase(),
    occurrence,
    field: field!,
    repetition: repetition ?? 1,
    component,
    subcomponent,
  };
  if (pathCache.size >= PATH_CACHE_LIMIT) pathCache.clear();
  pathCache.set(path, parsed);
  return parsed;
}

/**
 * One HL7 v2 message. Build it with `Hl7Message.parse`; read it with `get` (a value,
 * unescaped), `getRaw` (text as sent) and `getAll` (the same path in every occurrence
 * of a segment).
 */
export class Hl7Message implements Hl7Header {
  private readonly segmentIds: string[];
  private readonly fieldCache: (string[] | undefined)[];
  private occurrences: Map<string, number[]> | undefined;

  private constructor(
    /** The message text as parsed (decoded, without BOM). */
    readonly text: string,
    private readonly segments: string[],
    readonly delimiters: Hl7Delimiters,
  ) {
    this.segmentIds = segments.map((s) => s.slice(0, 3));
    this.fieldCache = new Array<string[] | undefined>(segments.length);
  }

  /**
   * Parses and validates a message: MSH first with usable delimiters, every line a
   * segment, MSH-9 and MSH-10 present.
   *
   * @throws Hl7Error 100 (not MSH first / a line that is not a segment), 102 (bad
   *   MSH-1/MSH-2), 101 (MSH-9 or MSH-10 missing).
   */
  static parse(text: string): Hl7Message {
    const segments = splitSegments(text);
    const first = segments[0];
    if (first === undefined) {
      throw new Hl7Error(Hl7ErrorCode.SEGMENT_SEQUENCE, 'Empty message: expected an MSH segment', {
        location: { segment: 'MSH', sequence: 1 },
      });
    }
    if (!first.startsWith('MSH')) {
      throw new Hl7Error(Hl7ErrorCode.SEGMENT_SEQUENCE, 'The message must start with an MSH segment (batches with FHS/BHS are not accepted)', {
        location: { segment: 'MSH', sequence: 1 },
      });
    }
    const delimiters = readDelimiters(first);
    if ('problem' in delimiters) {
      throw new Hl7Error(Hl7ErrorCode.DATA_TYPE, delimiters.problem, {
        location: { segment: 'MSH', sequence: 1, field: delimiters.field },
      });
    }
    for (let i = 1; i < segments.length; i++) {
      const segment = segments[i]!;
      const id = segment.slice(0, 3);
      const next = segment[3];
      if (!SEGMENT_ID.test(id) || (next !== undefined && next !== delimiters.field)) {
        // The location names the segment only when it has a real id: the line may be
        // the tail of a field cut by a stray line break, and its text is patient data.
        throw new Hl7Error(
          Hl7ErrorCode.SEGMENT_SEQUENCE,
          `Segment ${i + 1} does not start with a segment id followed by "${delimiters.field}" (a line break inside a field?)`,
          { location: { segment: SEGMENT_ID.test(id) ? id : '' } },
        );
      }
    }
    const message = new Hl7Message(text, segments, delimiters);
    if (message.get('MSH-9') === '') {
      throw new Hl7Error(Hl7ErrorCode.REQUIRED_FIELD_MISSING, 'MSH-9 (message type) is empty', {
        location: { segment: 'MSH', sequence: 1, field: 9 },
      });
    }
    if (message.get('MSH-10') === '') {
      throw new Hl7Error(Hl7ErrorCode.REQUIRED_FIELD_MISSING, 'MSH-10 (message control id) is empty', {
        location: { segment: 'MSH', sequence: 1, field: 10 },
      });
    }
    return message;
  }

  /** MSH-9.1, e.g. "ADT". */
  get messageType(): string {
    return this.get('MSH-9.1');
  }

  /** MSH-9.2, e.g. "A01"; "" when the sender gave none. */
  get triggerEvent(): string {
    return this.get('MSH-9.2');
  }

  /** MSH-10, the id the sender expects back in MSA-2 and reuses when it retransmits. */
  get controlId(): string {
    return this.get('MSH-10');
  }

  /** MSH-3 with all its components, e.g. "LIS" or "LIS^2.16.840.1.113883.3.1^ISO". */
  get sendingApplication(): string {
    return this.fieldText('MSH-3');
  }

  /** MSH-4 with all its components, e.g. "协和医院". */
  get sendingFacility(): string {
    return this.fieldText('MSH-4');
  }

  /** MSH-5 with all its components. */
  get receivingApplication(): string {
    return this.fieldText('MSH-5');
  }

  /** MSH-6 with all its components. */
  get receivingFacility(): string {
    return this.fieldText('MSH-6');
  }

  /** MSH-11.1: "P" production, "T" training, "D" debugging. */
  get processingId(): string {
    return this.get('MSH-11.1');
  }

  /** MSH-12.1, e.g. "2.5". */
  get version(): string {
    return this.get('MSH-12.1');
  }

  /** MSH-18's first repetition, e.g. "GB 18030-2000"; "" when absent (UTF-8). */
  get charset(): string {
    return this.get('MSH-18');
  }

  /** The segment ids in order, e.g. ["MSH", "PID", "PV1"]. */
  get segmentNames(): readonly string[] {
    return this.segmentIds;
  }

  /** The segments as split (terminators and blank lines removed), MSH first. */
  get segmentTexts(): readonly string[] {
    return this.segments;
  }

  /** How many segments with this id the message holds. */
  segmentCount(id: string): number {
    return this.occurrencesOf(id.toUpperCase()).length;
  }

  /**
   * The value at a path, escape sequences decoded; "" when absent. An unspecified
   * repetition, component or subcomponent means the first, so `get('PID-3')` equals
   * `get('PID-3[1].1.1')` (HAPI Terser semantics). HL7's explicit null `""` is
   * returned as sent.
   *
   * @throws RangeError for a malformed path.
   */
  get(path: string): string {
    const p = parseHl7Path(path);
    return this.valueAt(p, p.occurrence ?? 1);
  }

  /**
   * The text at a path as sent, with escape sequences and the inner delimiters intact:
   * `getRaw('PID-3')` is the whole first repetition, e.g. "123^^^HOSP^MR"; "" when absent.
   */
  getRaw(path: string): string {
    const p = parseHl7Path(path);
    return this.rawAt(p, p.occurrence ?? 1) ?? '';
  }

  /**
   * `get` over every occurrence of the path's segment, in order, "" where one lacks
   * the value: `getAll('OBX-5')` is every result value. With an occurrence in the path
   * (`OBX[2]-5`) only that one.
   */
  getAll(path: string): string[] {
    const p = parseHl7Path(path);
    if (p.occurrence !== undefined) return [this.valueAt(p, p.occurrence)];
    const values: string[] = [];
    const count = this.occurrencesOf(p.segment).length;
    for (let n = 1; n <= count; n++) values.push(this.valueAt(p, n));
    return values;
  }

  mshField(n: number): string {
    return this.fields(0)[n] ?? '';
  }

  private valueAt(p: Hl7Path, occurrence: number): string {
    const fieldText = this.fieldAt(p.segment, occurrence, p.field);
    if (fieldText === undefined) return '';
    if (p.segment === 'MSH' && p.field <= 2) return fieldText;
    const d = this.delimiters;
    const repetition = nth(fieldText, d.repetition, p.repetition);
    if (repetition === undefined) return '';
    const component = nth(repetition, d.component, p.component ?? 1);
    if (component === undefined) return '';
    const subcomponent = nth(component, d.subcomponent, p.subcomponent ?? 1);
    if (subcomponent === undefined) return '';
    return unescapeHl7(subcomponent, d, this.decodeHexBytes);
  }

  private rawAt(p: Hl7Path, occurrence: number): string | undefined {
    const fieldText = this.fieldAt(p.segment, occurrence, p.field);
    if (fieldText === undefined) return undefined;
    if (p.segment === 'MSH' && p.field <= 2) return fieldText;
    const d = this.delimiters;
    const repetition = nth(fieldText, d.repetition, p.repetition);
    if (repetition === undefined || p.component === undefined) return repetition;
    const component = nth(repetition, d.component, p.component);
    if (component === undefined || p.subcomponent === undefined) return component;
    return nth(component, d.subcomponent, p.subcomponent);
  }

  /** A field's first repetition with every leaf unescaped and standard ^ and & between them. */
  private fieldText(path: string): string {
    const raw = this.getRaw(path);
    const d = this.delimiters;
    if (raw.indexOf(d.escape) < 0 && d.component === '^' && d.subcomponent === '&') return raw;
    return raw
      .split(d.component)
      .map((c) =>
        c
          .split(d.subcomponent)
          .map((s) => unescapeHl7(s, d, this.decodeHexBytes))
          .join('&'),
      )
      .join('^');
  }

  private fieldAt(segment: string, occurrence: number, field: number): string | undefined {
    const index = this.occurrencesOf(segment)[occurrence - 1];
    if (index === undefined) return undefined;
    return this.fields(index)[field];
  }

  /** Field n of a segment at index n of the array (MSH-1 and MSH-2 included). */
  private fields(index: number): string[] {
    let fields = this.fieldCache[index];
    if (fields === undefined) {
      const segment = this.segments[index]!;
      fields = segment.split(this.delimiters.field);
      // In MSH the separator after "MSH" is MSH-1 itself, so the numbering is off by one.
      if (index === 0) fields.splice(1, 0, this.delimiters.field);
      this.fieldCache[index] = fields;
    }
    return fields;
  }

  private occurrencesOf(segment: string): number[] {
    if (this.occurrences === undefined) {
      this.occurrences = new Map();
      this.segmentIds.forEach((id, index) => {
        const list = this.occurrences!.get(id);
        if (list === undefined) this.occurrences!.set(id, [index]);
        else list.push(index);
      });
    }
    return this.occurrences.get(segment) ?? [];
  }

  /** \Xhh..\ bytes are in the message's own character set. */
  private readonly decodeHexBytes = (bytes: Buffer): string => {
    if (bytes.every((b) => b < 0x80)) return bytes.toString('latin1');
    const encoding = hl7CharsetEncoding(this.charset) ?? 'utf8';
    return encoding === 'utf8' ? bytes.toString('utf8') : iconv.decode(bytes, encoding);
  };
}

/**
 * Reads what an ACK needs from a message that failed to parse, so even a rejected
 * message gets MSA-2 = its MSH-10 when one can be found. Returns undefined when the
 * text has no MSH line with a usable field separator. When MSH-2 is unusable the
 * fields are returned escaped for the standard delimiters, which the ACK then uses.
 */
export function readHl7Header(text: string): Hl7Header | undefined {
  const msh = splitSegments(text).find((s) => s.startsWith('MSH'));
  const fieldSeparator = msh?.[3];
  if (msh === undefined || fieldSeparator === undefined || !isDelimiterChar(fieldSeparator)) return undefined;
  const fields = msh.split(fieldSeparator);
  fields.splice(1, 0, fieldSeparator);
  const delimiters = readDelimiters(msh);
  if (!('problem' in delimiters)) return { delimiters, mshField: (n) => fields[n] ?? '' };
  return {
    delimiters: STANDARD_DELIMITERS,
    mshField: (n) => (n <= 2 ? '' : escapeHl7(fields[n] ?? '', STANDARD_DELIMITERS)),
  };
}

/**
 * Decodes escape sequences in one leaf value: \F\ \S\ \T\ \R\ \E\ (and \P\ when a
 * truncation character is declared), \Xhh..\ (bytes, decoded by `decodeHex`, Latin-1
 * by default) and \.br\ (a line break). Anything else is kept verbatim.
 */
export function unescapeHl7(
  value: string,
  d: Hl7Delimiters,
  decodeHex: (bytes: Buffer) => string = (b) => b.toString('latin1'),
): string {
  const escape = d.escape;
  if (escape === '' || value.indexOf(escape) < 0) return value;
  let out = '';
  let i = 0;
  while (i < value.length) {
    const start = value.indexOf(escape, i);
    const end = start < 0 ? -1 : value.indexOf(escape, start + 1);
    if (end < 0) {
      out += value.slice(i); // an unterminated escape is data
      break;
    }
    out += value.slice(i, start);
    const sequence = value.slice(start + 1, end);
    out += translateEscape(sequence, d, decodeHex) ?? value.slice(start, end + 1);
    i = end + 1;
  }
  return out;
}

function translateEscape(sequence: string, d: Hl7Delimiters, decodeHex: (bytes: Buffer) => string): string | undefined {
  switch (sequence) {
    case 'F':
      return d.field;
    case 'S':
      return d.component;
    case 'T':
      return d.subcomponent;
    case 'R':
      return d.repetition;
    case 'E':
      return d.escape;
    case 'P':
      return d.truncation;
    case '.br':
      return '\n';
  }
  if (sequence.length >= 3 && sequence.length % 2 === 1 && sequence[0] === 'X' && HEX.test(sequence.slice(1))) {
    return decodeHex(Buffer.from(sequence.slice(1), 'hex'));
  }
  return undefined;
}

/**
 * Escapes text for use as one value in a message with these delimiters (the ACK's
 * error text). CR and LF become \X0D\ and \X0A\, since a raw CR would end the segment.
 */
export function escapeHl7(text: string, d: Hl7Delimiters): string {
  let out = '';
  for (const ch of text) {
    if (ch === d.escape) out += `${d.escape}E${d.escape}`;
    else if (ch === d.field) out += `${d.escape}F${d.escape}`;
    else if (ch === d.component) out += `${d.escape}S${d.escape}`;
    else if (ch === d.subcomponent) out += `${d.escape}T${d.escape}`;
    else if (ch === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (ch === d.truncation) out += `${d.escape}P${d.escape}`;
    else if (ch === '\r') out += `${d.escape}X0D${d.escape}`;
    else if (ch === '\n') out += `${d.escape}X0A${d.escape}`;
    else out += ch;
  }
  return out;
}

const HEX = /^[0-9A-Fa-f]+$/;
const SEGMENT_ID = /^[A-Z][A-Z0-9]{2}$/;

function isDelimiterChar(ch: string): boolean {
  return !/[A-Za-z0-9\s]/.test(ch);
}

/** Segments without empty lines: CR, CRLF, or (only when there is no CR at all) LF. */
function splitSegments(text: string): string[] {
  const lines = text.indexOf('\r') >= 0 ? text.split(/\r\n?/) : text.split('\n');
  return lines.filter((line) => line.length > 0 && line.trim().length > 0);
}

/** The delimiters from an MSH line, or what is wrong with them and in which field. */
function readDelimiters(msh: string): Hl7Delimiters | { problem: string; field: 1 | 2 } {
  const field = msh[3];
  if (field === undefined || !isDelimiterChar(field)) {
    return { problem: 'MSH-1 (field separator) is missing or not a delimiter character', field: 1 };
  }
  const end = msh.indexOf(field, 4);
  const encoding = msh.slice(4, end < 0 ? undefined : end);
  const chars = [...encoding];
  const usable =
    (chars.length === 4 || chars.length === 5) &&
    new Set([field, ...chars]).size === chars.length + 1 &&
    chars.every(isDelimiterChar);
  if (!usable) {
    return {
      problem: `MSH-2 (encoding characters) must be 4 or 5 distinct delimiter characters such as ^~\\&, got "${encoding}"`,
      field: 2,
    };
  }
  const [component, repetition, escape, subcomponent, truncation] = chars as [string, string, string, string, string?];
  return truncation === undefined
    ? { field, component, repetition, escape, subcomponent }
    : { field, component, repetition, escape, subcomponent, truncation };
}

/** The nth (1-based) piece of text split by a separator, without splitting it all. */
function nth(text: string, separator: string, n: number): string | undefined {
  if (n === 1) {
    const end = text.indexOf(separator);
    return end < 0 ? text : text.slice(0, end);
  }
  let start = 0;
  for (let i = 1; i < n; i++) {
    const next = text.indexOf(separator, start);
    if (next < 0) return undefined;
    start = next + separator.length;
  }
  const end = text.indexOf(separator, start);
  return end < 0 ? text.slice(start) : text.slice(start, end);
}
