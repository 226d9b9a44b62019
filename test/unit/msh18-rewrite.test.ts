import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { Hl7Message, decodeHl7, needsMsh18Rewrite, rewriteMsh18, STORED_HL7_CHARSET } from '../../agent/hl7/index.js';

// The stored text's MSH-18 must name the charset of the bytes the agent stores (UTF-8).

const gb = (bytes: Buffer): string => iconv.decode(bytes, 'gb18030');
const wireGb = { charset: 'GB 18030-2000', encoding: 'gb18030', decodeBytes: gb };

function msh(charsetField: string, d = '|^~\\&'): string {
  const f = d[0]!;
  const fields = ['MSH', d.slice(1), 'HIS', '北京协和医院', 'WL', 'AGENT', '20240105083000', '', 'ADT^A01', 'C-1', 'P', '2.5', '', '', '', '', 'CHN', charsetField];
  return fields.join(f).replace(/\^/g, d[1]!) + `\rPID${f}1${f}${f}P1${f}${f}张三丰\r`;
}

describe('rewriteMsh18', () => {
  it('replaces a GB 18030-2000 MSH-18 with UNICODE UTF-8 and leaves every other byte', () => {
    const text = msh('GB 18030-2000');
    const out = rewriteMsh18(text, wireGb);
    expect(out).toBe(text.replace('|GB 18030-2000', '|UNICODE UTF-8'));
    const parsed = Hl7Message.parse(out);
    expect(parsed.charset).toBe(STORED_HL7_CHARSET);
    expect(parsed.get('PID-5')).toBe('张三丰');
    expect(parsed.get('MSH-4')).toBe('北京协和医院');
  });

  it('uses the message own delimiters, escaping the value where it holds one', () => {
    // Field "#", component " " (space in UNICODE UTF-8), repetition "-" (hyphen in UTF-8).
    const text = 'MSH# -!&#HIS#H#WL#A#20240105##ADT A01#C-2#P#2.5######GBK\rPID#1##P1##张三\r';
    const out = rewriteMsh18(text, { charset: 'GBK', encoding: 'gbk', decodeBytes: (b) => iconv.decode(b, 'gbk') });
    expect(out.split('\r')[0]!.split('#')[17]).toBe('UNICODE!S!UTF!R!8');
    const plain = 'MSH$^~\\&$HIS$H$WL$A$20240105$$ADT^A01$C-3$P$2.5$$$$$$GBK\r';
    expect(rewriteMsh18(plain, { charset: 'GBK', encoding: 'gbk' }).split('$')[17]).toBe('UNICODE UTF-8\r');
  });

  it('re-encodes hex escapes from the wire charset to UTF-8, and never reads MSH-2 as one', () => {
    const zhongGb = iconv.encode('中', 'gb18030').toString('hex').toUpperCase();
    const text = `${msh('GB 18030-2000')}NTE|1||\\X${zhongGb}\\ and \\H\\bold\\N\\\r`;
    const out = rewriteMsh18(text, wireGb);
    expect(out).toContain('NTE|1||\\XE4B8AD\\ and \\H\\bold\\N\\');
    expect(out.startsWith('MSH|^~\\&|HIS|')).toBe(true);
    // A hex escape in a message already in UTF-8 is left alone.
    const utf8 = `${msh('UNICODE UTF-8')}NTE|1||\\XE4B8AD\\\r`;
    expect(rewriteMsh18(utf8, { charset: 'UNICODE UTF-8', encoding: 'utf8' })).toBe(utf8);
  });

  it('replaces a repeated MSH-18 or one with components as a whole field', () => {
    const repeated = msh('ASCII~GB 18030-2000');
    expect(rewriteMsh18(repeated, { ...wireGb, charset: 'ASCII' }).split('\r')[0]!.split('|')[17]).toBe('UNICODE UTF-8');
    const withComponents = msh('GB 18030-2000^X');
    const out = rewriteMsh18(`${withComponents.split('\r')[0]}|2.5.1\r`, wireGb);
    expect(out.split('\r')[0]!.split('|').slice(17)).toEqual(['UNICODE UTF-8', '2.5.1']);
  });

  it('adds empty fields up to MSH-18 when the MSH is shorter', () => {
    const short = 'MSH|^~\\&|HIS|H|WL|A|20240105||ADT^A01|C-4|P|2.5\rPID|1||P1||张三\r';
    const out = rewriteMsh18(short, { charset: '', encoding: 'gb18030', decodeBytes: gb });
    expect(out.split('\r')[0]).toBe('MSH|^~\\&|HIS|H|WL|A|20240105||ADT^A01|C-4|P|2.5||||||UNICODE UTF-8');
    expect(Hl7Message.parse(out).get('MSH-12')).toBe('2.5');
    expect(Hl7Message.parse(out).charset).toBe('UNICODE UTF-8');
  });

  it('leaves a message already in UNICODE UTF-8, and pure ASCII declaring nothing or ASCII', () => {
    const utf8 = msh('UNICODE UTF-8');
    expect(rewriteMsh18(utf8, { charset: 'UNICODE UTF-8', encoding: 'utf8' })).toBe(utf8);
    const ascii = 'MSH|^~\\&|HIS|H|WL|A|20240105||ADT^A01|C-5|P|2.5\rPID|1||P1||Zhang^San\r';
    expect(rewriteMsh18(ascii, { charset: '', encoding: 'utf8' })).toBe(ascii);
    const declaredAscii = ascii.replace('|2.5', '|2.5||||||ASCII');
    expect(rewriteMsh18(declaredAscii, { charset: 'ASCII', encoding: 'utf8' })).toBe(declaredAscii);
    expect(needsMsh18Rewrite({ charset: '', encoding: 'utf8' })).toBe(false);
  });

  it('leaves text that arrived as UTF-8 byte for byte, declared or not: the vendor gets what the sender sent', () => {
    const undeclared = 'MSH|^~\\&|HIS|H|WL|A|20240105||ADT^A01|C-6|P|2.5\rPID|1||P1||Müller\r';
    expect(rewriteMsh18(undeclared, { charset: '', encoding: 'utf8' })).toBe(undeclared);
    expect(rewriteMsh18(msh('UTF-8'), { charset: 'UTF-8', encoding: 'utf8' })).toBe(msh('UTF-8'));
  });

  it('leaves a text that is not an MSH-first message to the parser', () => {
    expect(rewriteMsh18('PID|1||X\r', wireGb)).toBe('PID|1||X\r');
  });

  it('round-trips a decoded GB18030 wire message', () => {
    const text = msh('GB 18030-2000');
    const decoded = decodeHl7(iconv.encode(text, 'gb18030'));
    const stored = Buffer.from(rewriteMsh18(decoded.text, { ...decoded, decodeBytes: gb }), 'utf8');
    expect(Hl7Message.parse(stored.toString('utf8')).get('PID-5')).toBe('张三丰');
  });
});
