// Turns the bytes of one HL7 v2 message into text, in the character set its MSH-18
// declares (HL7 table 0211). Chinese hospitals send GB18030 and GBK as often as UTF-8.
//
// Failure modes handled:
//  1. No MSH-18 (or an empty one): UTF-8, which is also right for pure ASCII. Many
//     Chinese HIS/LIS send GBK without declaring it, so undeclared bytes that are not
//     valid UTF-8 are decoded as the fallback charset (GB18030 unless configured).
//     Declared UTF-8 that is not valid UTF-8 is refused (AE 103) rather than stored
//     with replacement characters in place of patient names.
//  2. A UTF-8 byte order mark before MSH: stripped.
//  3. A GBK/GB18030/Big5 name in MSH-3..MSH-17 (e.g. a facility called 東區醫院) whose
//     second bytes are 0x7C "|" or 0x5E "^": a naive byte scan would count those as
//     delimiters and read the wrong field as MSH-18. When MSH is not valid UTF-8 the
//     scan is repeated treating bytes >= 0x81 as double-byte lead bytes.
//  4. A charset the agent cannot decode: an Hl7Error (AE 103) naming it, never a
//     silently garbled message.
//  5. UTF-16/UTF-32: refused, because MLLP's frame bytes 0x0B/0x1C/0x0D occur inside
//     their code units (e.g. U+4E0D 不), so such a message cannot be framed reliably.

import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { Hl7Error, Hl7ErrorCode } from './hl7-errors.js';

/** The result of decoding one message. */
export interface DecodedHl7 {
  /** The message text, without a byte order mark or leading blank lines. */
  text: string;
  /** MSH-18 as the message declared it (first repetition, trimmed), "" when absent. */
  charset: string;
  /** The iconv-lite encoding used to decode, e.g. "utf8", "gb18030". */
  encoding: string;
  /** The fallback charset applied (e.g. "GB 18030-2000") when MSH-18 was empty and the bytes were not UTF-8. */
  fallbackCharset?: string;
}

const CR = 0x0d;
const LF = 0x0a;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** HL7 table 0211 names (and common spellings of them), normalised, to iconv-lite encodings. */
const HL7_CHARSETS: ReadonlyMap<string, string> = new Map([
  ['', 'utf8'],
  ['UNICODEUTF8', 'utf8'],
  ['UTF8', 'utf8'],
  // "UNICODE" alone is ambiguous in the standard; a message whose MSH we could read as
  // ASCII bytes can only be in UTF-8 among the Unicode encodings.
  ['UNICODE', 'utf8'],
  // Senders that say ASCII and then put a name with an accent in a field almost always
  // mean UTF-8; decoding ASCII as UTF-8 changes nothing for true ASCII.
  ['ASCII', 'utf8'],
  ['USASCII', 'utf8'],
  ['ISOIR6', 'utf8'],
  ['GB180302000', 'gb18030'],
  ['GB180302005', 'gb18030'],
  ['GB180302022', 'gb18030'],
  ['GB18030', 'gb18030'],
  ['GBK', 'gbk'],
  ['CP936', 'gbk'],
  // iconv-lite's gb2312 is the GBK superset, which is what "GB2312" senders really emit.
  ['GB2312', 'gb2312'],
  ['GB23121980', 'gb2312'],
  ['BIG5', 'big5'],
  ['KSX1001', 'euc-kr'],
  ['88591', 'iso-8859-1'],
  ['88592', 'iso-8859-2'],
  ['88593', 'iso-8859-3'],
  ['88594', 'iso-8859-4'],
  ['88595', 'iso-8859-5'],
  ['88596', 'iso-8859-6'],
  ['88597', 'iso-8859-7'],
  ['88598', 'iso-8859-8'],
  ['88599', 'iso-8859-9'],
  ['885915', 'iso-8859-15'],
  ['ISOIR100', 'iso-8859-1'],
  ['ISOIR101', 'iso-8859-2'],
  ['ISOIR109', 'iso-8859-3'],
  ['ISOIR110', 'iso-8859-4'],
  ['ISOIR144', 'iso-8859-5'],
  ['ISOIR127', 'iso-8859-6'],
  ['ISOIR126', 'iso-8859-7'],
  ['ISOIR138', 'iso-8859-8'],
  ['ISOIR148', 'iso-8859-9'],
]);

/** Encodings whose second byte may be an ASCII delimiter (see failure mode 3). */
const DOUBLE_BYTE_WITH_ASCII_TRAILS = new Set(['gb18030', 'gbk', 'gb2312', 'big5']);

const WIDE_ENCODING = /^(?:UNICODE)?(?:UTF16|UTF32|UCS2|UCS4|UTF7)/;

function normalise(label: string): string {
  return label.toUpperCase().replace(/[\s\-_/.]/g, '');
}

/**
 * The iconv-lite encoding for an MSH-18 value, or undefined when the agent cannot
 * handle it. Accepts HL7 table 0211 names ("GB 18030-2000", "8859/1", "UNICODE UTF-8")
 * and, for senders that put an IANA name there, any name iconv-lite knows ("cp936").
 */
export function hl7CharsetEncoding(label: string): string | undefined {
  const key = normalise(label.trim());
  if (WIDE_ENCODING.test(key)) return undefined;
  const known = HL7_CHARSETS.get(key);
  if (known !== undefined) return known;
  const iana = label.trim().toLowerCase();
  return iconv.encodingExists(iana) ? iana : undefined;
}

function unsupportedCharset(label: string): Hl7Error {
  const why = WIDE_ENCODING.test(normalise(label))
    ? 'UTF-16/UTF-32 cannot be framed by MLLP; send UTF-8'
    : 'supported: UNICODE UTF-8, GB 18030-2000, GBK, GB2312, BIG-5, ASCII, 8859/1-9';
  return new Hl7Error(Hl7ErrorCode.TABLE_VALUE_NOT_FOUND, `Unsupported character set "${label}" in MSH-18 (${why})`, {
    location: { segment: 'MSH', sequence: 1, field: 18 },
  });
}

/** The charset assumed for a message that declares none and is not valid UTF-8. */
export const DEFAULT_HL7_FALLBACK_CHARSET = 'GB 18030-2000';

/**
 * Decodes one MLLP payload. The text handed on is always a JavaScript string; the
 * store keeps it as UTF-8 whatever the wire charset was.
 *
 * @param options.fallbackCharset MSH-18 value assumed when MSH-18 is empty and the
 *   bytes are not UTF-8; default "GB 18030-2000" (DEFAULT_HL7_FALLBACK_CHARSET).
 * @throws Hl7Error 103 when MSH-18 names a character set the agent cannot decode, or
 *   declares UTF-8 for bytes that are not.
 */
export function decodeHl7(bytes: Buffer, options: { fallbackCharset?: string | undefined } = {}): DecodedHl7 {
  let start = bytes.subarray(0, 3).equals(UTF8_BOM) ? 3 : 0;
  // Senders sometimes put a CR/LF before MSH; the segment parser would skip it anyway.
  while (start < bytes.length && isAsciiSpace(bytes[start]!)) start++;
  const body = bytes.subarray(start);

  const charset = findCharset(body);
  let encoding = hl7CharsetEncoding(charset);
  let applied: string | undefined;
  if (encoding === undefined) throw unsupportedCharset(charset);
  if (encoding === 'utf8' && !isUtf8(body)) {
    if (charset !== '') {
      throw new Hl7Error(Hl7ErrorCode.TABLE_VALUE_NOT_FOUND, `MSH-18 declares "${charset}" but the message is not valid UTF-8; declare its real charset (e.g. GBK)`, {
        location: { segment: 'MSH', sequence: 1, field: 18 },
      });
    }
    const fallback = options.fallbackCharset ?? DEFAULT_HL7_FALLBACK_CHARSET;
    encoding = hl7CharsetEncoding(fallback);
    if (encoding === undefined) throw unsupportedCharset(fallback);
    applied = fallback;
  }
  const text = encoding === 'utf8' ? body.toString('utf8') : iconv.decode(body, encoding);
  return { text, charset, encoding, ...(applied !== undefined ? { fallbackCharset: applied } : {}) };
}

/**
 * Encodes text (an ACK) in the character set named by an MSH-18 value (or an
 * iconv-lite name such as DecodedHl7.encoding), so the sender reads the answer in the
 * charset it spoke. "" means UTF-8.
 *
 * @throws Hl7Error 103 when the charset is not supported.
 */
export function encodeHl7(text: string, charset: string): Buffer {
  const encoding = hl7CharsetEncoding(charset);
  if (encoding === undefined) throw unsupportedCharset(charset);
  return encoding === 'utf8' ? Buffer.from(text, 'utf8') : iconv.encode(text, encoding);
}

function isAsciiSpace(byte: number): boolean {
  return byte === CR || byte === LF || byte === 0x20 || byte === 0x09;
}

/** MSH-18 (first repetition, first component) read from the raw bytes, "" if absent. */
function findCharset(body: Buffer): string {
  // Anything that is not an MSH is the parser's to report (AE 100); decode it as UTF-8.
  if (body.length < 4 || body[0] !== 0x4d || body[1] !== 0x53 || body[2] !== 0x48) return '';
  let end = 0;
  while (end < body.length && body[end] !== CR && body[end] !== LF) end++;
  const msh = body.subarray(0, end);

  const plain = readMsh18(msh, false);
  // UTF-8 never has an ASCII byte inside a multi-byte character, so the plain scan is right.
  if (isUtf8(msh)) return plain;
  const doubleByte = readMsh18(msh, true);
  const encoding = hl7CharsetEncoding(doubleByte);
  if (encoding !== undefined && DOUBLE_BYTE_WITH_ASCII_TRAILS.has(encoding)) return doubleByte;
  return plain;
}

/**
 * Reads MSH-18 from the MSH segment's bytes. With `skipTrailBytes`, a byte >= 0x81 is
 * taken as the lead byte of a two-byte character and the byte after it is never read
 * as a delimiter (GB18030's four-byte characters are two such pairs).
 */
function readMsh18(msh: Buffer, skipTrailBytes: boolean): string {
  const fieldSeparator = msh[3];
  if (fieldSeparator === undefined) return '';
  // MSH-2 is the four encoding characters; an MSH-18 value ends at a repetition or
  // component separator as well as at the next field.
  const component = msh[4];
  const repetition = msh[5];
  let separators = 1; // the one at index 3 is MSH-1 itself
  let valueStart = -1;
  let i = 4;
  while (i < msh.length) {
    const byte = msh[i]!;
    if (skipTrailBytes && byte >= 0x81 && byte !== 0xff) {
      i += 2;
      continue;
    }
    if (valueStart >= 0) {
      if (byte === fieldSeparator || byte === component || byte === repetition) break;
    } else if (byte === fieldSeparator) {
      separators++;
      if (separators === 17) valueStart = i + 1; // MSH-n starts after the (n-1)th separator
    }
    i++;
  }
  if (valueStart < 0) return '';
  return msh.subarray(valueStart, Math.min(i, msh.length)).toString('latin1').trim();
}
