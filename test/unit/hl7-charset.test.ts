import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { decodeHl7, encodeHl7, Hl7Error, Hl7Message } from '../../agent/hl7/index.js';

function message(charset: string, facility = '北京协和医院'): string {
  return [
    `MSH|^~\\&|HIS|${facility}|WARDLINE|AGENT|20240105083000||ADT^A01^ADT_A01|MSG00042|P|2.5|||||CHN|${charset}`,
    'PID|1||P12345^^^HOSP^MR||张三丰||19900307|M|||北京市朝阳区建国路1号^^北京市^^100020',
    '',
  ].join('\r');
}

function decodeError(bytes: Buffer): Hl7Error {
  try {
    decodeHl7(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(Hl7Error);
    return err as Hl7Error;
  }
  throw new Error('expected an Hl7Error');
}

describe('decodeHl7', () => {
  it('decodes a GB18030 message declared "GB 18030-2000"', () => {
    const text = message('GB 18030-2000');
    const bytes = iconv.encode(text, 'gb18030');
    expect(bytes.toString('utf8')).not.toContain('张三丰'); // really not UTF-8 on the wire

    const decoded = decodeHl7(bytes);
    expect(decoded.text).toBe(text);
    expect(decoded.charset).toBe('GB 18030-2000');
    expect(decoded.encoding).toBe('gb18030');
    const parsed = Hl7Message.parse(decoded.text);
    expect(parsed.get('PID-5')).toBe('张三丰');
    expect(parsed.get('PID-11.1')).toBe('北京市朝阳区建国路1号');
  });

  it('decodes GBK, even when a facility name has "|" and "^" as second bytes', () => {
    // 東 is 0x96 0x7C and 區 is 0x85 0x5E in GBK: a naive byte scan miscounts fields.
    const text = message('GBK', '香港東區醫院');
    const bytes = iconv.encode(text, 'gbk');
    expect(bytes.includes(Buffer.from([0x96, 0x7c]))).toBe(true);

    const decoded = decodeHl7(bytes);
    expect(decoded.charset).toBe('GBK');
    expect(decoded.text).toBe(text);
    expect(Hl7Message.parse(decoded.text).sendingFacility).toBe('香港東區醫院');
  });

  it('decodes GB2312 and spelling variants of GB18030', () => {
    for (const charset of ['GB2312', 'GB18030', 'gb18030', 'GB 18030-2005']) {
      const text = message(charset);
      const encoding = charset.toUpperCase().startsWith('GB2312') ? 'gb2312' : 'gb18030';
      expect(decodeHl7(iconv.encode(text, encoding)).text, charset).toBe(text);
    }
  });

  it('takes UTF-8 when MSH-18 is empty or says so, and strips a BOM', () => {
    const plain = message('');
    expect(decodeHl7(Buffer.from(plain, 'utf8'))).toEqual({ text: plain, charset: '', encoding: 'utf8' });
    const declared = message('UNICODE UTF-8');
    expect(decodeHl7(Buffer.from(declared, 'utf8')).text).toBe(declared);

    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(plain, 'utf8')]);
    expect(decodeHl7(withBom).text).toBe(plain);
  });

  it('takes UTF-8 when there is no MSH-18 field at all', () => {
    const text = 'MSH|^~\\&|HIS|医院|||20240105||ADT^A01|1|P|2.5\rPID|1||X||张三丰\r';
    expect(decodeHl7(Buffer.from(text, 'utf8')).text).toBe(text);
  });

  it('reads MSH-18 from a UTF-8 message whose facility is Chinese', () => {
    const text = message('UNICODE UTF-8', '香港東區醫院');
    expect(decodeHl7(Buffer.from(text, 'utf8')).charset).toBe('UNICODE UTF-8');
  });

  it('decodes an undeclared message that is not UTF-8 as GB18030, or the configured fallback', () => {
    const text = message('');
    const decoded = decodeHl7(iconv.encode(text, 'gbk'));
    expect(decoded).toEqual({ text, charset: '', encoding: 'gb18030', fallbackCharset: 'GB 18030-2000' });

    const latin = 'MSH|^~\\&|HIS|H|||20240105||ADT^A01|1|P|2.5\rPID|1||X||Müller\r';
    expect(decodeHl7(iconv.encode(latin, 'latin1'), { fallbackCharset: '8859/1' }).text).toBe(latin);
  });

  it('refuses a message declared UTF-8 that is not (AE 103), rather than garbling names', () => {
    const err = decodeError(iconv.encode(message('UNICODE UTF-8'), 'gbk'));
    expect(err.hl7Code).toBe('103');
    expect(err.message).toMatch(/not valid UTF-8/);
  });

  it('decodes 8859/1', () => {
    const text = 'MSH|^~\\&|HIS|H|||20240105||ADT^A01|1|P|2.5|||||DEU|8859/1\rPID|1||X||Müller^Jürgen\r';
    const decoded = decodeHl7(iconv.encode(text, 'latin1'));
    expect(decoded.text).toBe(text);
    expect(decoded.encoding).toBe('iso-8859-1');
  });

  it('uses only the first repetition of MSH-18', () => {
    const text = message('GB 18030-2000~UNICODE UTF-8');
    expect(decodeHl7(iconv.encode(text, 'gb18030')).charset).toBe('GB 18030-2000');
  });

  it('refuses a charset it cannot decode, naming it (AE 103 at MSH-18)', () => {
    const err = decodeError(Buffer.from(message('EBCDIC-XYZ'), 'utf8'));
    expect(err.hl7Code).toBe('103');
    expect(err.message).toContain('"EBCDIC-XYZ"');
    expect(err.location).toEqual({ segment: 'MSH', sequence: 1, field: 18 });
  });

  it('refuses UTF-16, which MLLP cannot frame', () => {
    const err = decodeError(Buffer.from(message('UNICODE UTF-16'), 'utf8'));
    expect(err.hl7Code).toBe('103');
    expect(err.message).toMatch(/MLLP/);
  });

  it('decodes hex escapes in the message charset', () => {
    const text = 'MSH|^~\\&|A|B|||||ADT^A01|1|P|2.5|||||CHN|GB 18030-2000\rPID|1||\\XD5C5\\\r';
    const m = Hl7Message.parse(decodeHl7(iconv.encode(text, 'gb18030')).text);
    expect(m.get('PID-3')).toBe('张');
  });
});

describe('encodeHl7', () => {
  it('encodes in the named charset, UTF-8 by default', () => {
    expect(encodeHl7('张三丰', 'GB 18030-2000')).toEqual(iconv.encode('张三丰', 'gb18030'));
    expect(encodeHl7('張', 'GBK')).toEqual(iconv.encode('張', 'gbk'));
    expect(encodeHl7('张三丰', '')).toEqual(Buffer.from('张三丰', 'utf8'));
  });

  it('refuses a charset it cannot encode', () => {
    expect(() => encodeHl7('x', 'KLINGON')).toThrow(Hl7Error);
  });
});
