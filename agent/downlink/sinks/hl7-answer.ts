// What the HIS's answer to one built message means, as a SinkOutcome: the ACK or
// SRR^S01 it sent, or the lack of one. Pure: the MLLP sink hands it the frame
// (or the timeout, or the lost connection) and sends nothing itself.
//
// Failure modes handled:
//  1. An answer for another message (MSA-2 not our MSH-10: a late answer, a HIS
//     answering out of turn): retryable, never taken as this message's decision.
//  2. An answer that is not HL7, or has no MSA: retryable (counted), with why.
//  3. A refusal without MSA-3: the reason from ERR-8 (user message), else ERR-3.
//  4. An answer in another charset (MSH-18): decoded by agent/hl7's decodeHl7.
import { decodeHl7, Hl7Message } from '../../hl7/index.js';
import type { SinkOutcome } from './inbound-sink.js';

/** Reasons are kept short: a receipt carries them to the vendor. */
const MAX_REASON_CHARS = 500;

/**
 * What one answer means. `outOfStep` when it cannot be tied to the message sent
 * (not HL7, no MSA, MSA-2 another id): the connection's answers no longer line up
 * with its messages, so the MLLP sink closes it rather than read the next answer
 * as the next message's.
 */
export interface Hl7AnswerClass {
  outcome: SinkOutcome;
  outOfStep: boolean;
}

/** Classifies an MLLP answer to the message whose MSH-10 was `controlId`. */
export function classifyHl7Answer(answer: Buffer, controlId: string): Hl7AnswerClass {
  let message: Hl7Message;
  try {
    message = Hl7Message.parse(decodeHl7(answer).text);
  } catch (error) {
    return outOfStep('not-hl7', `the HIS answered with something that is not an HL7 message: ${(error as Error).message}`);
  }
  if (message.segmentCount('MSA') === 0) {
    return outOfStep('no-MSA', `the HIS answered ${message.get('MSH-9.1')}^${message.get('MSH-9.2')} without an MSA segment`);
  }
  const code = message.get('MSA-1').toUpperCase();
  const answered = message.get('MSA-2');
  if (answered !== controlId) {
    return outOfStep(code || 'MSA-1', `the HIS answered message ${answered === '' ? '(no MSA-2)' : answered}, not ${controlId}`);
  }
  return { outcome: decisionOf(message, code), outOfStep: false };
}

function outOfStep(code: string, reason: string): Hl7AnswerClass {
  return { outcome: { kind: 'retryable', code, reason, sinkDown: false }, outOfStep: true };
}

/** MSA-1 of an answer to our message, as an outcome. */
function decisionOf(message: Hl7Message, code: string): SinkOutcome {
  const text = message.get('MSA-3');
  switch (code) {
    case 'AA':
    case 'CA': {
      const reference = message.segmentCount('SCH') > 0 ? message.get('SCH-2') : '';
      const outcome: SinkOutcome = { kind: 'accepted', code };
      if (text !== '') outcome.reason = clip(text);
      if (reference !== '') outcome.reference = reference;
      return outcome;
    }
    case 'AR':
    case 'CR':
      return { kind: 'refused', code, reason: clip(reasonOf(message, text) ?? `the HIS refused the message (${code}) without a reason`) };
    case 'AE':
    case 'CE':
      return { kind: 'retryable', code, reason: clip(reasonOf(message, text) ?? `the HIS answered ${code} (application error) without a reason`), sinkDown: false };
    default:
      return { kind: 'retryable', code: code || 'MSA-1', reason: `the HIS answered MSA-1 "${code}", which is none of AA, AE, AR, CA, CE, CR`, sinkDown: false };
  }
}

/** No answer within the ack timeout: retried, and counted (the HIS was reached). */
export function ackTimeoutOutcome(timeoutMs: number): SinkOutcome {
  return { kind: 'retryable', code: 'timeout', reason: `the HIS did not answer within ${timeoutMs} ms`, sinkDown: false };
}

/** MSA-3, else ERR-8 (user message), else ERR-3 (code and text). */
function reasonOf(message: Hl7Message, text: string): string | undefined {
  if (text !== '') return text;
  if (message.segmentCount('ERR') === 0) return undefined;
  const userMessage = message.get('ERR-8');
  if (userMessage !== '') return userMessage;
  const errorCode = [message.get('ERR-3.1'), message.get('ERR-3.2')].filter((part) => part !== '').join(' ');
  return errorCode === '' ? undefined : errorCode;
}

function clip(text: string): string {
  return text.length <= MAX_REASON_CHARS ? text : `${text.slice(0, MAX_REASON_CHARS - 1)}…`;
}
