import { describe, expect, it } from 'vitest';
import {
  buildAck,
  Hl7Error,
  Hl7MappingError,
  Hl7Message,
  readHl7Header,
} from '../../agent/hl7/index.js';

const ORIGINAL = Hl7Message.parse(
  'MSH|^~\\&|LIS^1.2.3^ISO|检验科|WARDLINE|HOSP|20240105083000||ORU^R01^ORU_R01|LAB-778|T|2.4|||||CHN|GB 18030-2000\rOBR|1||\r',
);
const NOW = new Date(2024, 0, 5, 8, 30, 1);

describe('buildAck', () => {
  it('accepts with AA: MSA-2 echoes MSH-10, applications are swapped, context is kept', () => {
    const text = buildAck({ original: ORIGINAL, code: 'AA', now: NOW, controlId: 'ACK1' });
    expect(text.endsWith('\r')).toBe(true);
    const ack = Hl7Message.parse(text);
    expect(ack.segmentNames).toEqual(['MSH', 'MSA']);
    expect(ack.getRaw('MSH-3')).toBe('WARDLINE');
    expect(ack.get('MSH-4')).toBe('HOSP');
    expect(ack.getRaw('MSH-5')).toBe('LIS^1.2.3^ISO');
    expect(ack.get('MSH-6')).toBe('检验科');
    expect(ack.get('MSH-7')).toMatch(/^20240105083001[+-]\d{4}$/);
    expect(ack.getRaw('MSH-9')).toBe('ACK^R01^ACK');
    expect(ack.controlId).toBe('ACK1');
    expect(ack.processingId).toBe('T');
    expect(ack.version).toBe('2.4');
    expect(ack.charset).toBe('GB 18030-2000');
    expect(ack.get('MSA-1')).toBe('AA');
    expect(ack.get('MSA-2')).toBe('LAB-778');
    expect(ack.get('MSA-3')).toBe('');
  });

  it('rejects with AE and an ERR giving code, location, severity and text', () => {
    const error = new Hl7MappingError('ORU^R01', 'results', ['OBR-3.1', 'ORC-3.1'], {
      segment: 'OBR',
      sequence: 1,
      field: 3,
      component: 1,
    });
    const ack = Hl7Message.parse(buildAck({ original: ORIGINAL, code: 'AE', error, now: NOW, controlId: 'ACK2' }));
    expect(ack.get('MSA-1')).toBe('AE');
    expect(ack.get('MSA-2')).toBe('LAB-778');
    expect(ack.get('MSA-3')).toContain('OBR-3.1');
    // v2.5 fields
    expect(ack.getRaw('ERR-2')).toBe('OBR^1^3^^1');
    expect(ack.getRaw('ERR-3')).toBe('101^Required field missing^HL70357');
    expect(ack.get('ERR-4')).toBe('E');
    expect(ack.get('ERR-8')).toBe(error.message);
    // v2.3 ERR-1, for older receivers
    expect(ack.getRaw('ERR-1')).toBe('OBR^1^3^101&Required field missing&HL70357');
  });

  it('escapes delimiters in the error text', () => {
    const error = new Hl7Error('102', 'bad value "a|b^c~d&e\\f"\nsecond line', {
      location: { segment: 'PID', sequence: 1, field: 7 },
    });
    const text = buildAck({ original: ORIGINAL, code: 'AE', error, now: NOW, controlId: 'ACK3' });
    const ack = Hl7Message.parse(text);
    expect(ack.segmentNames).toEqual(['MSH', 'MSA', 'ERR']);
    expect(ack.get('ERR-8')).toBe(error.message);
    expect(ack.get('MSA-3')).toBe(error.message);
  });

  it('cuts MSA-3 to 80 characters and keeps the whole text in ERR-8', () => {
    const error = new Hl7Error('207', 'x'.repeat(200));
    const ack = Hl7Message.parse(buildAck({ original: ORIGINAL, code: 'AR', error, now: NOW, controlId: 'A' }));
    expect(ack.get('MSA-1')).toBe('AR');
    expect(ack.get('MSA-3')).toHaveLength(80);
    expect(ack.get('ERR-8')).toHaveLength(200);
    expect(ack.getRaw('ERR-3')).toBe('207^Application internal error^HL70357');
    expect(ack.getRaw('ERR-2')).toBe('');
  });

  it('answers in the original delimiters', () => {
    const original = Hl7Message.parse('MSH#*$!@#LAB#FAC#ME#HERE#20240105##ORU*R01#C1#P#2.3');
    const error = new Hl7Error('101', 'missing # here');
    const text = buildAck({ original, code: 'AE', error, now: NOW, controlId: 'Z9' });
    expect(text.startsWith('MSH#*$!@#ME#HERE#LAB#FAC#')).toBe(true);
    const ack = Hl7Message.parse(text);
    expect(ack.getRaw('MSH-9')).toBe('ACK*R01*ACK');
    expect(ack.get('MSA-2')).toBe('C1');
    expect(ack.get('ERR-8')).toBe('missing # here');
  });

  it('still answers a message with no usable MSH', () => {
    const error = new Hl7Error('100', 'The message must start with an MSH segment');
    const ack = Hl7Message.parse(buildAck({ original: undefined, code: 'AE', error, now: NOW, controlId: 'Q1' }));
    expect(ack.delimiters.field).toBe('|');
    expect(ack.getRaw('MSH-9')).toBe('ACK');
    expect(ack.get('MSA-1')).toBe('AE');
    expect(ack.get('MSA-2')).toBe('');
    expect(ack.version).toBe('2.5');
    expect(ack.getRaw('ERR-1')).toBe('^^^100&Segment sequence error&HL70357');
  });

  it('echoes the control id salvaged from a message that failed to parse', () => {
    const header = readHl7Header('MSH|^~\\&|LIS|LAB|||20240105|||C42|P|2.3');
    const error = new Hl7Error('101', 'MSH-9 (message type) is empty', { location: { segment: 'MSH', sequence: 1, field: 9 } });
    const ack = Hl7Message.parse(buildAck({ original: header, code: 'AE', error, now: NOW, controlId: 'Q2' }));
    expect(ack.get('MSA-2')).toBe('C42');
    expect(ack.get('MSH-5')).toBe('LIS');
    expect(ack.getRaw('ERR-2')).toBe('MSH^1^9');
  });
});
