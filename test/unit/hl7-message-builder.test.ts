// The HL7 the MLLP sink sends, read back with the agent's own parser: each message
// type by mapping, escaping of every delimiter, the unmappable reasons, and the
// passthrough of an hl7v2 body with MSH-10 replaced.
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { decodeHl7, Hl7Message } from '../../agent/hl7/index.js';
import { Hl7MessageBuilder } from '../../agent/downlink/sinks/hl7-message-builder.js';
import { MllpSinkConfigSchema, sinkRequirements } from '../../agent/downlink/sinks/index.js';
import type { SinkDelivery } from '../../agent/downlink/sinks/index.js';

const ID = 'ibabcdefghijklmnop23';
const NOW = new Date('2026-12-03T09:30:00Z');

function delivery(body: unknown, contentType = 'json'): SinkDelivery {
  return {
    id: ID,
    channel: 'bookings',
    key: 'P-1001',
    contentType,
    body: Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    vendor: 'patient-app',
    receivedAtMs: NOW.getTime(),
    expiresAtMs: NOW.getTime() + 3_600_000,
    attempt: 1,
  };
}

function builder(sink: Record<string, unknown>): Hl7MessageBuilder {
  return Hl7MessageBuilder.fromConfig(MllpSinkConfigSchema.parse({ kind: 'mllp', address: '127.0.0.1:2575', receivingApplication: 'HIS', receivingFacility: 'ZJ002', ...sink }), 'h-zj-002');
}

function parsed(result: ReturnType<Hl7MessageBuilder['build']>): Hl7Message {
  if (!result.ok) throw new Error(`unmappable: ${result.reason}`);
  return Hl7Message.parse(decodeHl7(result.payload).text);
}

const BOOKING = {
  kind: 'mllp',
  message: 'SRM^S01',
  mapping: {
    'ARQ-1.1': '$.booking.id',
    'ARQ-11.1': '$.booking.start',
    'ARQ-7.1': { value: 'ROUTINE' },
    'PID-3.1': '$.patient.id',
    'PID-5.1': { path: '$.patient.family', optional: true },
    'PID-5.2': { path: '$.patient.given', optional: true },
    'AIS-3.1': '$.booking.service',
    'AIP-3.1': { path: '$.booking.doctor', optional: true },
  },
};

const BOOKING_BODY = {
  booking: { id: 'B-77', start: '202612041000', service: 'CARDIO-OPD', doctor: 'D-12' },
  patient: { id: 'P-1001', family: '张', given: '三' },
};

describe('Hl7MessageBuilder', () => {
  it('builds SRM^S01 with the shared MSH: MSH-10 the inbound id, AL/NE, UNICODE UTF-8', () => {
    const result = builder(BOOKING).build(delivery(BOOKING_BODY), NOW);
    const message = parsed(result);
    expect(message.segmentNames).toEqual(['MSH', 'ARQ', 'PID', 'AIS', 'AIP']);
    expect(message.text.split('\r')[0]).toMatch(/^MSH\|\^~\\&\|WARDLINE\|h-zj-002\|HIS\|ZJ002\|\d{14}[+-]\d{4}\|\|SRM\^S01\^SRM_S01\|ibabcdefghijklmnop23\|P\|2\.5\|\|\|AL\|NE\|\|UNICODE UTF-8$/);
    expect(message.controlId).toBe(ID);
    expect(message.get('ARQ-1')).toBe('B-77');
    expect(message.get('ARQ-11')).toBe('202612041000');
    expect(message.get('ARQ-7')).toBe('ROUTINE');
    expect(message.get('PID-3')).toBe('P-1001');
    expect(message.get('PID-5.1')).toBe('张');
    expect(message.get('PID-5.2')).toBe('三');
    expect(message.get('PID-1')).toBe('1');
    expect(message.get('AIS-3')).toBe('CARDIO-OPD');
    expect(message.get('AIP-3')).toBe('D-12');
  });

  it('leaves out an optional segment none of whose fields has a value', () => {
    const body = { booking: { id: 'B-78', start: '202612041100', service: 'DERM' }, patient: { id: 'P-2' } };
    const message = parsed(builder(BOOKING).build(delivery(body), NOW));
    expect(message.segmentNames).toEqual(['MSH', 'ARQ', 'PID', 'AIS']);
    expect(message.get('PID-5')).toBe('');
  });

  it('builds ADT^A04 with EVN (type and recorded time), PID and PV1', () => {
    const sink = { message: 'ADT^A04', mapping: { 'PID-3.1': '$.patient.id', 'PID-7.1': '$.patient.birthDate', 'PID-8': '$.patient.sex', 'PV1-2': { value: 'O' } } };
    const message = parsed(builder(sink).build(delivery({ patient: { id: 'P-3', birthDate: '19800101', sex: 'F' } }), NOW));
    expect(message.segmentNames).toEqual(['MSH', 'EVN', 'PID', 'PV1']);
    expect(message.get('MSH-9')).toBe('ADT');
    expect(message.get('MSH-9.2')).toBe('A04');
    expect(message.get('MSH-9.3')).toBe('ADT_A01');
    expect(message.get('EVN-1')).toBe('A04');
    expect(message.get('EVN-2')).toMatch(/^\d{14}[+-]\d{4}$/);
    expect(message.get('PID-7')).toBe('19800101');
    expect(message.get('PV1-2')).toBe('O');
  });

  it('builds DFT^P03 with FT1 and, only when mapped, PV1; numbers become text', () => {
    const sink = {
      message: 'DFT^P03',
      mapping: { 'PID-3.1': '$.patient.id', 'FT1-6': { value: 'PY' }, 'FT1-7.1': '$.payment.item', 'FT1-11.1': { path: '$.payment.amount', type: 'number' }, 'PV1-19.1': { path: '$.visit', optional: true } },
    };
    const message = parsed(builder(sink).build(delivery({ patient: { id: 'P-4' }, payment: { item: 'REG-FEE', amount: 25.5 } }), NOW));
    expect(message.segmentNames).toEqual(['MSH', 'EVN', 'PID', 'FT1']);
    expect(message.get('FT1-1')).toBe('1');
    expect(message.get('FT1-11')).toBe('25.5');
    const withVisit = parsed(builder(sink).build(delivery({ patient: { id: 'P-4' }, payment: { item: 'X', amount: 1 }, visit: 'V-9' }), NOW));
    expect(withVisit.segmentNames).toEqual(['MSH', 'EVN', 'PID', 'PV1', 'FT1']);
    expect(withVisit.get('PV1-19')).toBe('V-9');
  });

  it('escapes every delimiter and line break, so no value adds a field, component or segment', () => {
    const nasty = 'a|b^c~d\\e&f\rPID|2|||X\ng';
    const sink = { message: 'ADT^A04', mapping: { 'PID-3.1': '$.patient.id', 'PID-5.1': '$.patient.family' } };
    const result = builder(sink).build(delivery({ patient: { id: 'P-5', family: nasty } }), NOW);
    expect(result.ok).toBe(true);
    const text = (result as { payload: Buffer }).payload.toString('utf8');
    expect(text).toContain('a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f\\X0D\\PID\\F\\2\\F\\\\F\\\\F\\X\\X0A\\g');
    const message = parsed(result);
    expect(message.segmentNames).toEqual(['MSH', 'EVN', 'PID', 'PV1']);
    expect(message.get('PID-5.1')).toBe('a|b^c~d\\e&f\x0dPID|2|||X\x0ag'.replace('\x0d', '\r').replace('\x0a', '\n'));
    expect(message.get('PID-5.2')).toBe('');
  });

  it('answers unmappable naming the HL7 field and the JSON path, never the value', () => {
    const missing = builder(BOOKING).build(delivery({ booking: { id: 'B', start: '2026', service: 'S' }, patient: {} }), NOW);
    expect(missing).toEqual({ ok: false, reason: 'PID-3.1: $.patient.id is missing from the body (the mapping requires it)' });
    const empty = builder(BOOKING).build(delivery({ booking: { id: '', start: '2026', service: 'S' }, patient: { id: 'P' } }), NOW);
    expect(empty).toMatchObject({ ok: false, reason: expect.stringContaining('ARQ-1.1: $.booking.id is missing') });
    const object = builder(BOOKING).build(delivery({ booking: { id: 'B', start: { at: 'secret-value' }, service: 'S' }, patient: { id: 'P' } }), NOW);
    expect(object).toMatchObject({ ok: false, reason: 'ARQ-11.1: $.booking.start is an object, not a value for one HL7 field' });
    expect(builder(BOOKING).build(delivery('{not json'), NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(/^the body is not JSON/) });
    expect(builder({}).build(delivery({ a: 1 }), NOW)).toMatchObject({ ok: false, reason: expect.stringContaining('only hl7v2 bodies pass') });
  });

  it('passes an hl7v2 body through with MSH-10 set to the inbound id, all else as sent', () => {
    const original = 'MSH|^~\\&|APP|CLINIC|HIS|ZJ|20261203093000||SRM^S01^SRM_S01|VENDOR-123|P|2.5\rARQ|B-1||||||||||202612041000\rPID|1||P-9^^^HOSP^MR\r';
    const result = builder({}).build(delivery(original, 'hl7v2'), NOW);
    const message = parsed(result);
    expect(message.controlId).toBe(ID);
    expect(message.get('MSH-3')).toBe('APP');
    expect(message.getRaw('PID-3')).toBe('P-9^^^HOSP^MR');
    expect(message.text).toBe(original.replace('VENDOR-123', ID));
  });

  it('passes through in the body own delimiters and charset', () => {
    const original = 'MSH#*~\\&#APP#CLINIC#HIS#ZJ#20261203093000##ADT*A04#V-1#P#2.5######GB 18030-2000\rPID#1##P-9##王*五\r';
    const result = builder({}).build(delivery(iconv.encode(original, 'gb18030'), 'hl7v2'), NOW);
    expect(result.ok).toBe(true);
    const payload = (result as { payload: Buffer }).payload;
    expect(iconv.decode(payload, 'gb18030')).toBe(original.replace('V-1', ID));
    expect(parsed(result).get('PID-5.1')).toBe('王');
  });

  it('refuses a passthrough body that is not a message', () => {
    expect(builder({}).build(delivery('PID|1||X\r', 'hl7v2'), NOW)).toMatchObject({ ok: false, reason: expect.stringContaining('must start with an MSH segment') });
  });
});

describe('MllpSinkConfigSchema and sinkRequirements', () => {
  it('declares the required mapped paths, each once, and not the optional or fixed ones', () => {
    const config = MllpSinkConfigSchema.parse({ ...BOOKING, address: 'his:2575', mapping: { ...BOOKING.mapping, 'PID-18.1': '$.booking.id' } });
    expect(sinkRequirements(config).requiredFields).toEqual([
      { path: '$.booking.id', type: 'any' },
      { path: '$.booking.start', type: 'any' },
      { path: '$.patient.id', type: 'any' },
      { path: '$.booking.service', type: 'any' },
    ]);
    expect(config.connections).toBe(4);
    expect(config.ackTimeoutMs).toBe(30_000);
  });

  it('names the field at fault', () => {
    const bad = MllpSinkConfigSchema.safeParse({ kind: 'mllp', address: 'his:2575', message: 'ADT^A04', mapping: { 'ARQ-1': '$.x', 'PID-3': 'patient.id', 'MSH-10': { value: 'x' } } });
    expect(bad.success).toBe(false);
    const issues = bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toContainEqual(expect.stringMatching(/^mapping\.PID-3: /));
    expect(issues.join('\n')).toContain('MSH is written by Wardline');
    expect(issues.join('\n')).toContain('ADT^A04 has no ARQ segment');
  });
});
