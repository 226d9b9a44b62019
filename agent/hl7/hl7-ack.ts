// Original-mode acknowledgements (MSH + MSA [+ ERR]).
//
// The ACK is written in the original's delimiters and names its charset in MSH-18, so
// a sender that could write the message can read the answer. ERR carries both the
// v2.5 fields (ERR-2 location, ERR-3 code, ERR-4 severity, ERR-8 user message) and the
// v2.3 ERR-1, and MSA-3 repeats the text, so older receivers see why too.

import { HL7_ERROR_TEXT, type Hl7ErrorCode, type Hl7ErrorLocation } from './hl7-errors.js';
import { escapeHl7, STANDARD_DELIMITERS, type Hl7Delimiters, type Hl7Header } from './hl7-message.js';

/** MSA-1: AA accepted (durably stored), AE message error, AR refused by the agent. */
export type AckCode = 'AA' | 'AE' | 'AR';

/** What went wrong, for AE/AR. An Hl7Error has this shape. */
export interface AckError {
  hl7Code: Hl7ErrorCode;
  message: string;
  location?: Hl7ErrorLocation | undefined;
}

export interface AckOptions {
  /** The message answered, or what could be salvaged of its MSH; undefined if nothing. */
  original: Hl7Header | undefined;
  code: AckCode;
  /** Why, for AE/AR (without it the sender gets no reason); ignored for AA. */
  error?: AckError | undefined;
  /** MSH-7 of the ACK. */
  now: Date;
  /** MSH-10 of the ACK itself (the original's goes into MSA-2). */
  controlId: string;
}

/** MSH-12 of an ACK to a message whose version could not be read. */
export const DEFAULT_ACK_VERSION = '2.5';
/** MSA-3 is an ST of 80 characters in v2.3; the full text is in ERR-8. */
const MSA_TEXT_MAX_CHARS = 80;

/** Builds the ACK text; segments end with CR. Encode it with `encodeHl7` in MSH-18's charset. */
export function buildAck(options: AckOptions): string {
  const { original, code, error } = options;
  const d: Hl7Delimiters = original?.delimiters ?? STANDARD_DELIMITERS;
  const field = (n: number): string => original?.mshField(n) ?? '';
  const escape = (text: string): string => escapeHl7(text, d);

  const trigger = field(9).split(d.component)[1] ?? '';
  const messageType = trigger === '' ? 'ACK' : ['ACK', trigger, 'ACK'].join(d.component);
  const encodingCharacters = [d.component, d.repetition, d.escape, d.subcomponent, d.truncation ?? ''].join('');

  const msh = [
    'MSH',
    encodingCharacters,
    field(5), // we answer as the application and facility the sender addressed
    field(6),
    field(3),
    field(4),
    formatHl7Timestamp(options.now),
    '',
    messageType,
    escape(options.controlId),
    field(11) || 'P',
    field(12) || DEFAULT_ACK_VERSION,
    '',
    '',
    '',
    '',
    '',
    field(18),
  ];
  const segments = [trimEmptyTail(msh).join(d.field)];

  const msa = ['MSA', code, field(10)];
  if (code !== 'AA' && error !== undefined) msa.push(escape(truncate(error.message, MSA_TEXT_MAX_CHARS)));
  segments.push(msa.join(d.field));

  if (code !== 'AA' && error !== undefined) segments.push(errSegment(error, d).join(d.field));
  return segments.map((s) => `${s}\r`).join('');
}

function errSegment(error: AckError, d: Hl7Delimiters): string[] {
  const escape = (text: string): string => escapeHl7(text, d);
  const location = error.location;
  const codeText = HL7_ERROR_TEXT[error.hl7Code];
  const place = location === undefined ? [] : [escape(location.segment), num(location.sequence), num(location.field)];
  // ERR-1 (v2.3 ELD): segment^sequence^field^code, the code a CE in subcomponents.
  const eld = [...(place.length > 0 ? place : ['', '', '']), [error.hl7Code, codeText, 'HL70357'].join(d.subcomponent)];
  // ERR-2 (v2.5 ERL): segment^sequence^field^repetition^component^subcomponent.
  const erl =
    location === undefined
      ? []
      : [...place, num(location.repetition), num(location.component), num(location.subcomponent)];
  return [
    'ERR',
    eld.join(d.component),
    trimEmptyTail(erl).join(d.component),
    [error.hl7Code, codeText, 'HL70357'].join(d.component),
    'E',
    '',
    '',
    '',
    escape(error.message),
  ];
}

function num(n: number | undefined): string {
  return n === undefined ? '' : String(n);
}

function trimEmptyTail(values: string[]): string[] {
  let end = values.length;
  while (end > 0 && values[end - 1] === '') end--;
  return values.slice(0, end);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/** YYYYMMDDHHMMSS+ZZZZ in the agent's local time, as hospital systems expect (ACKs, and the messages the downlink builds). */
export function formatHl7Timestamp(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  const offsetMinutes = -date.getTimezoneOffset();
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return (
    `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}` +
    `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}` +
    `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}
