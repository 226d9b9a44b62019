import iconv from 'iconv-lite';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Hl7Intake, SLICE_FRAME_BYTES, type Answer, type Hl7IntakeOptions } from '../../agent/sources/mllp/index.js';
import { Hl7Message, hl7ContentDigest, mergeMapping } from '../../agent/hl7/index.js';
import { RecordingWriter } from '../support/recording-writer.js';

// The intake without a socket: bytes in, the ACK it decides and the append it makes out.

const AT = new Date('2024-01-05T08:30:00Z');

function adt(controlId: string, patientId = 'P12345', name = 'Zhang^San'): Buffer {
  return Buffer.from(
    [`MSH|^~\\&|HIS|HOSP|WARDLINE|AGENT|20240105083000||ADT^A01^ADT_A01|${controlId}|P|2.5`, 'EVN|A01|20240105083000', `PID|1||${patientId}^^^HOSP^MR||${name}||19900307|M`, ''].join('\r'),
    'utf8',
  );
}

function intake(overrides: Partial<Hl7IntakeOptions> = {}): { intake: Hl7Intake; writer: RecordingWriter } {
  const writer = (overrides.writer as RecordingWriter | undefined) ?? new RecordingWriter();
  return { intake: new Hl7Intake({ source: 'lis-mllp', writer, mapping: mergeMapping([]), log: pino({ level: 'silent' }), now: () => AT, ackIdPrefix: 'WLTEST', ...overrides }), writer };
}

function ack(answer: Answer): Hl7Message {
  return Hl7Message.parse(answer.bytes.toString('utf8'));
}

describe('Hl7Intake', () => {
  it('appends an accepted message and answers AA echoing MSH-10, with its own control id and clock', async () => {
    const { intake: subject, writer } = intake();
    const answer = await subject.take(adt('OK-1'));
    expect(answer.code).toBe('AA');
    const message = ack(answer);
    expect(message.get('MSA-1')).toBe('AA');
    expect(message.get('MSA-2')).toBe('OK-1');
    expect(message.get('MSH-10')).toBe('WLTEST1');
    expect(message.get('MSH-7')).toMatch(/^20240105/);
    expect(writer.journal).toHaveLength(1);
    const request = writer.journal[0]!;
    expect(request.source).toBe('lis-mllp');
    expect(request.dedupe).toMatchObject({ scope: 'HIS|HOSP', id: 'OK-1' });
    expect(request.dedupe?.digest).toEqual(expect.any(String));
    expect(request.events[0]).toMatchObject({ stream: 'adt', key: 'P12345', contentType: 'hl7v2', headers: { controlId: 'OK-1', messageType: 'ADT^A01' } });
    expect(subject.counts).toEqual({ received: 1, acknowledged: 1, duplicates: 0, rejected: 0, controlIdsReused: 0 });
    expect(subject.lastMessageAt).toEqual(AT);
    expect((await subject.take(adt('OK-2'))).bytes.toString('utf8')).toContain('|WLTEST2|');
  });

  it('answers a retransmission the store already holds AA again and counts it a duplicate', async () => {
    const { intake: subject, writer } = intake();
    await subject.take(adt('DUP-1'));
    const again = await subject.take(adt('DUP-1'));
    expect(ack(again).get('MSA-1')).toBe('AA');
    expect(writer.requests).toHaveLength(2);
    expect(writer.journal).toHaveLength(1);
    expect(subject.counts).toMatchObject({ acknowledged: 2, duplicates: 1, rejected: 0 });
  });

  it('answers AR with the reason when admission refuses, asking with the source name and appending nothing', async () => {
    const asked: string[] = [];
    const { intake: subject, writer } = intake({ admission: (source) => (asked.push(source), 'Disk critically full (98%)') });
    const answer = await subject.take(adt('FULL-1'));
    const message = ack(answer);
    expect(answer.code).toBe('AR');
    expect(message.get('MSA-2')).toBe('FULL-1');
    expect(message.get('MSA-3')).toBe('Disk critically full (98%)');
    expect(message.get('ERR-3')).toBe('207');
    expect(asked).toEqual(['lis-mllp']);
    expect(writer.requests).toHaveLength(0);
    expect(subject.lastRejection).toEqual({ at: AT, code: 'AR', reason: 'Disk critically full (98%)', kind: 'disk-full' });
  });

  it('answers a message it cannot parse AE with ERR, and bytes that are not HL7 AE 100', async () => {
    const { intake: subject, writer } = intake();
    const bad = ack(await subject.take(Buffer.from('MSH|^~\\&|HIS|HOSP|||20240105|||BAD-1|P|2.5\rPID|1||X\r')));
    expect(bad.get('MSA-1')).toBe('AE');
    expect(bad.get('MSA-2')).toBe('BAD-1');
    expect(bad.getRaw('ERR-3')).toBe('101^Required field missing^HL70357');
    expect(bad.getRaw('ERR-2')).toBe('MSH^1^9');
    const garbage = ack(await subject.take(Buffer.from('this is not HL7 at all')));
    expect(garbage.get('MSA-1')).toBe('AE');
    expect(garbage.get('ERR-3')).toBe('100');
    expect(writer.requests).toHaveLength(0);
    expect(subject.counts).toMatchObject({ received: 2, rejected: 2, acknowledged: 0 });
  });

  it('answers AE naming the key path when the message has no key', async () => {
    const { intake: subject, writer } = intake();
    const message = ack(await subject.take(adt('NOKEY-1', '')));
    expect(message.get('MSA-1')).toBe('AE');
    expect(message.get('ERR-8')).toContain('PID-3.1');
    expect(writer.requests).toHaveLength(0);
  });

  it('answers an undecodable charset AE 103, echoing MSH-10 byte for byte', async () => {
    const { intake: subject, writer } = intake();
    const answer = await subject.take(Buffer.from('MSH|^~\\&|HIS|HOSP|||20240105||ADT^A01|CS-1|P|2.5|||||CHN|EBCDIC\rPID|1||X\r'));
    const message = Hl7Message.parse(answer.bytes.toString('latin1'));
    expect({ code: message.get('MSA-1'), controlId: message.get('MSA-2'), error: message.get('ERR-3') }).toEqual({ code: 'AE', controlId: 'CS-1', error: '103' });
    expect(message.get('ERR-8')).toContain('EBCDIC');
    expect(writer.requests).toHaveLength(0);
  });

  it('journals a reused control id with other content as new, counts it and names the sender', async () => {
    const { intake: subject, writer } = intake();
    await subject.take(adt('REUSE-1', 'P1'));
    const answer = await subject.take(adt('REUSE-1', 'P2', 'Li^Si'));
    expect(answer.code).toBe('AA');
    expect(writer.journal).toHaveLength(2);
    expect(subject.counts).toMatchObject({ acknowledged: 2, duplicates: 0, controlIdsReused: 1 });
    expect(subject.controlIdReuse()).toEqual([expect.objectContaining({ sendingApplication: 'HIS', sendingFacility: 'HOSP', controlId: 'REUSE-1', count: 1 })]);
  });

  it('answers AR when the writer throws, without the store internals, and counts no acknowledgement', async () => {
    const writer = new RecordingWriter();
    writer.failure = Object.assign(new Error('SQLITE_IOERR: disk I/O error'), { code: 'SQLITE_IOERR' });
    const { intake: subject } = intake({ writer });
    const answer = await subject.take(adt('IO-1'));
    const message = ack(answer);
    expect(answer.code).toBe('AR');
    expect(message.get('MSA-2')).toBe('IO-1');
    expect(message.get('ERR-8')).not.toContain('SQLITE');
    expect(subject.counts).toMatchObject({ acknowledged: 0, rejected: 1 });
  });

  it('calls the writer before commit() first awaits, so appends keep the order of prepare()', async () => {
    const writer = new RecordingWriter();
    writer.hold = true;
    const { intake: subject } = intake({ writer });
    const first = await subject.prepare(adt('ORD-1'));
    const second = await subject.prepare(adt('ORD-2'));
    if ('answer' in first || 'answer' in second) throw new Error('expected messages to append');
    const answers = [subject.commit(first), subject.commit(second)];
    expect(writer.requests.map((r) => r.dedupe?.id)).toEqual(['ORD-1', 'ORD-2']);
    writer.releaseInReverse();
    expect((await Promise.all(answers)).map((a) => a.code)).toEqual(['AA', 'AA']);
  });

  it('pauses between the slices of a large frame and not for a small one', async () => {
    let pauses = 0;
    const { intake: subject } = intake({ pause: () => (pauses++, Promise.resolve()) });
    await subject.take(adt('SMALL-1'));
    expect(pauses).toBe(0);
    const big = Buffer.concat([adt('BIG-1'), Buffer.from(`NTE|1||${'x'.repeat(SLICE_FRAME_BYTES)}\r`)]);
    expect((await subject.take(big)).code).toBe('AA');
    expect(pauses).toBe(2);
  });

  it('answers a frame refused for a limit AR from its head, and an oversized one AE', () => {
    const { intake: subject } = intake();
    const refused = ack(subject.refuseFrame(adt('LIMIT-1').subarray(0, 120), 'too many segments'));
    expect(refused.get('MSA-1')).toBe('AR');
    expect(refused.get('MSA-2')).toBe('LIMIT-1');
    expect(refused.get('ERR-8')).toBe('too many segments');
    const oversize = ack(subject.refuseOversize(1024));
    expect(oversize.get('MSA-1')).toBe('AE');
    expect(oversize.get('ERR-8')).toContain('1024 bytes');
    expect(subject.counts).toMatchObject({ received: 2, rejected: 2 });
  });

  it('refuses a malformed mapping at construction, naming the rule', () => {
    expect(() => intake({ mapping: [{ messageType: 'ADT', stream: 'adt', keyPaths: ['PID.3'] }] })).toThrow(/rule 1.*PID\.3/);
  });
});

describe('Hl7Intake charset of the stored form', () => {
  const gbText = [
    'MSH|^~\\&|HIS|北京协和医院|WL|AGENT|20240105083000||ADT^A01^ADT_A01|GB-7|P|2.5|||||CHN|GB 18030-2000',
    'PID|1||P88^^^HOSP^MR||张三丰||19900307|M',
    '',
  ].join('\r');

  it('stores UTF-8 saying UNICODE UTF-8 in MSH-18, keeps the wire charset in originalCharset, and ACKs in the wire charset', async () => {
    const { intake: subject, writer } = intake();
    const answer = await subject.take(iconv.encode(gbText, 'gb18030'));
    expect(answer.code).toBe('AA');
    expect(Hl7Message.parse(iconv.decode(answer.bytes, 'gb18030')).charset).toBe('GB 18030-2000');
    const event = writer.journal[0]!.events[0]!;
    expect(event.body.toString('utf8')).toBe(gbText.replace('|GB 18030-2000', '|UNICODE UTF-8'));
    expect(event.headers).toMatchObject({ charset: 'UNICODE UTF-8', originalCharset: 'GB 18030-2000' });
  });

  it('names the fallback charset applied to an undeclared non-UTF-8 message', async () => {
    const { intake: subject, writer } = intake();
    const undeclared = gbText.replace('|CHN|GB 18030-2000', '');
    await subject.take(iconv.encode(undeclared, 'gbk'));
    const event = writer.journal[0]!.events[0]!;
    expect(Hl7Message.parse(event.body.toString('utf8')).charset).toBe('UNICODE UTF-8');
    expect(event.headers).toMatchObject({ charset: 'UNICODE UTF-8', originalCharset: 'GB 18030-2000' });
  });

  it('keeps the dedupe digest over the message as received, so a retransmission is still a duplicate', async () => {
    const { intake: subject, writer } = intake();
    await subject.take(iconv.encode(gbText, 'gb18030'));
    const again = await subject.take(iconv.encode(gbText, 'gb18030'));
    expect(again.code).toBe('AA');
    expect(writer.journal).toHaveLength(1);
    expect(subject.counts.duplicates).toBe(1);
    expect(writer.requests[0]!.dedupe!.digest).toBe(hl7ContentDigest(Hl7Message.parse(gbText)));
  });
});
