// The answers a hospital information system gives as HL7 filler: an ACK for what it
// is told (ADT, DFT, anything), an SRR^S01 for a booking request (SRM^S01), with the
// filler appointment id in SCH-2 when it booked the slot and the reason in MSA-3 and
// ERR-8 when it did not. Written in the request's delimiters, MSH-18 repeated.

import { escapeHl7, STANDARD_DELIMITERS, type Hl7Header } from '../../agent/hl7/index.js';

/** MSA-1 as an HIS answers in original mode. */
export type HisAnswerCode = 'AA' | 'AE' | 'AR';

export interface HisAnswer {
  code: HisAnswerCode;
  /** MSA-3 and ERR-8 for AE/AR; '' for AA. */
  text: string;
  /** SCH-2 of an SRR^S01 that booked (the filler appointment id); '' otherwise. */
  fillerAppointmentId: string;
}

/** HL7 table 0357 codes the HIS gives in ERR-3. */
const ERROR_CODE: Record<Exclude<HisAnswerCode, 'AA'>, string> = {
  AE: '207^Application internal error^HL70357',
  AR: '207^Application internal error^HL70357',
};

/**
 * The answer's text, segments ended by CR.
 * @param original the request; `undefined` when not even its MSH could be read (MSA-2 empty).
 * @param placerAppointmentId ARQ-1 of an SRM^S01, repeated in SCH-1.
 */
export function buildHisAnswer(
  original: Hl7Header | undefined,
  answer: HisAnswer,
  options: { controlId: string; now: Date; placerAppointmentId?: string },
): string {
  const d = original?.delimiters ?? STANDARD_DELIMITERS;
  const field = (n: number): string => original?.mshField(n) ?? '';
  const escape = (text: string): string => escapeHl7(text, d);
  const [messageCode = '', trigger = ''] = field(9).split(d.component);
  const isBooking = messageCode === 'SRM' && trigger === 'S01';
  const messageType = isBooking ? ['SRR', 'S01', 'SRR_S01'].join(d.component) : trigger === '' ? 'ACK' : ['ACK', trigger, 'ACK'].join(d.component);
  const encodingCharacters = [d.component, d.repetition, d.escape, d.subcomponent, d.truncation ?? ''].join('');
  const segments = [
    ['MSH', encodingCharacters, field(5) || 'HIS', field(6), field(3), field(4), hl7Timestamp(options.now), '', messageType, escape(options.controlId), field(11) || 'P', field(12) || '2.5', '', '', '', '', '', field(18)],
    ['MSA', answer.code, field(10), escape(answer.text.slice(0, 80))],
  ];
  if (answer.code !== 'AA') segments.push(['ERR', '', '', ERROR_CODE[answer.code], 'E', '', '', '', escape(answer.text)]);
  if (isBooking && answer.code === 'AA') {
    segments.push(['SCH', escape(options.placerAppointmentId ?? ''), escape(answer.fillerAppointmentId)]);
  }
  // MSH-1 is the field separator itself: the first join supplies it.
  return segments.map((s) => withoutEmptyTail(s).join(d.field)).join('\r') + '\r';
}

function withoutEmptyTail(fields: string[]): string[] {
  let end = fields.length;
  while (end > 1 && fields[end - 1] === '') end--;
  return fields.slice(0, end);
}

/** YYYYMMDDHHMMSS+0800: the HIS keeps China Standard Time. */
function hl7Timestamp(at: Date): string {
  const local = new Date(at.getTime() + 8 * 3_600_000);
  return local.toISOString().slice(0, 19).replace(/[-T:]/g, '') + '+0800';
}
