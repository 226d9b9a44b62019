// What the HIS's answers mean: ACKs written by the agent's own buildAck (as an
// HIS of Wardline's make would), SRR^S01 with the filler appointment id, and the
// answers that must never be taken as a decision.
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { buildAck, Hl7ErrorCode, readHl7Header } from '../../agent/hl7/index.js';
import { ackTimeoutOutcome, classifyHl7Answer } from '../../agent/downlink/sinks/hl7-answer.js';

const outcomeOf = (answer: Buffer, id: string) => classifyHl7Answer(answer, id).outcome;

const ID = 'ibabcdefghijklmnop23';
const SENT = `MSH|^~\\&|WARDLINE|h-zj-002|HIS|ZJ|20261203093000||SRM^S01^SRM_S01|${ID}|P|2.5|||AL|NE||UNICODE UTF-8\rARQ|B-1\r`;

function ack(code: 'AA' | 'AE' | 'AR', message?: string): Buffer {
  const error = message === undefined ? undefined : { hl7Code: Hl7ErrorCode.APPLICATION_INTERNAL_ERROR, message };
  return Buffer.from(buildAck({ original: readHl7Header(SENT), code, error, now: new Date(), controlId: 'HIS-1' }));
}

function srr(code: string, extra = ''): Buffer {
  return Buffer.from(`MSH|^~\\&|HIS|ZJ|WARDLINE|h-zj-002|20261203093001||SRR^S01^SRR_S01|HIS-2|P|2.5\rMSA|${code}|${ID}${extra}\rSCH|B-1^WARDLINE|APT-5566^HIS\r`);
}

describe('classifyHl7Answer', () => {
  it('AA is accepted; an SRR^S01 gives SCH-2 as the reference', () => {
    expect(outcomeOf(ack('AA'), ID)).toEqual({ kind: 'accepted', code: 'AA' });
    expect(outcomeOf(srr('AA'), ID)).toEqual({ kind: 'accepted', code: 'AA', reference: 'APT-5566' });
    expect(outcomeOf(srr('CA'), ID)).toMatchObject({ kind: 'accepted', code: 'CA' });
  });

  it('AR is refused with MSA-3, else ERR-8, else ERR-3', () => {
    expect(outcomeOf(srr('AR', '|slot already taken'), ID)).toEqual({ kind: 'refused', code: 'AR', reason: 'slot already taken' });
    const errOnly = Buffer.from(`MSH|^~\\&|HIS|ZJ|||20261203||ACK^S01^ACK|H3|P|2.5\rMSA|AR|${ID}\rERR||PID^1^3|103^Table value not found^HL70357|E||||patient unknown at this hospital\r`);
    expect(outcomeOf(errOnly, ID)).toEqual({ kind: 'refused', code: 'AR', reason: 'patient unknown at this hospital' });
    const codeOnly = Buffer.from(`MSH|^~\\&|HIS|ZJ|||20261203||ACK^S01^ACK|H3|P|2.5\rMSA|CR|${ID}\rERR||PID^1^3|103^Table value not found^HL70357|E\r`);
    expect(outcomeOf(codeOnly, ID)).toEqual({ kind: 'refused', code: 'CR', reason: '103 Table value not found' });
    expect(outcomeOf(ack('AR'), ID)).toMatchObject({ kind: 'refused', reason: expect.stringContaining('without a reason') });
    // The agent's own ACK with ERR: MSA-3 is the (escaped) text.
    expect(outcomeOf(ack('AR', 'duplicate | booking'), ID)).toEqual({ kind: 'refused', code: 'AR', reason: 'duplicate | booking' });
  });

  it('AE and CE are retryable and counted', () => {
    expect(outcomeOf(ack('AE', 'database busy'), ID)).toEqual({ kind: 'retryable', code: 'AE', reason: 'database busy', sinkDown: false });
    expect(outcomeOf(srr('CE'), ID)).toMatchObject({ kind: 'retryable', code: 'CE', sinkDown: false });
  });

  it('an answer to another message is never this one\'s decision', () => {
    const other = buildAck({ original: readHl7Header(SENT.replace(ID, 'ibzzzzzzzzzzzzzzzzzz')), code: 'AA', now: new Date(), controlId: 'X' });
    expect(outcomeOf(Buffer.from(other), ID)).toEqual({
      kind: 'retryable',
      code: 'AA',
      reason: `the HIS answered message ibzzzzzzzzzzzzzzzzzz, not ${ID}`,
      sinkDown: false,
    });
  });

  it('only an answer that cannot be tied to the message is out of step', () => {
    expect(classifyHl7Answer(ack('AR', 'no'), ID).outOfStep).toBe(false);
    expect(classifyHl7Answer(ack('AE', 'busy'), ID).outOfStep).toBe(false);
    expect(classifyHl7Answer(ack('AA'), 'ibzzzzzzzzzzzzzzzzzz').outOfStep).toBe(true);
    expect(classifyHl7Answer(Buffer.from('garbage'), ID).outOfStep).toBe(true);
  });

  it('garbage, no MSA and an unknown MSA-1 are retryable with why', () => {
    expect(outcomeOf(Buffer.from('HTTP/1.1 400 Bad Request\r\n'), ID)).toMatchObject({ kind: 'retryable', code: 'not-hl7', sinkDown: false });
    expect(outcomeOf(Buffer.from('MSH|^~\\&|HIS||||2026||ACK|1|P|2.5\r'), ID)).toMatchObject({ kind: 'retryable', code: 'no-MSA' });
    expect(outcomeOf(Buffer.from(`MSH|^~\\&|HIS||||2026||ACK|1|P|2.5\rMSA|OK|${ID}\r`), ID)).toMatchObject({ kind: 'retryable', code: 'OK' });
  });

  it('reads an answer in its own charset', () => {
    const text = `MSH|^~\\&|HIS|ZJ|||2026||ACK^S01^ACK|H9|P|2.5|||||GB 18030-2000\rMSA|AR|${ID}|号源已满\r`;
    expect(outcomeOf(iconv.encode(text, 'gb18030'), ID)).toEqual({ kind: 'refused', code: 'AR', reason: '号源已满' });
  });

  it('a timeout is retryable and counted', () => {
    expect(ackTimeoutOutcome(5000)).toEqual({ kind: 'retryable', code: 'timeout', reason: 'the HIS did not answer within 5000 ms', sinkDown: false });
  });
});
