import { describe, expect, it } from 'vitest';
import {
  escapeHl7,
  Hl7Error,
  Hl7Message,
  hl7ContentDigest,
  parseHl7Path,
  readHl7Header,
  STANDARD_DELIMITERS,
  unescapeHl7,
} from '../../agent/hl7/index.js';

const SEGMENTS = [
  'MSH|^~\\&|HIS|协和医院|WARDLINE|AGENT|20240105083000+0800||ADT^A01^ADT_A01|MSG00001|P|2.5|||||CHN|UNICODE UTF-8',
  'EVN|A01|20240105083000',
  'PID|1||P12345^^^HOSP^MR~110101199003077777^^^CHN^NNCHN||张^三丰||19900307|M|||朝阳路1号^^北京市^^100020||13800138000',
  'PV1|1|I|W1^101^1',
  'OBX|1|NM|GLU^Glucose||5.6|mmol/L',
  'OBX|2|TX|NOTE^Note||Line one\\.br\\line two \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\X41\\ \\H\\bold\\N\\',
  'OBX|3|ST|K^Potassium||4.1&sub2|mmol/L',
];
const ADT = SEGMENTS.join('\r') + '\r';

function parseError(text: string): Hl7Error {
  try {
    Hl7Message.parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(Hl7Error);
    return err as Hl7Error;
  }
  throw new Error('expected an Hl7Error');
}

describe('Hl7Message', () => {
  const msg = Hl7Message.parse(ADT);

  it('reads the MSH header fields', () => {
    expect(msg.messageType).toBe('ADT');
    expect(msg.triggerEvent).toBe('A01');
    expect(msg.controlId).toBe('MSG00001');
    expect(msg.sendingApplication).toBe('HIS');
    expect(msg.sendingFacility).toBe('协和医院');
    expect(msg.receivingApplication).toBe('WARDLINE');
    expect(msg.processingId).toBe('P');
    expect(msg.version).toBe('2.5');
    expect(msg.charset).toBe('UNICODE UTF-8');
    expect(msg.delimiters).toEqual(STANDARD_DELIMITERS);
  });

  it('numbers MSH fields as the standard does', () => {
    expect(msg.get('MSH-1')).toBe('|');
    expect(msg.get('MSH-2')).toBe('^~\\&');
    expect(msg.get('MSH-9')).toBe('ADT');
    expect(msg.get('MSH-9.3')).toBe('ADT_A01');
    expect(msg.get('MSH-17')).toBe('CHN');
    expect(msg.mshField(9)).toBe('ADT^A01^ADT_A01');
  });

  it('reads fields, components, repetitions and subcomponents', () => {
    expect(msg.get('PID-3')).toBe('P12345');
    expect(msg.get('PID-3.1')).toBe('P12345');
    expect(msg.get('PID-3.4')).toBe('HOSP');
    expect(msg.get('PID-3[2].1')).toBe('110101199003077777');
    expect(msg.get('PID-3[2].5')).toBe('NNCHN');
    expect(msg.get('PID-5.2')).toBe('三丰');
    expect(msg.get('PID-11.3')).toBe('北京市');
    expect(msg.get('OBX[3]-5')).toBe('4.1');
    expect(msg.get('OBX[3]-5.1.2')).toBe('sub2');
    expect(msg.getRaw('PID-3')).toBe('P12345^^^HOSP^MR');
    expect(msg.getRaw('PID-3[2]')).toBe('110101199003077777^^^CHN^NNCHN');
    expect(msg.getRaw('OBX[3]-5.1')).toBe('4.1&sub2');
  });

  it('returns "" for what is not there', () => {
    expect(msg.get('PID-3[3].1')).toBe('');
    expect(msg.get('PID-3.9')).toBe('');
    expect(msg.get('PID-99')).toBe('');
    expect(msg.get('ZZ1-1')).toBe('');
    expect(msg.get('OBX[4]-5')).toBe('');
    expect(msg.getRaw('PID-99')).toBe('');
  });

  it('addresses repeated segments', () => {
    expect(msg.segmentCount('OBX')).toBe(3);
    expect(msg.segmentNames).toEqual(['MSH', 'EVN', 'PID', 'PV1', 'OBX', 'OBX', 'OBX']);
    expect(msg.get('OBX[2]-3.2')).toBe('Note');
    expect(msg.getAll('OBX-3.1')).toEqual(['GLU', 'NOTE', 'K']);
    expect(msg.getAll('OBX[2]-1')).toEqual(['2']);
    expect(msg.getAll('NTE-3')).toEqual([]);
  });

  it('decodes escape sequences and keeps unknown ones verbatim', () => {
    expect(msg.get('OBX[2]-5')).toBe('Line one\nline two | ^ & ~ \\ A \\H\\bold\\N\\');
  });

  it('decodes hex escapes as UTF-8 in a UTF-8 message', () => {
    const m = Hl7Message.parse('MSH|^~\\&|A|B|||||ADT^A01|1|P|2.5\rPID|1||\\XE5BCA0\\\r');
    expect(m.get('PID-3')).toBe('张');
  });

  it('uses the delimiters the message declares', () => {
    const custom = 'MSH#*$!@#LAB#FAC###20240105##ORU*R01#C1#P#2.3\rPID#1##X1*Y$X2*Z##Smith*John!F!!S!\rOBX#1#ST#A@B';
    const m = Hl7Message.parse(custom);
    expect(m.delimiters).toEqual({ field: '#', component: '*', repetition: '$', escape: '!', subcomponent: '@' });
    expect(m.messageType).toBe('ORU');
    expect(m.triggerEvent).toBe('R01');
    expect(m.controlId).toBe('C1');
    expect(m.get('PID-3.2')).toBe('Y');
    expect(m.get('PID-3[2].2')).toBe('Z');
    expect(m.get('PID-5.2')).toBe('John#*');
    expect(m.get('OBX-3.1.2')).toBe('B');
    expect(m.get('MSH-2')).toBe('*$!@');
  });

  it('reads a v2.7 fifth encoding character as truncation, not a delimiter', () => {
    const m = Hl7Message.parse('MSH|^~\\&#|A|B|||||ADT^A01|1|P|2.7\rPID|1||X#1^\\P\\');
    expect(m.delimiters.truncation).toBe('#');
    expect(m.get('PID-3.1')).toBe('X#1');
    expect(m.get('PID-3.2')).toBe('#');
  });

  it('accepts LF and CRLF line endings', () => {
    for (const eol of ['\n', '\r\n']) {
      const m = Hl7Message.parse(SEGMENTS.join(eol) + eol);
      expect(m.segmentNames).toHaveLength(7);
      expect(m.get('PID-3[2].1')).toBe('110101199003077777');
      expect(m.get('OBX[3]-5.1.2')).toBe('sub2');
    }
  });

  it('keeps a bare LF inside a CR-terminated message as data', () => {
    const m = Hl7Message.parse('MSH|^~\\&|A|B|||||ORU^R01|1|P|2.5\rOBX|1|TX|||first line\nsecond line\r');
    expect(m.get('OBX-5')).toBe('first line\nsecond line');
  });

  it('skips blank lines around segments', () => {
    const m = Hl7Message.parse('\r\nMSH|^~\\&|A|B|||||ADT^A01|1|P|2.5\r\r\nPID|1||X\r\n\r\n');
    expect(m.segmentNames).toEqual(['MSH', 'PID']);
  });
});

describe('Hl7Message validation', () => {
  it('needs MSH first (100)', () => {
    expect(parseError('').hl7Code).toBe('100');
    const err = parseError('PID|1||X\rMSH|^~\\&|A|B|||||ADT^A01|1');
    expect(err.hl7Code).toBe('100');
    expect(err.location).toEqual({ segment: 'MSH', sequence: 1 });
    expect(err.severity).toBe('E');
  });

  it('needs MSH-9 and MSH-10 (101)', () => {
    const noType = parseError('MSH|^~\\&|A|B||||||1|P|2.5');
    expect(noType.hl7Code).toBe('101');
    expect(noType.location).toEqual({ segment: 'MSH', sequence: 1, field: 9 });
    expect(noType.message).toMatch(/MSH-9/);
    const noId = parseError('MSH|^~\\&|A|B|||||ADT^A01||P|2.5');
    expect(noId.hl7Code).toBe('101');
    expect(noId.location).toEqual({ segment: 'MSH', sequence: 1, field: 10 });
  });

  it('refuses unusable delimiters (102)', () => {
    expect(parseError('MSHA^~\\&A').location?.field).toBe(1);
    expect(parseError('MSH').location?.field).toBe(1);
    const short = parseError('MSH|^~|A|B|||||ADT^A01|1');
    expect(short.hl7Code).toBe('102');
    expect(short.location).toEqual({ segment: 'MSH', sequence: 1, field: 2 });
    expect(parseError('MSH|^^\\&|A|B|||||ADT^A01|1').hl7Code).toBe('102');
    expect(parseError('MSH|^|\\&|A|B|||||ADT^A01|1').hl7Code).toBe('102');
  });

  it('refuses a line that is not a segment (100)', () => {
    const err = parseError('MSH|^~\\&|A|B|||||ADT^A01|1|P|2.5\rPID|1||X\r三丰|||\r');
    expect(err.hl7Code).toBe('100');
    expect(err.message).toMatch(/Segment 3/);
    expect(err.location).toEqual({ segment: '' }); // patient data is not echoed
  });
});

describe('parseHl7Path', () => {
  it('parses every addressing form', () => {
    expect(parseHl7Path('PID-3')).toEqual({ segment: 'PID', occurrence: undefined, field: 3, repetition: 1, component: undefined, subcomponent: undefined });
    expect(parseHl7Path('obx[2]-5[3].1.2')).toEqual({ segment: 'OBX', occurrence: 2, field: 5, repetition: 3, component: 1, subcomponent: 2 });
  });

  it('refuses malformed paths, naming them', () => {
    for (const bad of ['PID3', 'PID-0', 'PID-3.0', 'PI-3', 'PID-3.1.2.3', 'PID[0]-3', '']) {
      expect(() => parseHl7Path(bad), bad).toThrow(RangeError);
    }
    expect(() => parseHl7Path('PID3')).toThrow(/"PID3"/);
  });
});

describe('escapeHl7 / unescapeHl7', () => {
  it('round-trips every delimiter, the escape character and line breaks', () => {
    const text = 'a|b^c~d\\e&f\rg\nh 张三';
    const escaped = escapeHl7(text, STANDARD_DELIMITERS);
    expect(escaped).not.toMatch(/[|^~&\r\n]/);
    expect(unescapeHl7(escaped, STANDARD_DELIMITERS)).toBe(text);
  });

  it('keeps an unterminated escape as data', () => {
    expect(unescapeHl7('50\\% off \\F', STANDARD_DELIMITERS)).toBe('50\\% off \\F');
  });
});

describe('readHl7Header', () => {
  it('salvages MSH fields from a message that fails validation', () => {
    const header = readHl7Header('MSH|^~\\&|LIS|LAB|||20240105|||C42|P|2.3');
    expect(header?.mshField(3)).toBe('LIS');
    expect(header?.mshField(10)).toBe('C42');
    expect(header?.delimiters).toEqual(STANDARD_DELIMITERS);
  });

  it('falls back to standard delimiters, escaping the fields, when MSH-2 is unusable', () => {
    const header = readHl7Header('MSH|^^|LIS^X|LAB|||20240105||ADT^A01|C43');
    expect(header?.delimiters).toEqual(STANDARD_DELIMITERS);
    expect(header?.mshField(3)).toBe('LIS\\S\\X');
    expect(header?.mshField(10)).toBe('C43');
  });

  it('finds nothing in text without an MSH', () => {
    expect(readHl7Header('PID|1||X')).toBeUndefined();
    expect(readHl7Header('')).toBeUndefined();
  });
});

describe('hl7ContentDigest', () => {
  const message = (sentAt: string, value = '4.2', terminator = '\r') =>
    Hl7Message.parse([`MSH|^~\\&|LIS|LAB|WL|AGENT|${sentAt}||ORU^R01|M1|P|2.5`, 'PID|1||MRN1', `OBX|1|NM|K||${value}`, ''].join(terminator));

  it('is the same for a retransmission that restamped MSH-7 or changed segment terminators', () => {
    const digest = hl7ContentDigest(message('20260101083000'));
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(hl7ContentDigest(message('20260101090000'))).toBe(digest);
    expect(hl7ContentDigest(message('20260101083000', '4.2', '\r\n'))).toBe(digest);
  });

  it('differs for any other difference in content', () => {
    expect(hl7ContentDigest(message('20260101083000', '7.9'))).not.toBe(hl7ContentDigest(message('20260101083000')));
  });
});
